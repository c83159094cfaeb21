import logging


class BaseTrigger:
    def __init__(self, **kwargs):
        self.task_instance = None
        self.trigger_id = None
        self.log = logging.getLogger(f"airflow.triggers.{type(self).__name__}")

    async def cleanup(self):
        pass


class TriggerEvent:
    def __init__(self, payload):
        self.payload = payload

    def __eq__(self, other):
        return isinstance(other, TriggerEvent) and other.payload == self.payload
