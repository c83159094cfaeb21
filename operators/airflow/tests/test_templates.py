"""The Argo WorkflowTemplate and the Kubeflow component (operators/argo, operators/kubeflow):
well-formed, with the fields each engine requires, and their container command run for real
(the `nes` CLI against the NES service on loopback, the way the engine would substitute it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import REPO

OPERATORS = REPO / "operators"
ARGO = OPERATORS / "argo" / "nes-notebook-workflowtemplate.yaml"
KFP = OPERATORS / "kubeflow" / "nes_component.yaml"


def _env(nes) -> dict:
    return {
        **os.environ,
        "PATH": f"{REPO / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}",
        "NES_URL": nes.url,
        "NES_TOKEN": nes.token,
    }


# --- Argo ---------------------------------------------------------------------------------------


def test_argo_workflow_template_is_well_formed():
    doc = yaml.safe_load(ARGO.read_text())
    assert doc["apiVersion"] == "argoproj.io/v1alpha1" and doc["kind"] == "WorkflowTemplate"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    assert doc["spec"]["entrypoint"] in templates
    run = templates["run"]
    declared = {p["name"] for p in run["inputs"]["parameters"]}
    assert {"notebook", "ref", "parameters"} <= declared
    used = set(re.findall(r"\{\{inputs\.parameters\.([\w-]+)\}\}", ARGO.read_text()))
    assert used <= declared
    outputs = {p["name"]: p for p in run["outputs"]["parameters"]}
    assert outputs["output-uri"]["valueFrom"]["path"] == "/tmp/outputs/output-uri"
    container = run["container"]
    assert container["image"] and container["command"][0] == "sh"
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert set(secrets) == {"NES_URL", "NES_TOKEN"}
    # Inputs only reach the shell through the environment.
    assert "{{" not in container["args"][0]


def _run_argo_step(nes, tmp_path: Path, inputs: dict, workflow_uid: str) -> tuple:
    doc = yaml.safe_load(ARGO.read_text())
    run = doc["spec"]["templates"][0]
    values = {p["name"]: p.get("value", "") for p in run["inputs"]["parameters"]} | inputs
    env = _env(nes)
    for item in run["container"]["env"]:
        if "value" in item:
            text = re.sub(r"\{\{inputs\.parameters\.([\w-]+)\}\}", lambda m: values[m.group(1)], item["value"])
            env[item["name"]] = text.replace("{{workflow.uid}}", workflow_uid).replace(
                "{{workflow.name}}", "wf-test"
            )
    outputs = tmp_path / "outputs"
    script = run["container"]["args"][0].replace("/tmp/outputs", str(outputs))
    proc = subprocess.run([*run["container"]["command"], script], env=env, capture_output=True, text=True, timeout=120)
    uri = (outputs / "output-uri").read_text() if (outputs / "output-uri").exists() else None
    result = json.loads((outputs / "run.json").read_text() or "{}")
    return proc, uri, result


def test_argo_step_runs_the_notebook_and_exports_the_output_uri(nes, tmp_path):
    uid = str(uuid.uuid4())
    inputs = {"notebook": nes.notebook("hello.ipynb"), "parameters": '{"day": "2026-11-02", "count": 2}'}
    proc, uri, run = _run_argo_step(nes, tmp_path / "a", inputs, uid)
    assert proc.returncode == 0, proc.stderr
    assert run["status"] == "succeeded" and uri == run["outputUri"]
    assert run["labels"]["argo.workflow"] == "wf-test"
    assert run["parameters"] == {"day": "2026-11-02", "count": 2}
    # A retry of the step (same workflow uid and key) gets the same run back, not a new one.
    proc, uri2, again = _run_argo_step(nes, tmp_path / "b", inputs, uid)
    assert proc.returncode == 0 and again["id"] == run["id"] and uri2 == uri
    # A failing notebook: exit 1 (not retried by the template), the output URI still written.
    proc, uri, run = _run_argo_step(nes, tmp_path / "c", {"notebook": nes.notebook("fail.ipynb")}, uid + "x")
    assert proc.returncode == 1 and run["status"] == "failed" and uri


# --- Kubeflow -----------------------------------------------------------------------------------


def test_kubeflow_component_is_well_formed():
    doc = yaml.safe_load(KFP.read_text())
    assert doc["name"] and doc["implementation"]["container"]["image"]
    inputs = {i["name"] for i in doc["inputs"]}
    outputs = {o["name"] for o in doc["outputs"]}
    assert {"notebook", "parameters", "idempotency_key"} <= inputs and outputs == {"output_uri"}
    refs = [a for a in doc["implementation"]["container"]["command"] if isinstance(a, dict)]
    assert {r["inputValue"] for r in refs if "inputValue" in r} <= inputs
    assert {r["outputPath"] for r in refs if "outputPath" in r} == outputs
    for item in doc["inputs"] + doc["outputs"]:
        assert set(item) <= {"name", "type", "default", "description", "optional"}


def test_kubeflow_component_command_runs_the_notebook(nes, tmp_path):
    doc = yaml.safe_load(KFP.read_text())
    defaults = {i["name"]: i.get("default") for i in doc["inputs"]}
    values = defaults | {
        "notebook": nes.notebook("hello.ipynb"),
        "parameters": "day: '2026-11-03'",
        "idempotency_key": f"kfp-{uuid.uuid4()}",
    }
    out = tmp_path / "outputs" / "output_uri" / "data"
    argv = []
    for arg in doc["implementation"]["container"]["command"]:
        if isinstance(arg, dict):
            argv.append(values[arg["inputValue"]] if "inputValue" in arg else str(out))
        else:
            argv.append(arg)
    proc = subprocess.run(argv, env=_env(nes), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith(("file://", "/", "gs://"))
    runs = subprocess.run(
        ["nes", "list", "--label", f"kfp.key={values['idempotency_key']}", "--json"],
        env=_env(nes), capture_output=True, text=True, timeout=60,
    )
    listed = json.loads(runs.stdout)
    listed = listed["runs"] if isinstance(listed, dict) else listed
    assert len(listed) == 1 and listed[0]["parameters"] == {"day": "2026-11-03"}


if not ARGO.exists() or not KFP.exists():  # pragma: no cover
    pytest.skip("templates missing", allow_module_level=True)
