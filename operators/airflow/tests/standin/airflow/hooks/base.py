import time
from types import SimpleNamespace


class BaseHook:
    """``get_connection`` over connections the tests register; ``lookup_seconds`` makes it as slow
    as a secrets backend or Airflow 3's supervisor round trip."""

    connections: dict = {}
    lookup_seconds = 0.0

    def __init__(self, **kwargs):
        pass

    @classmethod
    def get_connection(cls, conn_id):
        if cls.lookup_seconds:
            time.sleep(cls.lookup_seconds)
        try:
            fields = cls.connections[conn_id]
        except KeyError:
            raise KeyError(f"The conn_id `{conn_id}` isn't defined") from None
        return SimpleNamespace(**{"host": None, "port": None, "schema": None, "password": None, **fields})
