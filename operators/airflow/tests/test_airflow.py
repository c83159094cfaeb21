"""The Airflow classes themselves, on a real Airflow (2.9+ or 3.x): only where it is installed
(skipped here: Airflow is not installable on these machines). The same rules are checked without
Airflow in test_airflow_rules.py; these run Airflow's own serializer, triggerer contract and
``dag.test()`` on them."""

from __future__ import annotations

import asyncio
import json
import pathlib
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
    client.create_run.return_value = (_run("queued"), True)
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


EXAMPLE_DAGS = sorted((pathlib.Path(__file__).parents[1] / "example_dags").glob("*.py"))


def _serialized_round_trip(dag):
    """What the scheduler does with every DAG file: to_dict (the refusal of a templated
    BaseOperator field happens here, as does the JSON-schema check) and from_dict (Resources,
    extra links). Newer Airflow 3 releases name the encoder DagSerialization."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer

    data = Serializer.to_dict(dag)
    json.dumps(data)
    return Serializer.from_dict(data)


def _dags_in(path):
    """The DAGs of one file, loaded the way the DAG processor loads them."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), include_examples=False)
    assert not bag.import_errors, bag.import_errors
    return list(bag.dags.values())


@pytest.mark.parametrize("path", EXAMPLE_DAGS, ids=lambda p: p.name)
def test_example_dags_serialize_for_the_scheduler(path):
    dags = _dags_in(path)
    assert dags
    for dag in dags:
        restored = _serialized_round_trip(dag)
        assert set(restored.task_dict) == set(dag.task_dict)


def test_a_dag_with_every_operator_setting_serializes_and_keeps_the_link():
    import datetime as dt

    from airflow.models.dag import DAG

    with DAG(dag_id="nes_all_settings", start_date=dt.datetime(2026, 1, 1), schedule=None) as dag:
        NesOperator(
            task_id="run",
            notebook="github://o/r/nb.ipynb",
            ref="{{ params.ref }}",
            parameters={"day": "{{ ds }}"},
            kernel="python3",
            labels={"team": "ds"},
            nes_resources={"cpu": "1", "memory": "2Gi"},
            image="repo/image:1",
            nes_queue="gpu",
            timeout=dt.timedelta(hours=1),
            resources={"cpus": 2},  # Airflow's own resources stay allowed
        )
        NesOperator.partial(task_id="mapped", notebook="nb.ipynb", nes_resources={"cpu": "1"}).expand(
            parameters=[{"day": "2026-01-01"}, {"day": "2026-01-02"}]
        )
        NesRunSensor(task_id="watch", run_id="{{ params.run }}", deferrable=True)
    restored = _serialized_round_trip(dag)
    run = restored.task_dict["run"]
    assert run.nes_resources == {"cpu": "1", "memory": "2Gi"}
    # Airflow 2 rebuilds the link only if the installed provider registers it ("extra-links"):
    # `pip install ./operators/airflow` first.
    assert "NES run" in {link.name for link in run.operator_extra_links}


def test_the_deprecated_resources_argument_still_reaches_the_run():
    from nes_airflow._compat import AirflowProviderDeprecationWarning

    with pytest.warns(AirflowProviderDeprecationWarning, match="nes_resources"):
        op = NesOperator(task_id="t", notebook="nb.ipynb", resources={"cpu": "1"})
    assert op.nes_resources == {"cpu": "1"} and op.resources is None


def test_trigger_round_trips_through_its_constructor_and_has_on_kill():
    trigger = NesRunTrigger(run_id="r1", nes_conn_id="c", poll_interval=3, deadline=9.0, cancel_on_kill=True)
    classpath, kwargs = trigger.serialize()
    from airflow.utils.module_loading import import_string

    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert asyncio.iscoroutinefunction(NesRunTrigger.on_kill)


def test_dag_test_runs_a_notebook_on_nes(nes, tmp_path, monkeypatch):
    """``dag.test()`` (SQLite metadata database) against the real NES service on loopback."""
    import datetime as dt

    from airflow.models.dag import DAG

    monkeypatch.setenv("AIRFLOW_CONN_NES_DEFAULT", json.dumps({"conn_type": "nes", "host": nes.url, "password": nes.token}))
    with DAG(dag_id="nes_dag_test", start_date=dt.datetime(2026, 1, 1), schedule=None) as dag:
        NesOperator(task_id="hello", notebook=nes.notebook("hello.ipynb"), parameters={"count": 2}, poll_interval=0.5)
    from sqlalchemy.exc import OperationalError

    try:
        dag_run = dag.test()
    except OperationalError as exc:  # no metadata database: `airflow db migrate` first
        pytest.skip(f"Airflow's metadata database is not initialized: {exc}")
    assert str(getattr(dag_run.state, "value", dag_run.state)) == "success"
