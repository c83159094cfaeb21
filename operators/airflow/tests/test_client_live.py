"""The plain-Python client and the operator's core against the real NES API (real notebooks)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from nes_airflow.client import AsyncNesClient, NesApiError, NesClient
from nes_airflow.core import (
    NesRunCancelledError,
    NesRunFailedError,
    RunPoller,
    SubmitSpec,
    complete,
    run_result,
    sensor_poke,
    start_message,
    start_run,
    wait_for_run,
)


@pytest.fixture
def client(nes):
    with NesClient(nes.url, nes.token) as c:
        yield c


def test_submit_runs_a_notebook_to_success(nes, client):
    run = client.submit(nes.notebook("hello.ipynb"), parameters={"day": "2026-11-01", "count": 2})
    assert run["status"] in ("queued", "starting", "running")
    final = wait_for_run(client, run["id"], poll_interval=0.2)
    result = run_result(final)
    assert result["status"] == "succeeded"
    assert result["run_id"] == run["id"]
    assert result["output_uri"]
    assert result["viewer_url"].endswith(f"/runs/{run['id']}")
    assert final["parameters"] == {"day": "2026-11-01", "count": 2}


def test_idempotency_key_replays_the_same_run(nes, client):
    key = f"test-{uuid.uuid4()}"
    first = client.submit(nes.notebook("hello.ipynb"), idempotency_key=key, parameters={"count": 1})
    again = client.submit(nes.notebook("hello.ipynb"), idempotency_key=key, parameters={"count": 1})
    assert again["id"] == first["id"]
    with pytest.raises(NesApiError) as info:  # same key, other body
        client.submit(nes.notebook("hello.ipynb"), idempotency_key=key, parameters={"count": 2})
    assert info.value.status == 409
    wait_for_run(client, first["id"], poll_interval=0.2)


def test_start_run_reattaches_to_the_live_run_of_the_task_instance(nes, client):
    dag_run = f"manual__{uuid.uuid4()}"
    spec = SubmitSpec(notebook=nes.notebook("slow.ipynb"), parameters={"seconds": 30}, labels={"team": "data"})
    ids = dict(dag_id="daily", task_id="report", run_id=dag_run, map_index=3)
    run, outcome = start_run(client, spec, try_number=1, **ids)
    assert outcome == "submitted"
    assert run["labels"]["airflow.run_id"] == dag_run
    assert run["labels"]["airflow.map_index"] == "3"
    assert run["labels"]["team"] == "data"
    # The worker died; Airflow retries the task (try 2): the live run is found, nothing new runs.
    again, outcome = start_run(client, spec, try_number=2, **ids)
    assert outcome == "reattached" and again["id"] == run["id"]
    # Another map index is another task instance.
    other, outcome = start_run(client, spec, try_number=1, **{**ids, "map_index": 4})
    assert outcome == "submitted" and other["id"] != run["id"]
    found = client.list(labels={"airflow.run_id": dag_run})
    assert {r["id"] for r in found["runs"]} == {run["id"], other["id"]}
    # on_kill: cancel; a cancelled run is never a success.
    for r in (run, other):
        client.cancel(r["id"])
    final = wait_for_run(client, run["id"], poll_interval=0.2)
    assert final["status"] == "cancelled"
    with pytest.raises(NesRunCancelledError) as info:
        run_result(final)
    assert info.value.run_id == run["id"]
    # After the run ended, a new try submits a new run (the key includes the try number).
    hello = SubmitSpec(notebook=nes.notebook("hello.ipynb"))
    third, outcome = start_run(client, hello, try_number=3, **ids)
    assert outcome == "submitted" and third["id"] != run["id"]
    wait_for_run(client, third["id"], poll_interval=0.2)
    # The same try submitting again after its run ended (the answer to its submit was lost): NES
    # replays the run its Idempotency-Key created; nothing new runs and the log does not say
    # "Submitted".
    replay, outcome = start_run(client, hello, try_number=3, **ids)
    assert outcome == "replayed" and replay["id"] == third["id"]
    assert not start_message(replay, outcome).startswith("Submitted")
    wait_for_run(client, other["id"], poll_interval=0.2)


def test_a_failing_notebook_raises_with_class_error_and_link(nes, client):
    run = client.submit(nes.notebook("fail.ipynb"))
    final = wait_for_run(client, run["id"], poll_interval=0.2)
    with pytest.raises(NesRunFailedError) as info:
        run_result(final)
    err = info.value
    assert err.run_id == run["id"] and err.failure_class == "cell_error"
    assert err.error["ename"] == "ValueError" and "boom" in str(err)
    assert err.link and err.link in str(err)
    assert nes.token not in str(err)
    with pytest.raises(NesRunFailedError):
        sensor_poke(client, run["id"])


def test_trigger_poller_and_complete_against_the_api(nes, client):
    run = client.submit(nes.notebook("hello.ipynb"))
    poller = RunPoller(run_id=run["id"], poll_interval=0.2)

    async def collect():
        return [e async for e in poller.events(lambda: AsyncNesClient(nes.url, nes.token))]

    events = asyncio.run(collect())
    assert len(events) == 1 and events[0]["status"] == "terminal"
    assert complete(events[0]) == run_result(client.get(run["id"]))
    assert sensor_poke(client, run["id"])["status"] == "succeeded"


def test_api_errors_carry_code_and_never_the_token(nes):
    with NesClient(nes.url, "nes_wrong_token_0123456789") as bad:
        with pytest.raises(NesApiError) as info:
            bad.get("nope")
    assert info.value.status == 401
    assert "nes_wrong_token_0123456789" not in str(info.value)
    with NesClient(nes.url, nes.token) as c:
        with pytest.raises(NesApiError) as info:
            c.get("run-does-not-exist")
        assert info.value.status == 404
        with pytest.raises(NesApiError) as info:
            c.submit("relative/path.ipynb")
        assert 400 <= info.value.status < 500


def test_backfill_as_one_sweep_over_a_date_range(nes, client):
    import time

    sweep = client.submit_sweep(
        {
            "notebook": nes.notebook("hello.ipynb"),
            "dateRange": {"parameter": "day", "start": "2026-10-30", "end": "2026-11-01"},
            "maxConcurrency": 2,
            "labels": {"backfill": "test"},
        }
    )
    assert sweep["total"] == 3
    deadline = time.time() + 60
    while sweep["status"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.3)
        sweep = client.get_sweep(sweep["id"])
    assert sweep["status"] == "succeeded"
    assert sorted(r["parameters"]["day"] for r in sweep["runs"]) == ["2026-10-30", "2026-10-31", "2026-11-01"]
    # The runs carry the sweep's labels: how a retried task finds its sweep again.
    found = client.list(labels={"backfill": "test"})["runs"]
    assert {r["sweepId"] for r in found} == {sweep["id"]}
