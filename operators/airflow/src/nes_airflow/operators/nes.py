"""NesOperator: run a notebook on NES as an Airflow task, never twice for one task instance."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from typing import Any, Mapping, Optional, Sequence

from .._compat import AirflowProviderDeprecationWarning, BaseOperator, BaseOperatorLink, XCom
from ..core import (
    RESOURCES_RENAMED,
    XCOM_RUN_ID,
    XCOM_VIEWER_URL,
    SubmitSpec,
    complete,
    normalize_resources,
    finished_result,
    split_resources,
    start_message,
    start_run,
    viewer_url,
    wait_for_run,
)
from ..hooks.nes import NesHook
from ..triggers.nes import NesRunTrigger


def _default_deferrable() -> bool:
    try:
        from airflow.configuration import conf

        return conf.getboolean("operators", "default_deferrable", fallback=False)
    except Exception:
        return False


def _seconds(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    return int(value)


class NesRunLink(BaseOperatorLink):
    """The run's page in the NES viewer, from the XCom the operator pushes before waiting.

    It needs nothing but ``ti_key``: Airflow 2 calls ``get_link`` on the operator rebuilt from its
    serialized form (only BaseOperator's fields and the template fields survive), after importing
    this class by the path the provider registers ("extra-links"). Airflow 3 never runs link code
    in the API server: it reads the XCom named ``xcom_key``, which is the key the operator pushes the
    URL under, so the link works while the task waits (and the worker's own push of ``get_link``'s
    value at the end of the task writes the same value)."""

    name = "NES run"

    @property
    def xcom_key(self) -> str:
        return XCOM_VIEWER_URL

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(ti_key=ti_key, key=XCOM_VIEWER_URL) or ""


class NesOperator(BaseOperator):
    """Run ``notebook`` (``github://owner/repo/nb.ipynb``, a GitHub blob URL, ``gs://...`` or a
    path under the server's notebook roots) at ``ref`` with ``parameters`` on NES.

    The run carries the labels ``airflow.dag_id``, ``airflow.task_id``, ``airflow.run_id`` and
    ``airflow.map_index``. ``execute`` reattaches to a live run with those labels (a retry after a
    worker died), else submits with an idempotency key derived from them and the try number. The
    run id and viewer URL go to XCom before waiting. Returns ``{run_id, status, output_uri,
    viewer_url}``; a failed, timed-out or cancelled run raises NesRunFailedError /
    NesRunTimeoutError / NesRunCancelledError.

    ``nes_resources`` are the run's resource requests (``resources`` is BaseOperator's; the old
    ``resources={"cpu": ...}`` spelling still reaches the run, with a deprecation warning). With
    ``cancel_on_kill``, ending the task while the run goes on cancels the run, also while deferred
    (see NesRunTrigger).
    """

    # No name here may be a BaseOperator argument: Airflow's scheduler refuses to serialize a DAG
    # whose operator templates one (tests/test_airflow_rules.py).
    template_fields: Sequence[str] = (
        "notebook",
        "ref",
        "parameters",
        "kernel",
        "labels",
        "nes_resources",
        "image",
        "nes_queue",
        "timeout",
    )
    template_fields_renderers = {"parameters": "json", "labels": "json", "nes_resources": "json"}
    ui_color = "#f4a460"
    operator_extra_links = (NesRunLink(),)

    def __init__(
        self,
        *,
        notebook: str,
        ref: Optional[str] = None,
        parameters: Optional[Mapping[str, Any] | str] = None,
        kernel: Optional[str] = None,
        nes_resources: Optional[Mapping[str, Any] | str] = None,
        timeout: Optional[int | dt.timedelta] = None,
        labels: Optional[Mapping[str, str]] = None,
        image: Optional[str] = None,
        nes_queue: Optional[str] = None,
        allow_unknown_parameters: bool = False,
        nes_conn_id: str = NesHook.default_conn_name,
        deferrable: Optional[bool] = None,
        poll_interval: float = 10.0,
        wait_timeout: Optional[int | dt.timedelta] = None,
        cancel_on_kill: bool = True,
        **kwargs: Any,
    ):
        # `resources` belongs to BaseOperator; the NES run's resources were once passed under that
        # name. Airflow-shaped values ({"cpus", "ram", ...}) stay Airflow's; others are the run's.
        airflow_resources, nes_resources, deprecated = split_resources(kwargs.pop("resources", None), nes_resources)
        if deprecated:
            warnings.warn(RESOURCES_RENAMED, AirflowProviderDeprecationWarning, stacklevel=2)
        if airflow_resources is not None:
            kwargs["resources"] = airflow_resources
        super().__init__(**kwargs)
        self.notebook = notebook
        self.ref = ref
        self.parameters = parameters
        self.kernel = kernel
        self.nes_resources = nes_resources
        self.timeout = timeout
        self.labels = labels
        self.image = image
        self.nes_queue = nes_queue
        self.allow_unknown_parameters = allow_unknown_parameters
        self.nes_conn_id = nes_conn_id
        self.deferrable = _default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.cancel_on_kill = cancel_on_kill
        self._nes_run_id: Optional[str] = None

    @property
    def hook(self) -> NesHook:
        return NesHook(nes_conn_id=self.nes_conn_id)

    def _deadline(self) -> Optional[float]:
        seconds = _seconds(self.wait_timeout)
        return None if seconds is None else time.time() + seconds

    def execute(self, context: Any) -> dict:
        ti = context["ti"]
        client = self.hook.get_conn()
        spec = SubmitSpec(
            notebook=self.notebook,
            ref=self.ref,
            parameters=self.parameters,
            kernel=self.kernel,
            labels=self.labels,
            timeout_seconds=_seconds(self.timeout),
            resources=normalize_resources(self.nes_resources),
            image=self.image,
            queue=self.nes_queue,
            allow_unknown_parameters=self.allow_unknown_parameters,
        )
        run, outcome = start_run(
            client,
            spec,
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=context.get("run_id") or ti.run_id,
            map_index=getattr(ti, "map_index", -1),
            try_number=getattr(ti, "try_number", 1) or 1,
        )
        self._nes_run_id = run["id"]
        ti.xcom_push(key=XCOM_RUN_ID, value=run["id"])
        ti.xcom_push(key=XCOM_VIEWER_URL, value=viewer_url(run))
        self.log.info("%s", start_message(run, outcome))

        if run.get("status") in ("succeeded", "failed", "cancelled", "timed_out"):
            return finished_result(client, run)
        if self.deferrable:
            self.defer(
                trigger=NesRunTrigger(
                    run_id=run["id"],
                    nes_conn_id=self.nes_conn_id,
                    poll_interval=self.poll_interval,
                    deadline=self._deadline(),
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
            )
        final = wait_for_run(client, run["id"], poll_interval=self.poll_interval, deadline=self._deadline())
        return finished_result(client, final)

    def execute_complete(self, context: Any, event: Mapping[str, Any]) -> dict:
        return complete(
            event, cancel=lambda run_id: self.hook.get_conn().cancel(run_id), client=self.hook.get_conn()
        )

    def on_kill(self) -> None:
        if self.cancel_on_kill and self._nes_run_id:
            self.log.info("Cancelling NES run %s", self._nes_run_id)
            self.hook.get_conn().cancel(self._nes_run_id)


NesRunNotebookOperator = NesOperator
