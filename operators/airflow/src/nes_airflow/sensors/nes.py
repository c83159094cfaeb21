"""NesRunSensor: waits for a NES run started elsewhere (by id)."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Sequence

from .._compat import BaseSensorOperator, PokeReturnValue
from ..core import complete, sensor_poke
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
        return complete(event)
