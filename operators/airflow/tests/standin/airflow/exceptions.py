class AirflowException(Exception):
    pass


class AirflowProviderDeprecationWarning(DeprecationWarning):
    pass


class TaskDeferred(BaseException):
    """As in airflow/exceptions.py: raised by BaseOperator.defer, caught by the task runner."""

    def __init__(self, *, trigger, method_name, kwargs=None, timeout=None):
        super().__init__()
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = kwargs
        self.timeout = timeout
