"""What the Airflow classes do, without Airflow: labels, reattach-or-submit, waiting, the trigger's
polling and the one mapping from a finished run to a result or an exception.

The operator, trigger and sensor modules only adapt these to Airflow's base classes, so every
decision here is tested without Airflow installed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping, Optional

from .client import LIVE_STATUSES, TERMINAL_STATUSES, AsyncNesClient, NesClient, NesError

XCOM_RUN_ID = "nes_run_id"
XCOM_VIEWER_URL = "nes_viewer_url"
LABEL_PREFIX = "airflow."
TRIGGER_CLASSPATH = "nes_airflow.triggers.nes.NesRunTrigger"

_log = logging.getLogger("nes_airflow")


# ---------------------------------------------------------------------------------------------
# Failures


class NesRunFailedError(Exception):
    """A run ended without succeeding. Carries the run id, the failure class, the error and the
    link to the run in the viewer."""

    def __init__(self, run_id: str, status: str, failure_class: Optional[str], error: Optional[dict], link: Optional[str]):
        self.run_id = run_id
        self.status = status
        self.failure_class = failure_class
        self.error = error
        self.link = link
        detail = ""
        if error:
            ename, evalue = error.get("ename") or "", error.get("evalue") or ""
            detail = f": {ename}: {evalue}" if ename or evalue else ""
            # The cell as its author counts it (what the viewer and the nes CLI say); a service
            # older than that number sent only the index in the output notebook.
            if error.get("cellNumber") is not None:
                detail += f" (cell {error['cellNumber']})"
            elif error.get("cellIndex") is not None:
                detail += f" (output cell index {error['cellIndex']})"
        super().__init__(
            f"NES run {run_id} {status}" + (f" [{failure_class}]" if failure_class else "") + detail
            + (f"; see {link}" if link else "")
        )


class NesRunTimeoutError(NesRunFailedError):
    """The run timed out (NES's timeout) or the wait for it passed its deadline."""


class NesRunCancelledError(NesRunFailedError):
    """The run was cancelled: never a success."""


class NesWaitError(Exception):
    """Waiting for a run failed (the API unreachable after retries, the run gone)."""

    def __init__(self, run_id: str, message: str, link: Optional[str] = None):
        super().__init__(f"waiting for NES run {run_id} failed: {message}" + (f"; see {link}" if link else ""))
        self.run_id = run_id
        self.link = link


# ---------------------------------------------------------------------------------------------
# Labels, keys, parameters

_KEY_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")
MAX_LABEL_VALUE = 256


def _label_value(value: Any) -> str:
    text = str(value)
    if len(text) <= MAX_LABEL_VALUE:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: MAX_LABEL_VALUE - 17]}~{digest}"


def task_labels(dag_id: str, task_id: str, run_id: str, map_index: Optional[int] = None) -> dict:
    """The labels that name one task instance (all tries of it): what reattach looks for."""
    return {
        f"{LABEL_PREFIX}dag_id": _label_value(dag_id),
        f"{LABEL_PREFIX}task_id": _label_value(task_id),
        f"{LABEL_PREFIX}run_id": _label_value(run_id),
        f"{LABEL_PREFIX}map_index": str(-1 if map_index is None else map_index),
    }


def merge_labels(user: Optional[Mapping[str, Any]], task: Mapping[str, str]) -> dict:
    """The user's labels plus the task's (the task's win: reattach depends on them)."""
    merged = {}
    for key, value in (user or {}).items():
        if not _KEY_OK.match(str(key)):
            raise ValueError(f"invalid NES label key {key!r}: letters, digits, '.', '_', '/', '-' (up to 63)")
        merged[str(key)] = _label_value(value)
    merged.update(task)
    return merged


def idempotency_key(task: Mapping[str, str], try_number: int) -> str:
    """One key per task instance try: a resent submit of this try replays the same run, while a
    retry after a finished (failed) run submits a new one."""
    material = json.dumps({"labels": dict(sorted(task.items())), "try": int(try_number)}, sort_keys=True)
    return "airflow-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def _json_object(value: Any, what: str) -> Optional[dict]:
    """A templated field that holds a JSON object: a mapping, or its JSON text; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a JSON object, not {type(value).__name__}")
    return dict(value)


def normalize_parameters(parameters: Any) -> dict:
    """Parameters after templating: a dict, or a JSON object as text (``'{{ params | tojson }}'``)."""
    out = _json_object(parameters, "parameters") or {}
    json.dumps(out)  # fails early on values NES cannot receive
    return out


def normalize_resources(resources: Any) -> Optional[dict]:
    """``nes_resources`` after templating: a dict, None, or a JSON object as text."""
    return _json_object(resources, "nes_resources")


# ---------------------------------------------------------------------------------------------
# The one mapping from a finished run to a result


def viewer_url(run: Mapping[str, Any]) -> Optional[str]:
    return (run.get("links") or {}).get("viewer")


def run_result(run: Mapping[str, Any], results: Optional[Mapping[str, Any]] = None) -> dict:
    """The operator's return value for a succeeded run; the dedicated exception otherwise. The
    synchronous path, the deferred path and the sensor all end here. ``results`` is the run's
    ``GET /v1/runs/{id}/results``: its values (``nes.record``, scrapbook glue) and ``nes.exit``
    value go into the XCom as ``results`` and ``exit_value``."""
    status = run.get("status")
    if status == "succeeded":
        exit_ = (results or {}).get("exit")
        return {
            "run_id": run["id"],
            "status": status,
            "output_uri": run.get("outputUri"),
            "viewer_url": viewer_url(run),
            "results": dict((results or {}).get("values") or {}),
            "exit_value": exit_.get("value") if isinstance(exit_, Mapping) else None,
        }
    error = run.get("error")
    failure_class = (error or {}).get("class")
    args = (run["id"], str(status), failure_class, error, viewer_url(run))
    if status == "cancelled" or failure_class == "cancelled":
        raise NesRunCancelledError(*args)
    if status == "timed_out" or failure_class == "timeout":
        raise NesRunTimeoutError(*args[:2], failure_class or "timeout", *args[3:])
    if status in TERMINAL_STATUSES:
        raise NesRunFailedError(*args)
    raise NesWaitError(run["id"], f"run is not finished (status {status})", viewer_url(run))


def finished_result(client: NesClient, run: Mapping[str, Any]) -> dict:
    """``run_result`` of a terminal run, its results fetched when it succeeded."""
    results = client.results(run["id"]) if run.get("status") == "succeeded" else None
    return run_result(run, results)


# Waiting on a result: NesResultSensor's condition, evaluated without Airflow.

RESULT_OPERATORS: dict = {
    "exists": lambda value, _expected: True,
    "truthy": lambda value, _expected: bool(value),
    "==": lambda value, expected: value == expected,
    "!=": lambda value, expected: value != expected,
    ">": lambda value, expected: value > expected,
    ">=": lambda value, expected: value >= expected,
    "<": lambda value, expected: value < expected,
    "<=": lambda value, expected: value <= expected,
    "in": lambda value, expected: value in expected,
}


def check_result_condition(op: str) -> None:
    if op not in RESULT_OPERATORS:
        raise ValueError(f"unknown result condition {op!r}; expected one of {', '.join(RESULT_OPERATORS)}")


def result_condition_met(values: Mapping[str, Any], name: str, op: str, expected: Any = None) -> bool:
    """Whether result ``name`` exists and satisfies ``op`` against ``expected``. A value of
    another type than ``expected`` (a string compared with a number) does not satisfy it."""
    check_result_condition(op)
    if name not in values:
        return False
    try:
        return bool(RESULT_OPERATORS[op](values[name], expected))
    except TypeError:
        return False


class NesResultConditionError(Exception):
    """The run finished and its result does not satisfy the condition: waiting cannot change it."""


def result_poke(
    client: NesClient,
    *,
    name: str,
    op: str,
    expected: Any = None,
    run_id: Optional[str] = None,
    notebook: Optional[str] = None,
    labels: Optional[Mapping[str, str]] = None,
) -> Optional[dict]:
    """One poke of NesResultSensor: the XCom value when the condition holds, else None.

    With ``run_id``: waits for that run; once it succeeded, its result decides (a result that
    fails the condition raises NesResultConditionError; a failed run raises like the operator).
    With ``notebook`` (and ``labels``): the latest succeeded run of that notebook decides, and a
    later run may still satisfy it, so a miss keeps waiting.
    """
    check_result_condition(op)
    if run_id:
        run = client.get(run_id)
        if run.get("status") not in TERMINAL_STATUSES:
            return None
        result = finished_result(client, run)
        if not result_condition_met(result["results"], name, op, expected):
            raise NesResultConditionError(
                f"NES run {run_id} succeeded but its result {name!r} does not satisfy {op} {expected!r}"
                f" (results: {sorted(result['results'])})"
            )
        return result
    if not notebook:
        raise ValueError("NesResultSensor needs run_id or notebook")
    runs = client.list(status=["succeeded"], notebook=notebook, labels=labels, limit=1).get("runs") or []
    if not runs:
        return None
    result = finished_result(client, runs[0])
    return result if result_condition_met(result["results"], name, op, expected) else None


# ---------------------------------------------------------------------------------------------
# Starting: reattach or submit


@dataclass
class SubmitSpec:
    notebook: str
    ref: Optional[str] = None
    parameters: Optional[Mapping[str, Any]] = None
    kernel: Optional[str] = None
    labels: Optional[Mapping[str, Any]] = None
    timeout_seconds: Optional[int] = None
    resources: Optional[Mapping[str, Any]] = None
    image: Optional[str] = None
    queue: Optional[str] = None
    allow_unknown_parameters: bool = False


def find_live_run(client: NesClient, labels: Mapping[str, str]) -> Optional[dict]:
    """The newest queued/starting/running run carrying these labels, if any."""
    page = client.list(labels=labels, status=list(LIVE_STATUSES), limit=10)
    runs = page.get("runs") or []
    return runs[0] if runs else None


SUBMITTED, REPLAYED, REATTACHED = "submitted", "replayed", "reattached"


def start_run(
    client: NesClient,
    spec: SubmitSpec,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: Optional[int],
    try_number: int,
) -> tuple:
    """Reattach to a live run of this task instance, else submit one. Returns ``(run, outcome)``:
    ``"reattached"`` (a live run of an earlier try), ``"submitted"`` (NES created the run now) or
    ``"replayed"`` (NES answered with the run an earlier submit of this try created: the same
    Idempotency-Key, so nothing new runs)."""
    task = task_labels(dag_id, task_id, run_id, map_index)
    live = find_live_run(client, task)
    if live is not None:
        return live, REATTACHED
    run, created = client.create_run(
        spec.notebook,
        idempotency_key=idempotency_key(task, try_number),
        ref=spec.ref,
        parameters=normalize_parameters(spec.parameters),
        kernel=spec.kernel,
        labels=merge_labels(spec.labels, task),
        timeout_seconds=spec.timeout_seconds,
        resources=spec.resources,
        image=spec.image,
        queue=spec.queue,
        allow_unknown_parameters=spec.allow_unknown_parameters,
    )
    return run, SUBMITTED if created else REPLAYED


def start_message(run: Mapping[str, Any], outcome: str) -> str:
    """The operator's log line: "Submitted" only when this call created the run."""
    link = viewer_url(run) or ""
    if outcome == SUBMITTED:
        return f"Submitted NES run {run['id']}: {link}"
    if outcome == REPLAYED:
        return (
            f"NES run {run['id']} was already submitted for this try (idempotent replay, nothing new "
            f"submitted): {link}"
        )
    return f"Reattached to live NES run {run['id']} of an earlier try: {link}"


# ---------------------------------------------------------------------------------------------
# Resources: NES's per-run requests versus Airflow's own ``resources`` argument

AIRFLOW_RESOURCE_KEYS = frozenset({"cpus", "ram", "disk", "gpus"})
RESOURCES_RENAMED = (
    "NesOperator(resources=...) for the NES run's resources is deprecated: `resources` is an "
    "argument BaseOperator reserves (Airflow's scheduler refuses to serialize a DAG that templates "
    "it). Use nes_resources=... instead."
)


def split_resources(resources: Any, nes_resources: Any) -> tuple:
    """The deprecation path of the renamed argument: returns ``(airflow_resources, nes_resources,
    deprecated)``. A ``resources`` mapping made only of Airflow's keys (cpus, ram, disk, gpus) or an
    Airflow ``Resources`` object is Airflow's own setting and goes to BaseOperator; anything else
    (``{"cpu": ..., "memory": ...}``, a template string) is the NES run's, as it was before the
    rename."""
    if resources is None:
        return None, nes_resources, False
    airflow_shaped = (
        isinstance(resources, Mapping) and resources and set(map(str, resources)) <= AIRFLOW_RESOURCE_KEYS
    ) or all(hasattr(resources, key) for key in ("cpus", "ram", "disk", "gpus"))
    if airflow_shaped:
        return resources, nes_resources, False
    if nes_resources is not None:
        raise ValueError("give the NES run's resources once, as nes_resources (resources is deprecated)")
    return None, resources, True


# ---------------------------------------------------------------------------------------------
# Waiting


def wait_for_run(
    client: NesClient,
    run_id: str,
    *,
    poll_interval: float = 5.0,
    deadline: Optional[float] = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> dict:
    """Poll until the run is terminal; returns the run. Past ``deadline`` (epoch seconds) the run
    is cancelled and NesRunTimeoutError raised."""
    while True:
        try:
            run = client.get(run_id)
        except NesError as exc:
            raise NesWaitError(run_id, str(exc)) from None
        if run.get("status") in TERMINAL_STATUSES:
            return run
        if deadline is not None and clock() >= deadline:
            try:
                client.cancel(run_id)
            except NesError:
                pass
            raise NesRunTimeoutError(run_id, str(run.get("status")), "timeout", None, viewer_url(run))
        sleep(poll_interval)


def terminal_event(run: Mapping[str, Any]) -> dict:
    return {"status": "terminal", "run_id": run["id"], "run": dict(run)}


def error_event(run_id: str, kind: str, message: str, link: Optional[str] = None) -> dict:
    return {"status": "error", "run_id": run_id, "kind": kind, "message": message, "link": link}


def complete(
    event: Mapping[str, Any],
    cancel: Optional[Callable[[str], Any]] = None,
    client: Optional[NesClient] = None,
) -> dict:
    """``execute_complete``: the trigger's event mapped exactly like the synchronous path (with
    ``client``, a succeeded run's results are fetched for the XCom)."""
    if not isinstance(event, Mapping) or "status" not in event:
        raise NesWaitError("?", f"unexpected trigger event {event!r}")
    if event["status"] == "terminal":
        if client is not None:
            return finished_result(client, event["run"])
        return run_result(event["run"])
    run_id = str(event.get("run_id"))
    if event.get("kind") == "wait_timeout":
        if cancel is not None:
            try:
                cancel(run_id)
            except NesError:
                pass
        raise NesRunTimeoutError(run_id, "running", "timeout", None, event.get("link"))
    raise NesWaitError(run_id, str(event.get("message")), event.get("link"))


async def run_off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking code (a connection lookup, a database or supervisor call) without blocking the
    event loop. asgiref's ``sync_to_async`` where it is installed (Airflow depends on it): inside
    Airflow 3's triggerer, task-SDK calls such as ``BaseHook.get_connection`` talk to the
    supervisor through ``async_to_sync``, which works only from a thread ``sync_to_async`` started
    (airflow-core jobs/triggerer_job_runner.py, ``TriggerCommsDecoder.send`` and
    ``TriggerRunner.init_comms``). A plain worker thread otherwise."""
    try:
        from asgiref.sync import sync_to_async
    except ImportError:  # pragma: no cover - Airflow always brings asgiref
        return await asyncio.to_thread(fn, *args)
    return await sync_to_async(fn)(*args)


TI_DEFERRED = "deferred"


def cancel_after_trigger_stopped(task_state: Optional[str]) -> bool:
    """Whether a trigger that Airflow stopped should cancel its NES run, given the task instance's
    state read after the stop. Still ``deferred``: the triggerer itself is stopping or handing the
    trigger to another triggerer, and the task will go on waiting: keep the run. Anything else
    (failed, success, up_for_retry, cleared to none/scheduled/restarting, or the task instance
    gone): a user ended the task while it waited: cancel. An unknown state (the lookup failed) keeps
    the run: cancelling a run the task still waits for would fail it."""
    if task_state is None:
        return False
    return str(task_state).lower() != TI_DEFERRED


@dataclass
class RunPoller:
    """The trigger without Airflow: serializable arguments and an async generator that yields
    exactly one terminal event (a dict) on every path. It holds a connection id, never a token:
    trigger arguments are stored in Airflow's database. The client is made off the event loop (the
    connection lookup blocks). A cancellation of the poller itself (the triggerer stopping it)
    propagates without an event; before it does, ``on_cancel`` decides whether the run is
    cancelled too (``cancel_on_kill``)."""

    run_id: str
    nes_conn_id: str = "nes_default"
    poll_interval: float = 5.0
    deadline: Optional[float] = None
    max_consecutive_errors: int = 5
    cancel_on_kill: bool = False

    def serialize_kwargs(self) -> dict:
        return {
            "run_id": self.run_id,
            "nes_conn_id": self.nes_conn_id,
            "poll_interval": self.poll_interval,
            "deadline": self.deadline,
            "max_consecutive_errors": self.max_consecutive_errors,
            "cancel_on_kill": self.cancel_on_kill,
        }

    async def events(
        self,
        client_factory: Callable[[], AsyncNesClient],
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        offload: Callable[..., Any] = run_off_loop,
        on_cancel: Optional[Callable[[], Any]] = None,
        log: Optional[logging.Logger] = None,
    ) -> AsyncIterator[dict]:
        log = log or _log
        event = None
        try:
            client = await offload(client_factory)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # bad URL, unknown connection and the like
            yield error_event(self.run_id, "client", f"{type(exc).__name__}: {exc}")
            return
        try:
            errors, link = 0, None
            while event is None:
                try:
                    run = await client.get(self.run_id)
                    errors = 0
                    link = viewer_url(run) or link
                    if run.get("status") in TERMINAL_STATUSES:
                        event = terminal_event(run)
                        break
                except NesError as exc:
                    errors += 1
                    status = getattr(exc, "status", None)
                    if status == 404 or errors >= self.max_consecutive_errors:
                        event = error_event(self.run_id, "api", str(exc), link)
                        break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # never leave the trigger without an event
                    event = error_event(self.run_id, "internal", f"{type(exc).__name__}: {exc}", link)
                    break
                if self.deadline is not None and clock() >= self.deadline:
                    event = error_event(self.run_id, "wait_timeout", "the wait passed its deadline", link)
                    break
                await sleep(self.poll_interval)
        except asyncio.CancelledError:
            await self._after_cancel(client, on_cancel, log)
            raise
        finally:
            close = getattr(client, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    pass
        yield event

    async def _after_cancel(self, client: Any, on_cancel: Optional[Callable[[], Any]], log: logging.Logger) -> None:
        """The poller was cancelled: cancel the NES run when ``on_cancel`` says the task is gone."""
        if not self.cancel_on_kill or on_cancel is None:
            return
        try:
            if not await on_cancel():
                return
            log.info("Cancelling NES run %s: its task instance no longer waits for it", self.run_id)
            await client.cancel(self.run_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the cancellation itself must still propagate
            log.warning("Could not cancel NES run %s: %s: %s", self.run_id, type(exc).__name__, exc)


def sensor_poke(client: NesClient, run_id: str) -> Optional[dict]:
    """One poke: None while the run goes on; the result when it succeeded; raises otherwise."""
    run = client.get(run_id)
    if run.get("status") not in TERMINAL_STATUSES:
        return None
    return finished_result(client, run)


# ---------------------------------------------------------------------------------------------
# Connections


def url_from_connection(host: Optional[str], port: Optional[int] = None, schema: Optional[str] = None) -> str:
    """An Airflow connection's fields as the NES base URL. ``host`` may be a full URL."""
    if not host:
        raise ValueError("the NES connection has no host")
    host = host.strip().rstrip("/")
    if "://" in host:
        base = host
    else:
        base = f"{schema or 'http'}://{host}"
    if port and not re.search(r":\d+$", base.split("://", 1)[1].split("/", 1)[0]):
        scheme, rest = base.split("://", 1)
        hostpart, _, path = rest.partition("/")
        base = f"{scheme}://{hostpart}:{port}" + (f"/{path}" if path else "")
    return base


# ---------------------------------------------------------------------------------------------
# Schedules owned by NES


class NesScheduleDateFailedError(Exception):
    """A NES schedule's logical date ended without success (and the sensor was told to fail)."""


#: States of a logical date after which only a rerun (a backfill, a push fix) can bring success.
SCHEDULE_DATE_FAILED = ("failed", "precondition_timed_out", "cancelled")


def schedule_date_poke(
    client: NesClient, schedule: str, logical_date: str, fail_on_failure: bool = False
) -> Optional[dict]:
    """One poke of a NES schedule's logical date: the date's result once it succeeded, None while
    it is missing, waiting, queued, running, invalidated or (unless ``fail_on_failure``) failed:
    NES may still rerun it (a backfill, or a push that fixes the notebook)."""
    answer = client.schedule_dates(schedule, logical_date, logical_date)
    wanted = _instant(logical_date)
    date = next((d for d in answer.get("dates", []) if _instant(d.get("logicalDate", "")) == wanted), None)
    state = date.get("state") if date else "missing"
    if state == "succeeded":
        return {
            "schedule": schedule,
            "logical_date": date["logicalDate"],
            "state": state,
            "run_id": date.get("runId"),
            "commit_sha": date.get("commitSha"),
        }
    if fail_on_failure and state in SCHEDULE_DATE_FAILED:
        reason = f": {date.get('reason')}" if date and date.get("reason") else ""
        raise NesScheduleDateFailedError(f"NES schedule {schedule} logical date {logical_date} is {state}{reason}")
    return None


def _instant(text: str) -> Optional[float]:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
