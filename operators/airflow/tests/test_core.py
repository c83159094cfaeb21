"""Operator, trigger and sensor logic without Airflow: fakes for the client, respx for HTTP."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

import nes_airflow
from nes_airflow.client import AsyncNesClient, NesApiError, NesClient, NesConnectionError, RetryPolicy
from nes_airflow.core import (
    NesRunCancelledError,
    NesRunFailedError,
    NesRunTimeoutError,
    NesWaitError,
    RunPoller,
    SubmitSpec,
    complete,
    error_event,
    idempotency_key,
    merge_labels,
    normalize_parameters,
    run_result,
    start_message,
    start_run,
    task_labels,
    terminal_event,
    url_from_connection,
    wait_for_run,
)

URL = "http://nes.test"
TOKEN = "nes_secret_token_value_123"


def run(status="running", error=None, rid="r1"):
    return {
        "id": rid,
        "status": status,
        "error": error,
        "outputUri": f"file:///store/runs/{rid}/output.ipynb",
        "labels": {},
        "links": {"viewer": f"{URL}/runs/{rid}", "self": f"{URL}/v1/runs/{rid}", "notebook": ""},
    }


class FakeClient:
    """Records calls; ``get`` answers from a script of runs or exceptions."""

    def __init__(self, gets=(), live=()):
        self.gets = list(gets)
        self.live = list(live)
        self.calls = []

    def list(self, **kw):
        self.calls.append(("list", kw))
        return {"runs": self.live, "nextCursor": None}

    created = True

    def create_run(self, notebook, **kw):
        self.calls.append(("submit", notebook, kw))
        return run("queued", rid="new"), self.created

    def results(self, run_id):
        self.calls.append(("results", run_id))
        return {"values": {"rows": 1}, "exit": None}

    def get(self, run_id):
        self.calls.append(("get", run_id))
        item = self.gets.pop(0) if len(self.gets) > 1 else self.gets[0]
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self, run_id):
        self.calls.append(("cancel", run_id))
        return run("cancelled", rid=run_id)


class FakeAsyncClient(FakeClient):
    closed = False

    async def get(self, run_id):  # type: ignore[override]
        return FakeClient.get(self, run_id)

    async def cancel(self, run_id):  # type: ignore[override]
        return FakeClient.cancel(self, run_id)

    async def aclose(self):
        self.closed = True


async def _no_sleep(_s):
    return None


def collect(poller, client, **kw):
    async def go():
        return [e async for e in poller.events(lambda: client, sleep=_no_sleep, **kw)]

    return asyncio.run(go())


# --- provider metadata ------------------------------------------------------------------------


def test_provider_info_registers_connection_type_and_extra_link():
    info = nes_airflow.get_provider_info()
    assert info["package-name"] == "airflow-provider-nes"
    assert {"connection-type": "nes", "hook-class-name": "nes_airflow.hooks.nes.NesHook"} in info["connection-types"]
    assert info["extra-links"] == ["nes_airflow.operators.nes.NesRunLink"]


def test_pyproject_declares_the_provider_entry_point():
    import pathlib
    import tomllib

    data = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())
    target = data["project"]["entry-points"]["apache_airflow_provider"]["provider_info"]
    module, func = target.split(":")
    assert module == "nes_airflow" and func == "get_provider_info"


def test_core_and_client_import_without_airflow():
    import sys

    assert "airflow" not in sys.modules or sys.modules["airflow"] is not None
    import nes_airflow.client  # noqa: F401
    import nes_airflow.core  # noqa: F401


# --- labels, keys, parameters -----------------------------------------------------------------


def test_task_labels_and_idempotency_key():
    labels = task_labels("dag", "task", "scheduled__2026-11-01T00:00:00+00:00", None)
    assert labels == {
        "airflow.dag_id": "dag",
        "airflow.task_id": "task",
        "airflow.run_id": "scheduled__2026-11-01T00:00:00+00:00",
        "airflow.map_index": "-1",
    }
    k1 = idempotency_key(labels, 1)
    assert k1 == idempotency_key(dict(reversed(list(labels.items()))), 1)
    assert k1 != idempotency_key(labels, 2)
    assert k1 != idempotency_key(task_labels("dag", "task", "other", None), 1)
    assert len(k1) <= 255 and k1.isascii() and " " not in k1


def test_long_label_values_are_shortened_but_stay_distinct():
    a = task_labels("d", "t", "x" * 300 + "a", 0)["airflow.run_id"]
    b = task_labels("d", "t", "x" * 300 + "b", 0)["airflow.run_id"]
    assert len(a) == 256 and a != b


def test_merge_labels_task_labels_win_and_bad_keys_fail():
    task = task_labels("d", "t", "r", 1)
    merged = merge_labels({"team": "ds", "airflow.dag_id": "spoof"}, task)
    assert merged["team"] == "ds" and merged["airflow.dag_id"] == "d"
    with pytest.raises(ValueError):
        merge_labels({"bad key": "v"}, task)


def test_parameters_accept_dicts_and_rendered_json():
    assert normalize_parameters({"day": "2026-11-01"}) == {"day": "2026-11-01"}
    assert normalize_parameters('{"day": "2026-11-01", "n": 3}') == {"day": "2026-11-01", "n": 3}
    assert normalize_parameters(None) == {}
    for bad in ("[1]", "not json", 3):
        with pytest.raises(ValueError):
            normalize_parameters(bad)


# --- the one mapping ----------------------------------------------------------------------------


def test_run_result_success_and_each_failure_type():
    assert run_result(run("succeeded")) == {
        "run_id": "r1",
        "status": "succeeded",
        "output_uri": "file:///store/runs/r1/output.ipynb",
        "viewer_url": f"{URL}/runs/r1",
        "results": {},
        "exit_value": None,
    }
    recorded = {"values": {"rows": 3}, "exit": {"value": "early", "cellIndex": 2}}
    assert run_result(run("succeeded"), recorded)["results"] == {"rows": 3}
    assert run_result(run("succeeded"), recorded)["exit_value"] == "early"
    err = {"class": "cell_error", "ename": "ValueError", "evalue": "boom", "cellIndex": 4, "cellNumber": 2}
    with pytest.raises(NesRunFailedError) as info:
        run_result(run("failed", err))
    assert type(info.value) is NesRunFailedError
    assert (info.value.run_id, info.value.failure_class, info.value.link) == ("r1", "cell_error", f"{URL}/runs/r1")
    assert "ValueError: boom (cell 2)" in str(info.value)
    older = {"class": "cell_error", "ename": "ValueError", "evalue": "boom", "cellIndex": 4}
    with pytest.raises(NesRunFailedError) as info:
        run_result(run("failed", older))
    assert "ValueError: boom (output cell index 4)" in str(info.value)
    with pytest.raises(NesRunTimeoutError) as info:
        run_result(run("timed_out", {"class": "timeout", "ename": "", "evalue": "", "cellIndex": None}))
    assert info.value.failure_class == "timeout"
    with pytest.raises(NesRunCancelledError):
        run_result(run("cancelled", {"class": "cancelled", "ename": "", "evalue": "", "cellIndex": None}))
    with pytest.raises(NesRunCancelledError):
        run_result(run("cancelled"))
    with pytest.raises(NesWaitError):
        run_result(run("running"))


def test_complete_maps_events_exactly_like_the_sync_path():
    for status in ("succeeded", "failed", "cancelled", "timed_out"):
        r = run(status, None if status == "succeeded" else {"class": "oom", "ename": "", "evalue": "", "cellIndex": None})
        try:
            expected = ("ok", run_result(r))
        except Exception as exc:
            expected = ("raise", type(exc), str(exc))
        try:
            got = ("ok", complete(terminal_event(r)))
        except Exception as exc:
            got = ("raise", type(exc), str(exc))
        assert got == expected
    cancelled = []
    with pytest.raises(NesRunTimeoutError):
        complete(error_event("r1", "wait_timeout", "late"), cancel=cancelled.append)
    assert cancelled == ["r1"]
    with pytest.raises(NesWaitError, match="unreachable"):
        complete(error_event("r1", "api", "unreachable"))
    with pytest.raises(NesWaitError):
        complete({"nonsense": 1})


# --- starting -----------------------------------------------------------------------------------


def test_start_run_reattaches_to_a_live_run_without_submitting():
    client = FakeClient(live=[run("running", rid="live")])
    got, outcome = start_run(
        client, SubmitSpec("nb.ipynb"), dag_id="d", task_id="t", run_id="r", map_index=None, try_number=2
    )
    assert outcome == "reattached" and got["id"] == "live"
    assert start_message(got, outcome).startswith("Reattached to live NES run live")
    assert not [c for c in client.calls if c[0] == "submit"]
    assert client.calls[0][1]["labels"] == task_labels("d", "t", "r", None)
    assert set(client.calls[0][1]["status"]) == {"queued", "starting", "running"}


def test_start_run_submits_with_labels_key_and_json_parameters():
    client = FakeClient()
    spec = SubmitSpec("nb.ipynb", ref="main", parameters='{"day": "2026-11-01"}', labels={"team": "ds"}, timeout_seconds=60)
    got, outcome = start_run(client, spec, dag_id="d", task_id="t", run_id="r", map_index=2, try_number=1)
    assert outcome == "submitted" and got["id"] == "new"
    assert start_message(got, outcome) == f"Submitted NES run new: {URL}/runs/new"
    _, notebook, kw = client.calls[1]
    assert notebook == "nb.ipynb" and kw["ref"] == "main" and kw["timeout_seconds"] == 60
    assert kw["parameters"] == {"day": "2026-11-01"}
    assert kw["labels"]["team"] == "ds" and kw["labels"]["airflow.map_index"] == "2"
    assert kw["idempotency_key"] == idempotency_key(task_labels("d", "t", "r", 2), 1)


# --- waiting ------------------------------------------------------------------------------------


def test_wait_for_run_polls_until_terminal():
    client = FakeClient(gets=[run("queued"), run("running"), run("succeeded")])
    sleeps = []
    assert wait_for_run(client, "r1", poll_interval=3, sleep=sleeps.append)["status"] == "succeeded"
    assert sleeps == [3, 3]


def test_wait_for_run_past_deadline_cancels_and_raises():
    client = FakeClient(gets=[run("running")])
    now = iter([0.0, 5.0, 11.0])
    with pytest.raises(NesRunTimeoutError):
        wait_for_run(client, "r1", poll_interval=1, deadline=10.0, sleep=lambda s: None, clock=lambda: next(now))
    assert ("cancel", "r1") in client.calls


def test_wait_for_run_api_failure_is_a_wait_error():
    client = FakeClient(gets=[NesConnectionError(URL, "refused")])
    with pytest.raises(NesWaitError, match="refused"):
        wait_for_run(client, "r1", sleep=lambda s: None)


# --- the trigger's poller: exactly one event on every path --------------------------------------


def test_poller_serializes_without_a_token():
    poller = RunPoller(run_id="r1", nes_conn_id="nes_prod", poll_interval=2, deadline=123.0)
    kwargs = poller.serialize_kwargs()
    assert RunPoller(**kwargs) == poller
    json.dumps(kwargs)
    assert "token" not in json.dumps(kwargs)


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled", "timed_out"])
def test_poller_yields_one_terminal_event(status):
    client = FakeAsyncClient(gets=[run("queued"), run("running"), run(status)])
    events = collect(RunPoller(run_id="r1"), client)
    assert len(events) == 1 and events[0]["status"] == "terminal"
    assert events[0]["run"]["status"] == status
    assert client.closed
    if status != "succeeded":
        with pytest.raises(NesRunFailedError):
            complete(events[0])


def test_poller_survives_transient_errors_then_gives_up_with_one_error_event():
    flaky = FakeAsyncClient(gets=[NesConnectionError(URL, "x"), run("running"), run("succeeded")])
    assert [e["status"] for e in collect(RunPoller(run_id="r1"), flaky)] == ["terminal"]
    down = FakeAsyncClient(gets=[NesConnectionError(URL, "refused")])
    events = collect(RunPoller(run_id="r1", max_consecutive_errors=3), down)
    assert len(events) == 1 and events[0]["kind"] == "api"
    gone = FakeAsyncClient(gets=[NesApiError(404, "not_found", "no run")])
    assert collect(RunPoller(run_id="r1"), gone)[0]["kind"] == "api"


def test_poller_deadline_and_unexpected_errors_each_give_one_event():
    slow = FakeAsyncClient(gets=[run("running")])
    clock = iter([0.0, 1.0, 100.0])
    events = collect(RunPoller(run_id="r1", deadline=50.0), slow, clock=lambda: next(clock))
    assert len(events) == 1 and events[0]["kind"] == "wait_timeout" and events[0]["link"] == f"{URL}/runs/r1"
    broken = FakeAsyncClient(gets=[KeyError("boom")])
    events = collect(RunPoller(run_id="r1"), broken)
    assert len(events) == 1 and events[0]["kind"] == "internal"
    with pytest.raises(NesWaitError):
        complete(events[0])

    def bad_factory():
        raise ValueError("no host")

    async def go():
        return [e async for e in RunPoller(run_id="r1").events(bad_factory)]

    assert [e["kind"] for e in asyncio.run(go())] == ["client"]


def test_poller_cancelled_yields_nothing_and_closes():
    client = FakeAsyncClient(gets=[run("running")])

    async def forever(_s):
        await asyncio.sleep(3600)

    async def go():
        got = []

        async def consume():
            async for e in RunPoller(run_id="r1").events(lambda: client, sleep=forever):
                got.append(e)

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return got

    assert asyncio.run(go()) == []
    assert client.closed


# --- the HTTP client: retries, errors, no token -------------------------------------------------


@respx.mock
def test_client_retries_reads_on_5xx_and_429_honouring_retry_after():
    route = respx.get(f"{URL}/v1/runs/r1").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(429, headers={"retry-after": "2"}),
            httpx.Response(200, json=run()),
        ]
    )
    sleeps = []
    with NesClient(URL, TOKEN, sleep=sleeps.append) as c:
        assert c.get("r1")["id"] == "r1"
    assert route.call_count == 3 and sleeps[1] == 2.0
    assert route.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"


@respx.mock
def test_client_never_retries_4xx_and_keeps_the_token_out_of_errors():
    route = respx.get(f"{URL}/v1/runs/r1").mock(
        return_value=httpx.Response(403, json={"error": {"code": "forbidden", "message": f"token {TOKEN} lacks read"}})
    )
    with NesClient(URL, TOKEN, sleep=lambda s: None) as c:
        with pytest.raises(NesApiError) as info:
            c.get("r1")
        assert TOKEN not in repr(c)
    assert route.call_count == 1
    assert info.value.code == "forbidden" and TOKEN not in str(info.value)


@respx.mock
def test_submit_without_key_is_not_retried_after_a_5xx_but_with_a_key_it_is():
    route = respx.post(f"{URL}/v1/runs").mock(side_effect=[httpx.Response(502), httpx.Response(201, json=run("queued"))])
    with NesClient(URL, TOKEN, sleep=lambda s: None) as c:
        with pytest.raises(NesApiError):
            c.submit("nb.ipynb")
        assert route.call_count == 1
        route.side_effect = [httpx.Response(502), httpx.Response(201, json=run("queued"))]
        assert c.submit("nb.ipynb", idempotency_key="k1", parameters={"a": 1})["id"] == "r1"
    sent = route.calls[-1].request
    assert sent.headers["idempotency-key"] == "k1"
    assert json.loads(sent.content) == {"notebook": "nb.ipynb", "parameters": {"a": 1}}


@respx.mock
def test_connection_errors_are_retried_then_reported_without_token():
    route = respx.get(f"{URL}/v1/runs/r1").mock(side_effect=httpx.ConnectError(f"refused {TOKEN}"))
    with NesClient(URL, TOKEN, sleep=lambda s: None, retry=RetryPolicy(attempts=3)) as c:
        with pytest.raises(NesConnectionError) as info:
            c.get("r1")
    assert route.call_count == 3 and TOKEN not in str(info.value) and URL in str(info.value)


@respx.mock
def test_list_sends_labels_and_statuses():
    route = respx.get(f"{URL}/v1/runs").mock(return_value=httpx.Response(200, json={"runs": [], "nextCursor": None}))
    with NesClient(URL, TOKEN) as c:
        c.list(labels={"b": "2", "a": "x=y"}, status=["queued", "running"], limit=5)
    params = route.calls[0].request.url.params
    assert params.get_list("label") == ["a=x=y", "b=2"]
    assert params.get_list("status") == ["queued", "running"] and params["limit"] == "5"


@respx.mock
def test_async_client_retries_and_cancels():
    respx.get(f"{URL}/v1/runs/r1").mock(side_effect=[httpx.ConnectError("x"), httpx.Response(200, json=run())])
    respx.post(f"{URL}/v1/runs/r1/cancel").mock(return_value=httpx.Response(200, json=run("cancelled")))

    async def go():
        async with AsyncNesClient(URL, TOKEN, sleep=_no_sleep) as c:
            return (await c.get("r1"))["status"], (await c.cancel("r1"))["status"]

    assert asyncio.run(go()) == ("running", "cancelled")


def test_url_from_connection():
    assert url_from_connection("nes.example.com") == "http://nes.example.com"
    assert url_from_connection("nes.example.com", 8080, "https") == "https://nes.example.com:8080"
    assert url_from_connection("https://nes.example.com/") == "https://nes.example.com"
    assert url_from_connection("http://h:9000", 8080) == "http://h:9000"
    assert url_from_connection("http://h/base", 8080) == "http://h:8080/base"
    with pytest.raises(ValueError):
        url_from_connection("")


# --- the triggerer's loop: nothing blocks it ------------------------------------------------------


def test_the_client_is_made_off_the_event_loop():
    """A slow connection lookup (the factory blocks until a coroutine on the loop has run). Were the
    factory called on the loop, the coroutine could never run and the factory would give up."""
    import threading

    loop_ran = threading.Event()
    client = FakeAsyncClient(gets=[run("succeeded")])

    def slow_lookup():
        if not loop_ran.wait(timeout=10):
            raise AssertionError("the event loop was blocked while the connection was read")
        return client

    async def ticker():
        await asyncio.sleep(0)
        loop_ran.set()

    async def go():
        tick = asyncio.ensure_future(ticker())
        events = [e async for e in RunPoller(run_id="r1").events(slow_lookup, sleep=_no_sleep)]
        await tick
        return events

    events = asyncio.run(go())
    assert [e["status"] for e in events] == ["terminal"]


def test_task_sdk_calls_work_from_the_trigger_only_off_the_loop():
    """Airflow 3's triggerer answers task-SDK calls (BaseHook.get_connection, get_task_states)
    through TriggerCommsDecoder.send = async_to_sync(self.asend) (airflow-core
    jobs/triggerer_job_runner.py). The same construction with the real asgiref: called on the loop it
    fails; through run_off_loop it answers."""
    from asgiref.sync import async_to_sync

    from nes_airflow.core import run_off_loop

    class Comms:  # the shape of TriggerCommsDecoder: a sync send over an async one
        async def asend(self, msg):
            await asyncio.sleep(0)
            return {"conn_id": msg, "host": "http://nes.test"}

        def send(self, msg):
            return async_to_sync(self.asend)(msg)

    comms = Comms()

    async def on_loop():
        return comms.send("nes_default")

    with pytest.raises(RuntimeError, match="same thread as an async event loop"):
        asyncio.run(on_loop())

    async def off_loop():
        return await run_off_loop(comms.send, "nes_default")

    assert asyncio.run(off_loop())["host"] == "http://nes.test"


# --- a deferred task ended by a user: the run is cancelled, a triggerer restart keeps it -----------


@pytest.mark.parametrize(
    "state, cancel",
    [
        ("deferred", False),  # the triggerer stopping or handing the trigger over: the task still waits
        ("failed", True),  # marked failed
        ("success", True),  # marked success
        ("none", True),  # cleared (Airflow 2: state NULL)
        ("scheduled", True),
        ("restarting", True),
        ("up_for_retry", True),
        ("missing", True),  # the task instance (or its DAG run) was deleted
        ("DEFERRED", False),
        (None, False),  # the state could not be read: keep the run the task may still wait for
    ],
)
def test_cancel_after_trigger_stopped(state, cancel):
    from nes_airflow.core import cancel_after_trigger_stopped

    assert cancel_after_trigger_stopped(state) is cancel


def _cancelled_poller(on_cancel, cancel_on_kill=True):
    client = FakeAsyncClient(gets=[run("running")])

    async def forever(_s):
        await asyncio.sleep(3600)

    async def go():
        poller = RunPoller(run_id="r1", cancel_on_kill=cancel_on_kill)
        task = asyncio.ensure_future(
            _drain(poller.events(lambda: client, sleep=forever, on_cancel=on_cancel))
        )
        while not any(c[0] == "get" for c in client.calls):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    return client


async def _drain(agen):
    return [e async for e in agen]


def test_a_stopped_trigger_cancels_the_run_when_the_task_no_longer_waits():
    async def gone():
        return True

    client = _cancelled_poller(gone)
    assert ("cancel", "r1") in client.calls and client.closed


def test_a_stopped_trigger_keeps_the_run_when_the_task_is_still_deferred():
    async def still_deferred():
        return False

    client = _cancelled_poller(still_deferred)
    assert ("cancel", "r1") not in client.calls and client.closed


def test_a_failing_state_lookup_keeps_the_run_and_still_propagates_the_cancellation():
    async def broken():
        raise RuntimeError("supervisor unreachable")

    client = _cancelled_poller(broken)
    assert ("cancel", "r1") not in client.calls


def test_without_cancel_on_kill_the_task_state_is_not_even_read():
    asked = []

    async def gone():
        asked.append(1)
        return True

    client = _cancelled_poller(gone, cancel_on_kill=False)
    assert asked == [] and ("cancel", "r1") not in client.calls


# --- the renamed argument ------------------------------------------------------------------------


def test_split_resources_keeps_airflows_and_moves_the_runs():
    from nes_airflow.core import split_resources

    assert split_resources(None, {"cpu": "1"}) == (None, {"cpu": "1"}, False)
    # The old spelling of the NES run's resources: still honoured, flagged deprecated.
    assert split_resources({"cpu": "2", "memory": "4Gi"}, None) == (None, {"cpu": "2", "memory": "4Gi"}, True)
    assert split_resources("{{ params.res | tojson }}", None) == (None, "{{ params.res | tojson }}", True)
    # Airflow's own resources (cpus, ram, disk, gpus) stay Airflow's.
    assert split_resources({"cpus": 2, "ram": 1024}, None) == ({"cpus": 2, "ram": 1024}, None, False)
    assert split_resources({"cpus": 1}, {"cpu": "1"}) == ({"cpus": 1}, {"cpu": "1"}, False)
    with pytest.raises(ValueError, match="once, as nes_resources"):
        split_resources({"cpu": "1"}, {"cpu": "2"})


def test_nes_resources_accept_dicts_and_rendered_json():
    from nes_airflow.core import normalize_resources

    assert normalize_resources(None) is None and normalize_resources("") is None
    assert normalize_resources({"cpu": "1"}) == {"cpu": "1"}
    assert normalize_resources('{"gpu": 1}') == {"gpu": 1}
    for bad in ("[1]", "nope", 3):
        with pytest.raises(ValueError, match="nes_resources"):
            normalize_resources(bad)


def test_start_message_says_submitted_only_when_nes_created_the_run():
    client = FakeClient()
    client.created = False
    got, outcome = start_run(client, SubmitSpec("nb.ipynb"), dag_id="d", task_id="t", run_id="r", map_index=None, try_number=1)
    assert outcome == "replayed"
    message = start_message(got, outcome)
    assert "Submitted" not in message and "idempotent replay" in message and got["id"] in message


@respx.mock
def test_create_run_tells_a_created_run_from_a_replayed_one():
    route = respx.post(f"{URL}/v1/runs").mock(
        side_effect=[httpx.Response(201, json=run("queued")), httpx.Response(200, json=run("running"))]
    )
    with NesClient(URL, TOKEN) as c:
        assert c.create_run("nb.ipynb", idempotency_key="k")[1] is True
        assert c.create_run("nb.ipynb", idempotency_key="k")[1] is False
    assert route.call_count == 2


def test_result_conditions():
    from nes_airflow.core import result_condition_met

    values = {"rows": 5, "name": "orders", "flag": False}
    assert result_condition_met(values, "rows", "exists")
    assert not result_condition_met(values, "missing", "exists")
    assert result_condition_met(values, "rows", ">=", 5) and not result_condition_met(values, "rows", ">", 5)
    assert result_condition_met(values, "name", "in", ["orders", "items"])
    assert not result_condition_met(values, "flag", "truthy")
    assert not result_condition_met(values, "name", ">", 3), "a string is not greater than a number"
    with pytest.raises(ValueError, match="unknown result condition"):
        result_condition_met(values, "rows", "=~")
