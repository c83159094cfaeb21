import inspect
import logging

from airflow.exceptions import AirflowException, TaskDeferred

# BaseOperator.__init__'s parameters (tests/airflow_rules.py, BASEOPERATOR_ARGS).
from airflow_rules import AIRFLOW_RESOURCE_KEYS, BASEOPERATOR_ARGS

_ACCEPTED = BASEOPERATOR_ARGS - {"self", "kwargs"}


class _Meta(type):
    def __call__(cls, *args, **kwargs):
        if args:
            raise AirflowException("Use keyword arguments when initializing operators")
        # _apply_defaults wraps every __init__ of the chain: any parameter of any of them may come
        # from default_args.
        default_args = dict(kwargs.pop("default_args", None) or {})
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if init is None:
                continue
            names = _ACCEPTED if klass.__name__ == "BaseOperator" else {
                name for name, p in inspect.signature(init).parameters.items()
                if p.kind is not p.VAR_KEYWORD and name != "self"
            }
            for name in names:
                if name not in kwargs and name in default_args:
                    kwargs[name] = default_args[name]
        op = super().__call__(**kwargs)
        for field in op.template_fields:  # set_xcomargs_dependencies reads every template field
            getattr(op, field)
        return op


class BaseOperator(metaclass=_Meta):
    template_fields = ()
    template_fields_renderers = {}
    operator_extra_links = ()
    ui_color = "#fff"

    def __init__(self, *, task_id, resources=None, **kwargs):
        unknown = set(kwargs) - _ACCEPTED
        if unknown:
            raise AirflowException(f"Invalid arguments were passed to {type(self).__name__}: {sorted(unknown)}")
        self.task_id = task_id
        if resources is not None and not set(resources) <= AIRFLOW_RESOURCE_KEYS:
            # Resources(**resources) (utils/operator_resources.py) takes cpus, ram, disk, gpus.
            raise TypeError(f"Resources.__init__() got unexpected keyword arguments {sorted(resources)}")
        self.resources = resources
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.log = logging.getLogger(f"airflow.task.operators.{type(self).__name__}")

    def defer(self, *, trigger, method_name, kwargs=None, timeout=None):
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)
