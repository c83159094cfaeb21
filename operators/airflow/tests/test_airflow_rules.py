"""Airflow's own rules (tests/airflow_rules.py, each read from Airflow's source) checked over every
operator, sensor, trigger and example DAG of the provider, without importing Airflow: the classes
and DAG files are read with ``ast``. Where Airflow is installed, test_airflow.py runs the real
serializer and triggerer pieces on the same classes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import nes_airflow
from airflow_rules import (
    AIRFLOW_SDK_3_0_EXPORTS,
    BASEOPERATOR_ARGS,
    BASEOPERATOR_ATTRIBUTES,
    BASESENSOR_ARGS,
    TaskCall,
    check_task_call,
    find_task_calls,
    read_classes,
    serializer_refusal,
)
from nes_airflow.core import TRIGGER_CLASSPATH, XCOM_VIEWER_URL, RunPoller

PROVIDER = Path(__file__).resolve().parents[1]
SRC = PROVIDER / "src" / "nes_airflow"
EXAMPLE_DAGS = sorted((PROVIDER / "example_dags").glob("*.py"))

OPERATOR = read_classes(SRC / "operators" / "nes.py")["NesOperator"]
LINK = read_classes(SRC / "operators" / "nes.py")["NesRunLink"]
SENSOR = read_classes(SRC / "sensors" / "nes.py")["NesRunSensor"]
RESULT_SENSOR = read_classes(SRC / "sensors" / "nes.py")["NesResultSensor"]
SCHEDULE_SENSOR = read_classes(SRC / "sensors" / "nes.py")["NesScheduleSensor"]
TRIGGER = read_classes(SRC / "triggers" / "nes.py")["NesRunTrigger"]
TASK_CLASSES = {
    "NesOperator": OPERATOR,
    "NesRunNotebookOperator": OPERATOR,
    "NesRunSensor": SENSOR,
    "NesResultSensor": RESULT_SENSOR,
    "NesScheduleSensor": SCHEDULE_SENSOR,
}

# The operator as it was when every DAG with it failed to serialize (Airflow 2.9.1:
# "Cannot template BaseOperator field: 'resources'"): the rule must catch it.
BROKEN_TEMPLATE_FIELDS = ("notebook", "ref", "parameters", "kernel", "labels", "resources", "image")


# --- the scheduler's serialization rules (S1, S2) --------------------------------------------------


def test_the_serializer_rule_refuses_what_airflow_refused():
    assert serializer_refusal(BROKEN_TEMPLATE_FIELDS) == "resources"
    assert serializer_refusal(("email", "bash_command")) is None  # S1/S2 let `email` be templated
    assert serializer_refusal(("execution_timeout",)) == "execution_timeout"  # Airflow's own test case


@pytest.mark.parametrize("name", ["NesOperator", "NesRunSensor", "NesResultSensor", "NesScheduleSensor"])
def test_no_template_field_is_a_baseoperator_argument(name):
    cls = TASK_CLASSES[name]
    fields = cls.literal("template_fields")
    assert serializer_refusal(fields) is None, f"{name} templates {serializer_refusal(fields)!r}"
    if cls is not OPERATOR:  # a sensor must not template BaseSensorOperator's own settings either
        assert not set(fields) & BASESENSOR_ARGS


@pytest.mark.parametrize("name", ["NesOperator", "NesRunSensor", "NesResultSensor", "NesScheduleSensor"])
def test_template_fields_are_attributes_the_constructor_sets(name):
    # S3: set_xcomargs_dependencies reads every template field with getattr after __init__.
    cls = TASK_CLASSES[name]
    fields = cls.literal("template_fields")
    assert isinstance(cls.class_attrs["template_fields"], ast.Tuple)  # a str would be split per letter
    assert set(fields) <= cls.init_assigned, set(fields) - cls.init_assigned
    renderers = cls.literal("template_fields_renderers") if "template_fields_renderers" in cls.class_attrs else {}
    assert set(renderers) <= set(fields)


def test_the_operator_api_uses_no_name_baseoperator_reserves():
    reserved = BASEOPERATOR_ARGS | BASEOPERATOR_ATTRIBUTES
    assert not set(OPERATOR.init_params) & reserved, set(OPERATOR.init_params) & reserved
    assert not OPERATOR.init_assigned & reserved, OPERATOR.init_assigned & reserved
    methods = set(OPERATOR.methods) - {"__init__", "execute", "execute_complete", "on_kill"}
    assert not methods & reserved
    # The sensors add only their own names to BaseSensorOperator's.
    for sensor in (SENSOR, RESULT_SENSOR, SCHEDULE_SENSOR):
        own = set(sensor.init_params) | sensor.init_assigned
        assert not own & (reserved | BASESENSOR_ARGS), own & (reserved | BASESENSOR_ARGS)


def test_every_nes_run_setting_stays_templatable():
    fields = set(OPERATOR.literal("template_fields"))
    assert {"notebook", "ref", "parameters", "kernel", "labels", "nes_resources", "image", "nes_queue", "timeout"} <= fields
    assert OPERATOR.literal("template_fields_renderers")["nes_resources"] == "json"
    assert SENSOR.literal("template_fields") == ("run_id",)


# --- extra links resolvable from the serialized form (S1, S2, S6) ---------------------------------


def test_the_extra_link_resolves_from_the_serialized_operator():
    info = nes_airflow.get_provider_info()
    # Airflow 2 imports the link class by this path when it deserializes the operator.
    assert "nes_airflow.operators.nes.NesRunLink" in info["extra-links"]
    assert "__init__" not in LINK.methods  # rebuilt from the serialized {} with no arguments
    assert LINK.literal("name") == "NES run"
    get_link = LINK.methods["get_link"]
    used = {n.id for n in ast.walk(get_link) if isinstance(n, ast.Name)}
    # The serialized operator keeps only BaseOperator's fields and the template fields: the link
    # must not read the operator.
    assert "operator" not in used and "ti_key" in used
    # Airflow 3 reads the XCom named xcom_key: the key the operator pushes the URL under.
    xcom_key = LINK.methods["xcom_key"]
    returned = [n.value for n in ast.walk(xcom_key) if isinstance(n, ast.Return)]
    assert [ast.unparse(r) for r in returned] == ["XCOM_VIEWER_URL"]
    assert XCOM_VIEWER_URL == "nes_viewer_url"


def test_the_operator_pushes_the_link_before_it_waits_or_defers():
    execute = OPERATOR.methods["execute"]
    lines = {}
    for node in ast.walk(execute):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text == "ti.xcom_push" and "XCOM_VIEWER_URL" in ast.unparse(node):
                lines.setdefault("push", node.lineno)
            elif text in ("self.defer", "wait_for_run"):
                lines.setdefault(text, node.lineno)
    assert lines["push"] < lines["self.defer"] and lines["push"] < lines["wait_for_run"]


# --- DAG files (S1-S4), mapped operators included -------------------------------------------------


def _problems(source: str) -> list:
    problems = []
    for call in find_task_calls(source, set(TASK_CLASSES)):
        cls = TASK_CLASSES[call.cls]
        base = BASEOPERATOR_ARGS | (BASESENSOR_ARGS if cls is SENSOR else set())
        problems += check_task_call(call, cls.init_params, base)
    return problems


@pytest.mark.parametrize("path", EXAMPLE_DAGS, ids=lambda p: p.name)
def test_example_dags_follow_airflows_rules(path):
    source = path.read_text()
    calls = find_task_calls(source, set(TASK_CLASSES))
    assert calls, "no NES task in the example DAG file"
    assert _problems(source) == []
    assert any(c.mapped for c in calls), "the mapped (partial/expand) case is not exercised"


def test_the_dag_checker_catches_what_airflow_refuses():
    bad = """
NesOperator(task_id="a", notebook="nb", resources={"cpu": "1", "memory": "1Gi"})
NesOperator.partial(task_id="b", notebook="nb", parameters={}).expand(parameters=days())
NesOperator.partial(task_id="c", notebook="nb").expand(retries=[1, 2])
NesOperator(notebook="nb", nes_resourcez={"cpu": "1"}, task_id="d")
NesOperator(task_id="e", notebook="nb", parameters=lambda: {})
NesRunSensor(task_id="f", run_id="r", poke_interval=5, mode="reschedule")
"""
    problems = "\n".join(_problems(bad))
    assert "resources=['cpu', 'memory'] is Airflow's argument" in problems
    assert "given to both partial and expand: ['parameters']" in problems
    assert "cannot map over BaseOperator argument 'retries'" in problems
    assert "has no argument 'nes_resourcez'" in problems
    assert "parameters= holds a value the serializer would store as str()" in problems
    assert "line 7" not in problems  # the sensor call is fine


def test_the_mapped_example_is_read_as_partial_and_expand():
    source = (PROVIDER / "example_dags" / "example_nes.py").read_text()
    mapped = [c for c in find_task_calls(source, {"NesOperator"}) if c.mapped]
    assert mapped and isinstance(mapped[0], TaskCall)
    assert set(mapped[0].expand) == {"parameters"} and "task_id" in mapped[0].kwargs


# --- the trigger (S7) ------------------------------------------------------------------------------


def test_trigger_serializes_exactly_what_its_constructor_takes():
    # S7 rebuilds the trigger as trigger_class(**kwargs) from serialize()'s kwargs.
    module, cls = TRIGGER_CLASSPATH.rsplit(".", 1)
    assert module == "nes_airflow.triggers.nes" and cls == "NesRunTrigger"
    kwargs = RunPoller(run_id="r1", nes_conn_id="c", poll_interval=2, deadline=1.5, cancel_on_kill=True).serialize_kwargs()
    assert list(kwargs) == TRIGGER.init_params
    assert RunPoller(**kwargs).serialize_kwargs() == kwargs
    assert json.loads(json.dumps(kwargs)) == kwargs  # stored in Airflow's database as JSON


def test_trigger_never_calls_blocking_code_on_the_event_loop():
    # S7's watchdog: the connection lookup (NesHook -> BaseHook.get_connection) blocks; it may only
    # be handed to run_off_loop, never called inside a coroutine.
    for name, method in TRIGGER.methods.items():
        if not isinstance(method, ast.AsyncFunctionDef):
            continue
        for node in ast.walk(method):
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                assert called not in ("self._client", "read_task_instance_state", "NesHook"), (name, called)


def test_trigger_handles_a_user_kill_on_every_airflow_version():
    # S8: Airflow 3.3+ calls on_kill; S7: earlier ones only cancel the task, handled in run() through
    # the poller's on_cancel (tested in test_core.py).
    assert isinstance(TRIGGER.methods["on_kill"], ast.AsyncFunctionDef)
    run = ast.unparse(TRIGGER.methods["run"])
    assert "on_cancel=self._task_gone" in run
    assert "cancel_on_kill=self.cancel_on_kill" in ast.unparse(OPERATOR.methods["execute"])


# --- Airflow 3 import paths (S5) ------------------------------------------------------------------


def test_airflow_3_imports_exist_in_the_task_sdk():
    tree = ast.parse((SRC / "_compat.py").read_text())
    from_sdk = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "airflow.sdk":
            from_sdk |= {a.name for a in node.names}
    # BaseHook is exported from airflow.sdk only from 3.1; _compat falls back to airflow.hooks.base.
    assert from_sdk - {"BaseHook"} <= AIRFLOW_SDK_3_0_EXPORTS, from_sdk - AIRFLOW_SDK_3_0_EXPORTS
    assert {"BaseOperator", "BaseOperatorLink", "BaseSensorOperator", "PokeReturnValue"} <= from_sdk
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    # S6: the task SDK's XCom and RuntimeTaskInstance live in airflow.sdk.execution_time.
    assert {"airflow.sdk.execution_time.xcom", "airflow.sdk.execution_time.task_runner"} <= modules
    example = (PROVIDER / "example_dags" / "example_nes.py").read_text()
    assert "from airflow.sdk import task" in example  # S5: `task` is exported on 3.x
