class XCom:
    """``XCom.get_value(ti_key=, key=)`` over an in-memory store the tests fill."""

    store: dict = {}

    @classmethod
    def get_value(cls, *, ti_key, key=None):
        return cls.store.get((ti_key.dag_id, ti_key.task_id, ti_key.run_id, ti_key.map_index, key))
