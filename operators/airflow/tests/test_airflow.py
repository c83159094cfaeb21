"""The Airflow classes themselves: only where Airflow (2.9+ or 3.x) is installed."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest

pytest.importorskip("airflow")

from nes_airflow.core import XCOM_RUN_ID, XCOM_VIEWER_URL, NesRunCancelledError, terminal_event  # noqa: E402
from nes_airflow.hooks.nes import NesHook  # noqa: E402
from nes_airflow.operators.nes import NesOperator, NesRunLink, NesRunNotebookOperator  # noqa: E402
from nes_airflow.sensors.nes import NesRunSensor  # noqa: E402
from nes_airflow.triggers.nes import NesRunTrigger  # noqa: E402


def _run(status, rid="r1"):
    return {
        "id": rid,
        "status": status,
        "error": None,
        "outputUri": "file:///o.ipynb",
        "links": {"viewer": f"http://nes/runs/{rid}"},
    }


def test_operator_fields_and_alias():
    op = NesOperator(task_id="t", notebook="github://o/r/nb.ipynb", parameters={"day": "{{ ds }}"})
    assert "parameters" in op.template_fields
    assert op.template_fields_renderers["parameters"] == "json"
    assert NesRunNotebookOperator is NesOperator
    assert any(isinstance(link, NesRunLink) for link in op.operator_extra_links)


def test_trigger_serializes_and_yields_one_event():
    trigger = NesRunTrigger(run_id="r1", nes_conn_id="nes_x", poll_interval=0)
    classpath, kwargs = trigger.serialize()
    assert classpath == "nes_airflow.triggers.nes.NesRunTrigger"
    assert NesRunTrigger(**kwargs).serialize() == (classpath, kwargs)

    class Client:
        async def get(self, run_id):
            return _run("succeeded")

        async def aclose(self):
            pass

    with mock.patch.object(NesRunTrigger, "_client", lambda self: Client()):
        async def go():
            return [e async for e in trigger.run()]

        events = asyncio.run(go())
    assert len(events) == 1 and events[0].payload["status"] == "terminal"


def test_execute_pushes_xcom_before_waiting_and_returns_the_result():
    op = NesOperator(task_id="t", notebook="nb.ipynb", deferrable=False, poll_interval=0)
    ti = mock.Mock(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)
    client = mock.Mock()
    client.list.return_value = {"runs": []}
    client.submit.return_value = _run("queued")
    client.get.side_effect = [_run("running"), _run("succeeded")]
    with mock.patch.object(NesHook, "get_conn", return_value=client):
        result = op.execute({"ti": ti, "run_id": "r"})
    assert result["status"] == "succeeded" and result["run_id"] == "r1"
    ti.xcom_push.assert_any_call(key=XCOM_RUN_ID, value="r1")
    ti.xcom_push.assert_any_call(key=XCOM_VIEWER_URL, value="http://nes/runs/r1")


def test_execute_complete_and_sensor_never_treat_cancel_as_success():
    op = NesOperator(task_id="t", notebook="nb.ipynb")
    with pytest.raises(NesRunCancelledError):
        op.execute_complete({}, terminal_event(_run("cancelled")))
    sensor = NesRunSensor(task_id="s", run_id="r1")
    with pytest.raises(NesRunCancelledError):
        sensor.execute_complete({}, terminal_event(_run("cancelled")))


def test_on_kill_cancels_the_run():
    op = NesOperator(task_id="t", notebook="nb.ipynb")
    op._nes_run_id = "r1"
    client = mock.Mock()
    with mock.patch.object(NesHook, "get_conn", return_value=client):
        op.on_kill()
    client.cancel.assert_called_once_with("r1")


def test_example_dags_parse():
    import pathlib
    import runpy

    runpy.run_path(str(pathlib.Path(__file__).parents[1] / "example_dags" / "example_nes.py"))
