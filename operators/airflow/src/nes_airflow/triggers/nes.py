"""NesRunTrigger: waits for a NES run in the triggerer, yielding exactly one event."""

from __future__ import annotations

from typing import Any, AsyncIterator, Optional

from .._compat import BaseTrigger, TriggerEvent
from ..core import TRIGGER_CLASSPATH, RunPoller


class NesRunTrigger(BaseTrigger):
    def __init__(
        self,
        run_id: str,
        nes_conn_id: str = "nes_default",
        poll_interval: float = 10.0,
        deadline: Optional[float] = None,
        max_consecutive_errors: int = 5,
    ):
        super().__init__()
        self.poller = RunPoller(
            run_id=run_id,
            nes_conn_id=nes_conn_id,
            poll_interval=poll_interval,
            deadline=deadline,
            max_consecutive_errors=max_consecutive_errors,
        )

    def serialize(self) -> tuple:
        return TRIGGER_CLASSPATH, self.poller.serialize_kwargs()

    def _client(self) -> Any:
        from ..hooks.nes import NesHook

        return NesHook(nes_conn_id=self.poller.nes_conn_id).get_async_conn()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for event in self.poller.events(self._client):
            yield TriggerEvent(event)
