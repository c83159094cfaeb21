"""Sensors: NesRunSensor waits for a NES run started elsewhere (by id); NesResultSensor for a
result; NesScheduleSensor for a logical date of a schedule NES owns."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Sequence

from .._compat import BaseSensorOperator, PokeReturnValue
from ..core import check_result_condition, complete, result_poke, schedule_date_poke, sensor_poke
from ..hooks.nes import NesHook
from ..triggers.nes import NesRunTrigger


class NesRunSensor(BaseSensorOperator):
    """Succeeds when the run succeeds (XCom: ``{run_id, status, output_uri, viewer_url}``); a
    failed, timed-out or cancelled run fails the sensor with the operator's exception types."""

    template_fields: Sequence[str] = ("run_id",)

    def __init__(
        self,
        *,
        run_id: str,
        nes_conn_id: str = NesHook.default_conn_name,
        deferrable: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.run_id = run_id
        self.nes_conn_id = nes_conn_id
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        deadline: Optional[float] = None
        timeout = getattr(self, "timeout", None)
        if timeout:
            deadline = time.time() + float(timeout)
        self.defer(
            trigger=NesRunTrigger(
                run_id=self.run_id, nes_conn_id=self.nes_conn_id, poll_interval=self.poke_interval, deadline=deadline
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> Any:
        result = sensor_poke(NesHook(nes_conn_id=self.nes_conn_id).get_conn(), self.run_id)
        if result is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=result)

    def execute_complete(self, context: Any, event: Mapping[str, Any]) -> dict:
        # The sensor watches a run it did not start: a wait timeout does not cancel it.
        return complete(event, client=NesHook(nes_conn_id=self.nes_conn_id).get_conn())


class NesResultSensor(BaseSensorOperator):
    """Waits until a NES result satisfies a condition: ``result`` (a name the notebook
    recorded with ``nes.record`` or scrapbook's ``glue``), ``condition`` (``exists``, ``truthy``,
    ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``in``) and ``value``.

    With ``run_id``, the result of that run once it succeeded (a miss then fails the sensor: the
    run cannot change). With ``notebook`` (and optional ``labels``), the latest succeeded run of
    that notebook: a miss keeps waiting for a later run. XCom: the operator's return value.
    """

    template_fields: Sequence[str] = ("run_id", "notebook", "result", "value", "labels")

    def __init__(
        self,
        *,
        result: str,
        condition: str = "exists",
        value: Any = None,
        run_id: Optional[str] = None,
        notebook: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        nes_conn_id: str = NesHook.default_conn_name,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        check_result_condition(condition)
        if not run_id and not notebook:
            raise ValueError("NesResultSensor needs run_id or notebook")
        self.result = result
        self.condition = condition
        self.value = value
        self.run_id = run_id
        self.notebook = notebook
        self.labels = dict(labels) if labels else None
        self.nes_conn_id = nes_conn_id

    def poke(self, context: Any) -> Any:
        found = result_poke(
            NesHook(nes_conn_id=self.nes_conn_id).get_conn(),
            name=self.result,
            op=self.condition,
            expected=self.value,
            run_id=self.run_id,
            notebook=self.notebook,
            labels=self.labels,
        )
        if found is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=found)


class NesScheduleSensor(BaseSensorOperator):
    """Waits until a NES schedule's logical date succeeded: NES owns the schedule (its cron,
    catch-up, preconditions, reruns) and the DAG waits on the same logical date. ``logical_date``
    defaults to the DAG run's ``{{ data_interval_start }}``, which is the NES logical date when
    the DAG's schedule matches NES's. XCom: ``{schedule, logical_date, state, run_id, commit_sha}``.

    A failed date keeps the sensor waiting by default (NES may rerun it: a backfill, or a push
    that fixes the notebook); ``fail_on_failure=True`` fails the sensor at once instead.
    """

    template_fields: Sequence[str] = ("schedule", "logical_date")

    def __init__(
        self,
        *,
        schedule: str,
        logical_date: str = "{{ data_interval_start }}",
        fail_on_failure: bool = False,
        nes_conn_id: str = NesHook.default_conn_name,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.schedule = schedule
        self.logical_date = logical_date
        self.fail_on_failure = fail_on_failure
        self.nes_conn_id = nes_conn_id

    def poke(self, context: Any) -> Any:
        found = schedule_date_poke(
            NesHook(nes_conn_id=self.nes_conn_id).get_conn(),
            self.schedule,
            str(self.logical_date),
            self.fail_on_failure,
        )
        if found is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=found)
