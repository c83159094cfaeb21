"""The provider's Airflow classes themselves (NesOperator, NesRunLink, NesRunTrigger, NesRunSensor,
NesHook) run against the real NES service, on the stand-in for the Airflow names they import
(tests/standin/airflow: see its docstring for what it keeps of Airflow). Where real Airflow is
installed these are skipped and test_airflow.py runs the same classes on it."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from nes_airflow.client import NesClient

REAL_AIRFLOW = importlib.util.find_spec("airflow") is not None
STANDIN = str(Path(__file__).parent / "standin")
PROVIDER_MODULES = ("nes_airflow._compat", "nes_airflow.hooks.nes", "nes_airflow.triggers.nes",
                    "nes_airflow.operators.nes", "nes_airflow.sensors.nes")

pytestmark = pytest.mark.skipif(REAL_AIRFLOW, reason="Airflow is installed: test_airflow.py runs these classes on it")


def _purge():
    for name in list(sys.modules):
        if name == "airflow" or name.startswith("airflow.") or name in PROVIDER_MODULES:
            del sys.modules[name]


@pytest.fixture(scope="module")
def af(nes):
    _purge()
    sys.path.insert(0, STANDIN)
    try:
        from airflow.exceptions import AirflowException, AirflowProviderDeprecationWarning, TaskDeferred
        from airflow.hooks.base import BaseHook
        from airflow.models.xcom import XCom
        from airflow.triggers.base import BaseTrigger

        from nes_airflow.hooks.nes import NesHook
        from nes_airflow.operators.nes import NesOperator, NesRunLink
        from nes_airflow.sensors.nes import NesResultSensor, NesRunSensor, NesScheduleSensor
        from nes_airflow.triggers import nes as trigger_module

        BaseHook.connections["nes_default"] = {"host": nes.url, "password": nes.token}
        yield SimpleNamespace(
            NesOperator=NesOperator, NesRunLink=NesRunLink, NesRunSensor=NesRunSensor, NesHook=NesHook,
            NesResultSensor=NesResultSensor, NesScheduleSensor=NesScheduleSensor,
            NesRunTrigger=trigger_module.NesRunTrigger, trigger_module=trigger_module, BaseHook=BaseHook,
            BaseTrigger=BaseTrigger, XCom=XCom, TaskDeferred=TaskDeferred, AirflowException=AirflowException,
            Deprecation=AirflowProviderDeprecationWarning,
        )
    finally:
        sys.path.remove(STANDIN)
        _purge()


@pytest.fixture
def client(nes):
    with NesClient(nes.url, nes.token) as c:
        yield c


class TI:
    """The task instance an operator sees in its context."""

    def __init__(self, task_id="report", try_number=1, map_index=-1):
        self.dag_id, self.task_id, self.run_id = "nes_dag", task_id, f"manual__{uuid.uuid4()}"
        self.map_index, self.try_number = map_index, try_number
        self.xcom = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def _context(ti):
    return {"ti": ti, "run_id": ti.run_id}


# --- construction: the renamed argument -----------------------------------------------------------


def test_nes_resources_and_the_deprecated_resources(af):
    op = af.NesOperator(task_id="a", notebook="nb.ipynb", nes_resources={"cpu": "1"})
    assert op.nes_resources == {"cpu": "1"} and op.resources is None
    with pytest.warns(af.Deprecation, match="Use nes_resources"):
        old = af.NesOperator(task_id="b", notebook="nb.ipynb", resources={"cpu": "2", "memory": "1Gi"})
    assert old.nes_resources == {"cpu": "2", "memory": "1Gi"} and old.resources is None
    # Airflow's own resources, directly or from default_args, stay Airflow's.
    mine = af.NesOperator(task_id="c", notebook="nb.ipynb", resources={"cpus": 2}, nes_resources={"cpu": "1"})
    assert mine.resources == {"cpus": 2} and mine.nes_resources == {"cpu": "1"}
    from_defaults = af.NesOperator(task_id="d", notebook="nb.ipynb", default_args={"resources": {"ram": 512}, "retries": 2})
    assert from_defaults.resources == {"ram": 512} and from_defaults.retries == 2
    with pytest.raises(ValueError, match="once, as nes_resources"):
        af.NesOperator(task_id="e", notebook="nb.ipynb", resources={"cpu": "1"}, nes_resources={"cpu": "2"})
    with pytest.raises(af.AirflowException, match="Invalid arguments"):
        af.NesOperator(task_id="f", notebook="nb.ipynb", nes_resourcez={"cpu": "1"})


# --- execute: sync, replay, deferred ----------------------------------------------------------------


def test_execute_submits_then_an_idempotent_replay_never_says_submitted(af, nes, caplog):
    op = af.NesOperator(
        task_id="report", notebook=nes.notebook("hello.ipynb"), parameters='{"count": 2}',
        deferrable=False, poll_interval=0.2,
    )
    ti = TI()
    with caplog.at_level(logging.INFO):
        result = op.execute(_context(ti))
    assert result["status"] == "succeeded" and ti.xcom["nes_run_id"] == result["run_id"]
    assert ti.xcom["nes_viewer_url"] == result["viewer_url"]
    submitted = [r.getMessage() for r in caplog.records if "NES run" in r.getMessage()]
    assert submitted == [f"Submitted NES run {result['run_id']}: {result['viewer_url']}"]
    # The same try again (its worker lost the answer after NES created the run): NES replays it.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = af.NesOperator(
            task_id="report", notebook=nes.notebook("hello.ipynb"), parameters='{"count": 2}',
            deferrable=False, poll_interval=0.2,
        ).execute(_context(ti))
    assert again["run_id"] == result["run_id"]
    messages = [r.getMessage() for r in caplog.records if "NES run" in r.getMessage()]
    assert len(messages) == 1 and "idempotent replay" in messages[0] and not messages[0].startswith("Submitted")


def test_deferred_execute_hands_a_trigger_that_round_trips_and_waits_off_the_loop(af, nes, monkeypatch):
    op = af.NesOperator(task_id="report", notebook=nes.notebook("hello.ipynb"), deferrable=True, poll_interval=0.2)
    ti = TI()
    with pytest.raises(af.TaskDeferred) as deferred:
        op.execute(_context(ti))
    assert deferred.value.method_name == "execute_complete"
    classpath, kwargs = deferred.value.trigger.serialize()
    assert kwargs["cancel_on_kill"] is True and "token" not in str(kwargs)
    module, name = classpath.rsplit(".", 1)
    trigger = getattr(importlib.import_module(module), name)(**kwargs)  # how the triggerer rebuilds it
    assert trigger.serialize() == (classpath, kwargs)

    # A slow connection lookup: it returns only once a coroutine on the triggerer's loop has run,
    # which can happen only if the lookup is off the loop.
    loop_ran = threading.Event()
    slow_get = af.BaseHook.get_connection.__func__

    def lookup(cls, conn_id):
        if not loop_ran.wait(timeout=10):
            raise AssertionError("the connection lookup blocked the triggerer's event loop")
        return slow_get(cls, conn_id)

    monkeypatch.setattr(af.BaseHook, "get_connection", classmethod(lookup))

    async def triggerer():
        async def other_trigger():
            await asyncio.sleep(0)
            loop_ran.set()

        other = asyncio.ensure_future(other_trigger())
        events = [e async for e in trigger.run()]
        await other
        return events

    events = asyncio.run(triggerer())
    assert len(events) == 1 and events[0].payload["status"] == "terminal"
    result = op.execute_complete(_context(ti), events[0].payload)
    assert result["status"] == "succeeded" and result["run_id"] == ti.xcom["nes_run_id"]


# --- a deferred task ended by a user --------------------------------------------------------------


def _start_slow_run(client, nes):
    return client.submit(nes.notebook("slow.ipynb"), parameters={"seconds": 60})


def _stop_trigger_while_it_waits(af, trigger):
    """Run the trigger until it has polled NES once, then stop it as the triggerer does."""
    make_client = trigger._client

    async def go():
        polled = asyncio.Event()

        def client_that_reports_its_first_poll():
            client = make_client()
            get = client.get

            async def reporting_get(run_id):
                run = await get(run_id)
                polled.set()
                return run

            client.get = reporting_get
            return client

        trigger._client = client_that_reports_its_first_poll
        task = asyncio.ensure_future(_drain(trigger.run()))
        await asyncio.wait_for(polled.wait(), timeout=30)
        task.cancel()  # what the triggerer does to a trigger it removes (any Airflow version)
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


async def _drain(agen):
    return [e async for e in agen]


def _final_status(client, run_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(run_id)["status"]
        if status in ("succeeded", "failed", "cancelled", "timed_out"):
            return status
        time.sleep(0.2)
    return status


def _trigger(af, run_id, **kw):
    trigger = af.NesRunTrigger(run_id=run_id, poll_interval=0.2, cancel_on_kill=True, **kw)
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    return trigger


def test_marked_failed_while_deferred_cancels_the_run_on_airflow_2_9_to_3_2(af, nes, client, monkeypatch):
    run = _start_slow_run(client, nes)
    looked_up = []

    def state(ti):  # the task instance's state after the triggerer removed the trigger
        looked_up.append(threading.current_thread() is threading.main_thread())
        return "failed"

    monkeypatch.setattr(af.trigger_module, "read_task_instance_state", state)
    _stop_trigger_while_it_waits(af, _trigger(af, run["id"]))
    assert looked_up == [False]  # read off the event loop's thread
    assert _final_status(client, run["id"]) == "cancelled"


def test_a_triggerer_restart_keeps_the_run(af, nes, client, monkeypatch):
    run = _start_slow_run(client, nes)
    monkeypatch.setattr(af.trigger_module, "read_task_instance_state", lambda ti: "deferred")
    _stop_trigger_while_it_waits(af, _trigger(af, run["id"]))
    assert client.get(run["id"])["status"] in ("queued", "starting", "running")
    client.cancel(run["id"])


def test_the_sensors_trigger_never_cancels_a_run_it_did_not_start(af, nes, client, monkeypatch):
    run = _start_slow_run(client, nes)
    monkeypatch.setattr(af.trigger_module, "read_task_instance_state", lambda ti: "failed")
    sensor = af.NesRunSensor(task_id="wait", run_id=run["id"], deferrable=True, poke_interval=0.2)
    with pytest.raises(af.TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["cancel_on_kill"] is False
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="wait", run_id="r", map_index=-1)
    _stop_trigger_while_it_waits(af, trigger)
    assert client.get(run["id"])["status"] in ("queued", "starting", "running")
    client.cancel(run["id"])


def test_on_airflow_3_3_on_kill_cancels_and_the_state_is_not_read(af, nes, client, monkeypatch):
    run = _start_slow_run(client, nes)

    async def base_on_kill(self):  # Airflow 3.3's BaseTrigger.on_kill exists: the triggerer calls it
        return None

    monkeypatch.setattr(af.BaseTrigger, "on_kill", base_on_kill, raising=False)
    read = []
    monkeypatch.setattr(af.trigger_module, "read_task_instance_state", lambda ti: read.append(1) or "failed")
    trigger = _trigger(af, run["id"])
    _stop_trigger_while_it_waits(af, trigger)  # a plain stop (shutdown) cancels nothing on 3.3+
    assert read == [] and client.get(run["id"])["status"] in ("queued", "starting", "running")
    asyncio.run(trigger.on_kill())  # a user's kill
    assert _final_status(client, run["id"]) == "cancelled"


# --- the link, the sensor, the hook ---------------------------------------------------------------


def test_the_link_reads_only_the_xcom_the_operator_pushed(af):
    key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    af.XCom.store[("d", "t", "r", -1, "nes_viewer_url")] = "http://nes/runs/abc"
    link = af.NesRunLink()  # rebuilt from the serialized form: no arguments, no operator state
    assert link.get_link(None, ti_key=key) == "http://nes/runs/abc"
    assert link.xcom_key == "nes_viewer_url" and link.name == "NES run"


def test_sensor_pokes_a_run_started_elsewhere(af, nes, client):
    run = client.submit(nes.notebook("hello.ipynb"))
    sensor = af.NesRunSensor(task_id="wait", run_id=run["id"], poke_interval=0.2)
    assert _final_status(client, run["id"]) == "succeeded"
    assert sensor.execute({})["run_id"] == run["id"]


def test_hook_test_connection(af, nes):
    ok, message = af.NesHook().test_connection()
    assert ok and nes.url in message
    af.BaseHook.connections["nes_bad"] = {"host": nes.url, "password": "nes_wrong_token_0123456789"}
    ok, message = af.NesHook(nes_conn_id="nes_bad").test_connection()
    assert not ok and "401" in message and "nes_wrong_token" not in message


def test_airflow_3_reads_the_state_through_the_supervisor_off_the_loop(af, monkeypatch):
    """Airflow 3's branch of the state lookup: RuntimeTaskInstance.get_task_states (its signature as
    in task-sdk execution_time/task_runner.py) sent through comms shaped like the triggerer's
    TriggerCommsDecoder (async_to_sync over an async send): it answers only off the loop."""
    import types

    from asgiref.sync import async_to_sync

    asked = []
    answers = {}

    class Comms:
        async def asend(self, msg):
            asked.append(msg)
            return answers

        def send(self, msg):
            return async_to_sync(self.asend)(msg)

    comms = Comms()

    class RuntimeTaskInstance:
        @staticmethod
        def get_task_states(dag_id, map_index=None, task_ids=None, task_group_id=None, logical_dates=None, run_ids=None):
            return comms.send({"dag_id": dag_id, "map_index": map_index, "task_ids": task_ids, "run_ids": run_ids})

    module = types.ModuleType("airflow.sdk.execution_time.task_runner")
    module.RuntimeTaskInstance = RuntimeTaskInstance
    monkeypatch.setitem(sys.modules, "airflow.sdk.execution_time.task_runner", module)

    trigger = af.NesRunTrigger(run_id="x", cancel_on_kill=True)
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=3)
    answers.update({"r": {"t_3": "failed"}})  # a mapped task instance is keyed task_id_mapindex
    assert asyncio.run(trigger._task_gone()) is True
    assert asked[-1] == {"dag_id": "d", "map_index": 3, "task_ids": ["t"], "run_ids": ["r"]}
    answers.update({"r": {"t_3": "deferred"}})
    assert asyncio.run(trigger._task_gone()) is False
    answers.clear()  # the task instance is gone
    assert asyncio.run(trigger._task_gone()) is True
    trigger.task_instance = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)
    answers.update({"r": {"t": None}})  # cleared: no state
    assert asyncio.run(trigger._task_gone()) is True


def test_an_unknown_connection_gives_one_error_event(af):
    trigger = af.NesRunTrigger(run_id="x", nes_conn_id="nes_missing")

    events = asyncio.run(_drain(trigger.run()))
    assert len(events) == 1
    assert events[0].payload["kind"] == "client" and "nes_missing" in events[0].payload["message"]


def test_the_operators_xcom_carries_the_notebooks_results(af, nes):
    op = af.NesOperator(
        task_id="load", notebook=nes.notebook("results.ipynb"), parameters={"rows": 42},
        deferrable=False, poll_interval=0.2,
    )
    result = op.execute(_context(TI()))
    assert result["status"] == "succeeded"
    assert result["results"] == {"rows_loaded": 42, "summary": {"ok": True}}
    assert result["exit_value"] == {"reason": "done early"}


def test_result_sensor_waits_on_a_result_condition(af, nes, client):
    run = client.submit(nes.notebook("results.ipynb"), parameters={"rows": 5}, labels={"feed": "orders"})
    assert _final_status(client, run["id"]) == "succeeded"
    met = af.NesResultSensor(task_id="rows", run_id=run["id"], result="rows_loaded", condition=">=", value=5)
    assert met.execute({})["results"]["rows_loaded"] == 5
    # That run cannot change: a miss fails the sensor rather than waiting forever.
    missed = af.NesResultSensor(task_id="rows", run_id=run["id"], result="rows_loaded", condition=">", value=5)
    with pytest.raises(Exception, match="does not satisfy > 5"):
        missed.execute({})
    # By notebook and labels: the latest succeeded run decides, and a miss keeps waiting.
    latest = af.NesResultSensor(
        task_id="rows", notebook=nes.notebook("results.ipynb"), labels={"feed": "orders"},
        result="rows_loaded", condition="==", value=5,
    )
    assert latest.execute({})["run_id"] == run["id"]
    waiting = af.NesResultSensor(
        task_id="rows", notebook=nes.notebook("results.ipynb"), labels={"feed": "orders"},
        result="rows_loaded", condition=">", value=100,
    )
    assert waiting.execute({}) is False
    with pytest.raises(ValueError, match="unknown result condition"):
        af.NesResultSensor(task_id="x", run_id="r", result="n", condition="~")


def test_schedule_sensor_waits_on_a_logical_date_nes_owns(af, nes, client):
    """NES owns the schedule; the DAG's sensor waits on the same logical date (a real run on a
    real kernel), and a failed date fails the sensor when asked to."""
    from nes_airflow.core import NesScheduleDateFailedError

    for name, notebook in (("af-hello", "hello.ipynb"), ("af-fail", "fail.ipynb")):
        client.create_schedule(
            {
                "name": name,
                "notebook": nes.notebook(notebook),
                "cron": "0 0 * * *",
                "startDate": "2026-01-01T00:00:00Z",
                "parameters": {"day": "{{ ds }}"} if notebook == "hello.ipynb" else {},
                "paused": True,
            }
        )
        client.trigger_schedule(name, "2026-01-01T00:00:00Z")
    # Airflow renders {{ data_interval_start }} as pendulum prints it.
    sensor = af.NesScheduleSensor(
        task_id="wait", schedule="af-hello", logical_date="2026-01-01T00:00:00+00:00", poke_interval=0.2
    )
    deadline = time.time() + 120
    while True:
        done = sensor.poke({})
        if done:
            break
        assert time.time() < deadline, client.schedule_dates("af-hello", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
        time.sleep(0.2)
    value = done.xcom_value
    assert value["state"] == "succeeded" and value["logical_date"] == "2026-01-01T00:00:00.000Z"
    run = client.get(value["run_id"])
    assert run["parameters"] == {"day": "2026-01-01"}
    assert run["labels"]["nes/schedule"] and run["labels"]["nes/trigger"] == "manual"

    failing = af.NesScheduleSensor(
        task_id="wait-fail", schedule="af-fail", logical_date="2026-01-01T00:00:00+00:00", fail_on_failure=True
    )
    patient = af.NesScheduleSensor(task_id="wait-patient", schedule="af-fail", logical_date="2026-01-01T00:00:00+00:00")
    deadline = time.time() + 120
    while True:
        try:
            failing.poke({})
        except NesScheduleDateFailedError as error:
            assert "af-fail" in str(error) and "failed" in str(error)
            break
        assert time.time() < deadline
        time.sleep(0.2)
    # Without fail_on_failure the sensor keeps waiting: NES may rerun the date (a push fix).
    assert not patient.poke({})
    # A date NES never made is missing: the sensor waits.
    missing = af.NesScheduleSensor(task_id="wait-missing", schedule="af-hello", logical_date="2026-01-02T00:00:00+00:00")
    assert not missing.poke({})
