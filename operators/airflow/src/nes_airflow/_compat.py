"""Airflow imports for 2.9+ and 3.x in one place (Airflow 3 moved the authoring API to
``airflow.sdk``). Importing this module without Airflow raises ImportError."""

from __future__ import annotations

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

__all__ = [
    "AirflowException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "PokeReturnValue",
    "TriggerEvent",
    "XCom",
]
