"""Airflow imports for 2.9+ and 3.x in one place (Airflow 3 moved the authoring API to
``airflow.sdk``). Importing this module without Airflow raises ImportError."""

from __future__ import annotations

from typing import Any, Optional

try:  # Airflow 3.x
    from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator
except ImportError:  # Airflow 2.9 / 2.10
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]

try:  # Airflow 3.1+
    from airflow.sdk import BaseHook
except ImportError:
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

try:  # Airflow 3.x
    from airflow.sdk.execution_time.xcom import XCom
except ImportError:
    from airflow.models.xcom import XCom  # type: ignore[no-redef]

try:
    from airflow.sensors.base import PokeReturnValue
except ImportError:  # Airflow 3.x
    from airflow.sdk import PokeReturnValue  # type: ignore[no-redef]

from airflow.exceptions import AirflowException
from airflow.triggers.base import BaseTrigger, TriggerEvent

try:
    from airflow.exceptions import AirflowProviderDeprecationWarning
except ImportError:  # pragma: no cover
    AirflowProviderDeprecationWarning = DeprecationWarning  # type: ignore[misc,assignment]


def triggerer_calls_on_kill() -> bool:
    """Airflow 3.3+ calls ``BaseTrigger.on_kill()`` when a user ends a deferred task; earlier
    versions only cancel the trigger's asyncio task."""
    return callable(getattr(BaseTrigger, "on_kill", None))


def read_task_instance_state(ti: Any) -> Optional[str]:
    """The current state of the task instance a trigger runs for (blocking: call it off the event
    loop). ``"none"`` for a cleared task instance (no state), ``"missing"`` when it is gone.

    Airflow 3 triggers have no database access: the task SDK asks the supervisor
    (``RuntimeTaskInstance.get_task_states``, answered by the triggerer's supervisor through
    ``GetTaskStates``), keyed ``{run_id: {task_id: state}}`` (``task_id_mapindex`` for a mapped
    task instance). Airflow 2 triggers read the metadata database."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    except ImportError:
        RuntimeTaskInstance = None  # type: ignore[assignment,misc]
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else map_index
    if RuntimeTaskInstance is not None:
        states = RuntimeTaskInstance.get_task_states(
            dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=map_index
        )
        per_run = (states or {}).get(ti.run_id) or {}
        for key in (f"{ti.task_id}_{map_index}", ti.task_id) if map_index >= 0 else (ti.task_id,):
            if key in per_run:
                return _state_name(per_run[key])
        return "missing"
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == ti.dag_id,
                TaskInstance.task_id == ti.task_id,
                TaskInstance.run_id == ti.run_id,
                TaskInstance.map_index == map_index,
            )
        ).first()
    return "missing" if row is None else _state_name(row[0])


def _state_name(state: Any) -> str:
    if state is None:
        return "none"
    return str(getattr(state, "value", state)).lower()


__all__ = [
    "AirflowException",
    "AirflowProviderDeprecationWarning",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "PokeReturnValue",
    "TriggerEvent",
    "XCom",
    "read_task_instance_state",
    "triggerer_calls_on_kill",
]
