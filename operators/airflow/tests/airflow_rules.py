"""The rules real Airflow enforces on an operator, a sensor, a DAG file and a trigger, as data and
small checkers, read from Airflow's own source (apache/airflow) so they can be checked here, where
Airflow cannot be installed. Each rule names the file it comes from.

Sources read (stored copies of apache/airflow):
- S1 airflow/serialization/serialized_objects.py, 2.x (``SerializedBaseOperator.serialize_operator``):
  ``forbidden_fields = set(inspect.signature(BaseOperator.__init__).parameters.keys())`` minus
  ``{"email"}``; a template field in it raises ``AirflowException("Cannot template BaseOperator
  field: ...")``, which ``serialize_dag`` re-raises as ``SerializationError("Failed to serialize
  DAG ...")``: the DAG file is recorded as broken and the scheduler never sees the DAG.
- S2 airflow-core/src/airflow/serialization/serialized_objects.py, 3.x: the same refusal, over
  ``SerializedBaseOperator._CONSTRUCTOR_PARAMS`` (the parameters with defaults of both the core
  and the task-SDK ``BaseOperator.__init__``). ``populate_operator`` decodes a non-templated key
  ``resources`` with ``Resources.from_dict`` and any key ending in ``_date`` as a datetime.
  Extra links are stored as ``{link.name: link.xcom_key}`` and come back as ``XComOperatorLink``s
  that read that XCom: no link code runs in the API server.
- S3 airflow/models/baseoperator.py, 2.x: ``BaseOperatorMeta._apply_defaults`` fills any
  ``__init__`` parameter from ``default_args`` and, after ``__init__``, calls
  ``set_xcomargs_dependencies`` which reads every template field with ``getattr`` (a template
  field that is not an attribute fails the DAG file); ``partial()`` runs
  ``coerce_resources`` = ``Resources(**resources)`` on ``resources`` and
  ``validate_mapping_kwargs`` on the rest.
- S4 task-sdk/src/airflow/sdk/bases/operator.py (and definitions/baseoperator.py), 3.x:
  ``BaseOperator.__init__``'s parameters; unknown keywords raise ``TypeError("Invalid arguments
  were passed ...")``; ``__setattr__`` converts ``resources`` with ``Resources(**resources)``.
- S5 task-sdk/src/airflow/sdk/__init__.py (task-sdk 1.0.6, Airflow 3.0.6): what ``airflow.sdk``
  exports.
- S6 task-sdk/src/airflow/sdk/execution_time/task_runner.py, 3.x: ``finalize`` pushes
  ``link.get_link(operator=task, ti_key=ti)`` to XCom under ``link.xcom_key`` when the task ends;
  ``RuntimeTaskInstance.get_task_states(dag_id, map_index, task_ids, task_group_id,
  logical_dates, run_ids)``.
- S7 airflow-core/src/airflow/jobs/triggerer_job_runner.py, 3.x (and airflow/jobs/
  triggerer_job_runner.py, 2.x): the trigger class is rebuilt as ``trigger_class(**kwargs)`` from
  the serialized kwargs; a trigger that exits without an event fails its task ("Trigger exited
  without sending an event"); removing a trigger is ``task.cancel()`` on its asyncio task,
  followed by ``await trigger.cleanup()``, for a user's action and for a triggerer shutting down
  alike; ``block_watchdog`` logs "Triggerer's async thread was blocked for %.2f seconds" past
  0.2 s; task-SDK calls from a trigger go through ``TriggerCommsDecoder.send`` =
  ``async_to_sync(self.asend)``, so they must run inside ``sync_to_async``.
- S8 airflow-core triggers/base.py (3.x) and the 3.3 release notes / tests/integration/triggerer/
  test_on_kill.py: since 3.3.0 the triggerer calls ``BaseTrigger.on_kill()`` when a user marks a
  deferred task failed (PATCH taskInstances new_state=failed); earlier versions do not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# BaseOperator.__init__ parameters (S3 for 2.9/2.10, S4 for 3.x), as one set: a provider that
# supports 2.9 through 3.x must avoid all of them. ``self`` and ``kwargs`` are in 2.x's
# ``inspect.signature(...).parameters`` too, so they are forbidden template fields there.
BASEOPERATOR_ARGS = frozenset(
    {
        "self", "kwargs", "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries",
        "retry_delay", "retry_exponential_backoff", "max_retry_delay", "start_date", "end_date",
        "depends_on_past", "ignore_first_depends_on_past", "wait_for_past_depends_before_skipping",
        "wait_for_downstream", "dag", "params", "default_args", "priority_weight", "weight_rule", "queue",
        "pool", "pool_slots", "sla", "execution_timeout", "on_execute_callback", "on_failure_callback",
        "on_success_callback", "on_retry_callback", "on_skipped_callback", "pre_execute", "post_execute",
        "trigger_rule", "resources", "run_as_user", "task_concurrency", "map_index_template",
        "max_active_tis_per_dag", "max_active_tis_per_dagrun", "executor", "executor_config",
        "do_xcom_push", "multiple_outputs", "inlets", "outlets", "task_group", "doc", "doc_md", "doc_json",
        "doc_yaml", "doc_rst", "task_display_name", "logger_name", "allow_nested_operators",
    }
)
# S1/S2: the one BaseOperator argument the serializer lets an operator template anyway.
TEMPLATABLE_BASEOPERATOR_ARGS = frozenset({"email"})

# Attributes and properties BaseOperator (and the DAG node behind it) owns besides its arguments
# (S3, S4 and the typing stub of 2.10's baseoperator.pyi): an operator that reuses one changes
# Airflow's behaviour or breaks on assignment (S4's ``__setattr__`` converters).
BASEOPERATOR_ATTRIBUTES = frozenset(
    {
        "template_fields", "template_ext", "template_fields_renderers", "ui_color", "ui_fgcolor",
        "shallow_copy_attrs", "operator_extra_links", "partial", "supports_lineage", "subdag",
        "start_trigger_args", "start_from_trigger", "is_setup", "is_teardown", "output", "log", "label",
        "roots", "leaves", "task_type", "operator_name", "operator_class", "dag_id", "node_id",
        "upstream_task_ids", "downstream_task_ids", "upstream_list", "downstream_list",
        "priority_weight_total", "inherits_from_empty_operator", "inherits_from_skipmixin", "is_mapped",
        "extra_links", "global_operator_extra_link_dict", "operator_extra_link_dict", "has_dag",
        "expand_input", "partial_kwargs", "deps", "_dag", "_log",
    }
)

# utils/operator_resources.py: Resources(cpus, ram, disk, gpus), what Airflow's own `resources` holds.
AIRFLOW_RESOURCE_KEYS = frozenset({"cpus", "ram", "disk", "gpus"})

# BaseSensorOperator.__init__ parameters (2.9 airflow/sensors/base.py; 3.x sdk/bases/sensor.py).
BASESENSOR_ARGS = frozenset(
    {"poke_interval", "timeout", "soft_fail", "mode", "exponential_backoff", "max_wait", "silent_fail", "never_fail"}
)

# S5: what ``from airflow.sdk import ...`` finds on Airflow 3.0 (task-sdk 1.0.6).
AIRFLOW_SDK_3_0_EXPORTS = frozenset(
    {
        "Asset", "AssetAlias", "AssetAll", "AssetAny", "AssetWatcher", "BaseNotifier", "BaseOperator",
        "BaseOperatorLink", "BaseSensorOperator", "Connection", "Context", "DAG", "EdgeModifier", "Label",
        "Metadata", "ObjectStoragePath", "Param", "PokeReturnValue", "TaskGroup", "Variable", "XComArg",
        "asset", "chain", "chain_linear", "cross_downstream", "dag", "get_current_context",
        "get_parsing_context", "literal", "setup", "task", "task_group", "teardown",
    }
)

# S1/S2 (BaseSerialization.serialize): what a mapped operator's partial/expand values and a
# trigger's kwargs may hold and come back as themselves; anything else is stored as str().
SERIALIZABLE_CALLS = {"timedelta", "datetime", "date"}


def serializer_refusal(template_fields) -> Optional[str]:
    """S1/S2: the template field the scheduler refuses, if any."""
    for name in template_fields:
        if name in BASEOPERATOR_ARGS - TEMPLATABLE_BASEOPERATOR_ARGS:
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Reading classes and DAG files without importing them


@dataclass
class ClassInfo:
    name: str
    bases: list
    class_attrs: dict = field(default_factory=dict)  # name -> ast node of the value
    methods: dict = field(default_factory=dict)  # name -> FunctionDef / AsyncFunctionDef
    init_params: list = field(default_factory=list)
    init_has_kwargs: bool = False
    init_assigned: set = field(default_factory=set)  # self.X = ... in __init__

    def literal(self, name):
        return ast.literal_eval(self.class_attrs[name])


def read_classes(path: Path) -> dict:
    tree = ast.parse(path.read_text(), str(path))
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        info = ClassInfo(node.name, [ast.unparse(b) for b in node.bases])
        for item in node.body:
            if isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name):
                        info.class_attrs[target.id] = item.value
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                info.class_attrs[item.target.id] = item.value
            elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                info.methods[item.name] = item
        init = info.methods.get("__init__")
        if init is not None:
            args = init.args
            info.init_params = [a.arg for a in args.args[1:] + args.kwonlyargs]
            info.init_has_kwargs = args.kwarg is not None
            for sub in ast.walk(init):
                if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    for t in targets:
                        if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                            info.init_assigned.add(t.attr)
        out[node.name] = info
    return out


@dataclass
class TaskCall:
    """One operator or sensor instantiation in a DAG file: plain, or ``.partial(...).expand(...)``."""

    cls: str
    line: int
    kwargs: dict  # name -> ast node (plain call, or partial's)
    expand: Optional[dict] = None  # name -> ast node

    @property
    def mapped(self) -> bool:
        return self.expand is not None


def find_task_calls(source: str, class_names) -> list:
    tree = ast.parse(source)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        # X.partial(...).expand(...) / expand_kwargs(...)
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("expand", "expand_kwargs")
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Attribute)
            and func.value.func.attr == "partial"
            and isinstance(func.value.func.value, ast.Name)
            and func.value.func.value.id in class_names
        ):
            partial = func.value
            calls.append(
                TaskCall(
                    func.value.func.value.id,
                    node.lineno,
                    {k.arg: k.value for k in partial.keywords if k.arg},
                    {k.arg: k.value for k in node.keywords if k.arg} if func.attr == "expand" else {},
                )
            )
        elif isinstance(func, ast.Name) and func.id in class_names:
            calls.append(TaskCall(func.id, node.lineno, {k.arg: k.value for k in node.keywords if k.arg}))
    return calls


def value_kind(node: ast.AST) -> str:
    """What the serializer makes of an argument's value: "literal" (JSON-like, kept), "serializable"
    (timedelta/datetime, kept by BaseSerialization), "runtime" (an XComArg, a name, an expression
    resolved at run time) or "unknown" (a call the serializer would turn into str())."""
    try:
        ast.literal_eval(node)
        return "literal"
    except ValueError:
        pass
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in SERIALIZABLE_CALLS:
            return "serializable"
        return "runtime"  # a @task call (XComArg) or a helper: only known when the DAG runs
    if isinstance(node, (ast.Dict, ast.List, ast.Tuple)):
        kinds = {value_kind(v) for v in ast.iter_child_nodes(node) if isinstance(v, ast.expr)}
        return "literal" if kinds <= {"literal"} else ("runtime" if "runtime" in kinds else "unknown")
    if isinstance(node, (ast.Name, ast.Attribute)):
        return "runtime"
    return "unknown"


def check_task_call(call: TaskCall, own_params, base_args) -> list:
    """The problems Airflow would raise for one instantiation (S1-S4); an empty list if none."""
    problems = []
    every = set(call.kwargs) | set(call.expand or {})
    for name in sorted(every - set(own_params) - set(base_args)):
        problems.append(f"line {call.line}: {call.cls} has no argument {name!r} (Invalid arguments were passed)")
    if "task_id" not in call.kwargs:
        problems.append(f"line {call.line}: task_id is required")
    if call.mapped:
        both = set(call.kwargs) & set(call.expand)
        if both:
            problems.append(f"line {call.line}: given to both partial and expand: {sorted(both)}")
        for name in sorted(set(call.expand) & BASEOPERATOR_ARGS):
            problems.append(f"line {call.line}: cannot map over BaseOperator argument {name!r}")
    resources = call.kwargs.get("resources")
    if resources is not None:
        try:
            value = ast.literal_eval(resources)
        except ValueError:
            value = None
        if isinstance(value, dict) and not set(value) <= AIRFLOW_RESOURCE_KEYS:
            where = "partial() coerces it with Resources(**resources)" if call.mapped else "BaseOperator's"
            problems.append(
                f"line {call.line}: resources={sorted(value)} is Airflow's argument ({where}); "
                "the NES run's resources are nes_resources"
            )
    for name, node in list(call.kwargs.items()) + list((call.expand or {}).items()):
        if value_kind(node) == "unknown":
            problems.append(f"line {call.line}: {name}= holds a value the serializer would store as str()")
    return problems

