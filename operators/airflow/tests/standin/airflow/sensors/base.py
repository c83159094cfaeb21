from airflow.models.baseoperator import BaseOperator


class PokeReturnValue:
    def __init__(self, is_done, xcom_value=None):
        self.is_done = is_done
        self.xcom_value = xcom_value


class BaseSensorOperator(BaseOperator):
    def __init__(self, *, poke_interval=60, timeout=7 * 24 * 3600, mode="poke", **kwargs):
        super().__init__(**kwargs)
        self.poke_interval = poke_interval
        self.timeout = timeout
        self.mode = mode

    def execute(self, context):
        result = self.poke(context)
        return result.xcom_value if isinstance(result, PokeReturnValue) else result
