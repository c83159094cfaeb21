"""NesRunTrigger: waits for a NES run in the triggerer, yielding exactly one event.

When Airflow stops the trigger, the NES run is cancelled only if the task instance no longer
waits for it (``cancel_on_kill``, set by NesOperator):

- Airflow 3.3+ calls ``BaseTrigger.on_kill()`` when a user ends the deferred task (marks it failed
  or success, clears it): ``on_kill`` cancels the run.
- Airflow 2.9 - 3.2 only cancel the trigger's asyncio task, the same way they do when the
  triggerer shuts down or hands the trigger to another triggerer, and never call the operator's
  ``on_kill``. The trigger then reads the task instance's state (off the event loop) and cancels
  the run unless the task is still ``deferred``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Optional

from .._compat import BaseTrigger, TriggerEvent, read_task_instance_state, triggerer_calls_on_kill
from ..core import TRIGGER_CLASSPATH, RunPoller, cancel_after_trigger_stopped, run_off_loop


class NesRunTrigger(BaseTrigger):
    def __init__(
        self,
        run_id: str,
        nes_conn_id: str = "nes_default",
        poll_interval: float = 10.0,
        deadline: Optional[float] = None,
        max_consecutive_errors: int = 5,
        cancel_on_kill: bool = False,
    ):
        super().__init__()
        self.poller = RunPoller(
            run_id=run_id,
            nes_conn_id=nes_conn_id,
            poll_interval=poll_interval,
            deadline=deadline,
            max_consecutive_errors=max_consecutive_errors,
            cancel_on_kill=cancel_on_kill,
        )
        self._fired = False

    def serialize(self) -> tuple:
        return TRIGGER_CLASSPATH, self.poller.serialize_kwargs()

    def _client(self) -> Any:
        """Blocking (reads the Airflow connection): only ever called through ``run_off_loop``."""
        from ..hooks.nes import NesHook

        return NesHook(nes_conn_id=self.poller.nes_conn_id).get_async_conn()

    async def _task_gone(self) -> bool:
        """After a cancellation on Airflow < 3.3: is the task instance still deferred?"""
        if triggerer_calls_on_kill() or self._fired:
            return False  # on_kill handles user kills there; a fired event needs nothing
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return False
        state = await run_off_loop(read_task_instance_state, ti)
        self.log.info("NES trigger stopped; task instance state is %s", state)
        return cancel_after_trigger_stopped(state)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for event in self.poller.events(self._client, on_cancel=self._task_gone, log=self.log):
            self._fired = True
            yield TriggerEvent(event)

    async def on_kill(self) -> None:
        """Airflow 3.3+: a user ended the deferred task (not the triggerer stopping)."""
        if not self.poller.cancel_on_kill or self._fired:
            return
        try:
            client = await run_off_loop(self._client)
            try:
                self.log.info("Cancelling NES run %s: its task was ended while deferred", self.poller.run_id)
                await client.cancel(self.poller.run_id)
            finally:
                await client.aclose()
        except Exception as exc:
            self.log.warning("Could not cancel NES run %s: %s: %s", self.poller.run_id, type(exc).__name__, exc)
