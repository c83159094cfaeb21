"""Example DAGs for the NES provider (see docs/orchestrators.md).

1. ``nes_daily_report``: one notebook per day; ``{{ ds }}`` is rendered into the parameters.
   Fixing a broken run means pushing the notebook and clearing the task: never redeploying the DAG.
2. ``nes_backfill_mapped``: a backfill by dynamic task mapping over dates. Each mapped task
   instance carries its own labels (dag_id, task_id, run_id, map_index), so a retry reattaches
   to its live run instead of starting a second one.
3. ``nes_backfill_sweep``: the same backfill as one sweep request (one run per day, bounded
   concurrency), watched by the sweep's id.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG

try:
    from airflow.sdk import task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task

from nes_airflow.hooks.nes import NesHook
from nes_airflow.operators.nes import NesOperator
from nes_airflow.sensors.nes import NesRunSensor

NOTEBOOK = "github://acme/notebooks/etl/daily_report.ipynb"

with DAG(
    dag_id="nes_daily_report",
    start_date=dt.datetime(2026, 10, 1),
    schedule="@daily",
    catchup=False,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=1)},
):
    report = NesOperator(
        task_id="report",
        notebook=NOTEBOOK,
        ref="main",
        parameters={"day": "{{ ds }}", "limit": 1000},
        labels={"team": "analytics"},
        timeout=dt.timedelta(hours=1),
        deferrable=True,  # waits in the triggerer, not in a worker slot
    )

    @task
    def publish(result: dict) -> None:
        print("output notebook:", result["output_uri"], "viewer:", result["viewer_url"])

    publish(report.output)


with DAG(
    dag_id="nes_backfill_mapped",
    start_date=dt.datetime(2026, 10, 1),
    schedule=None,
    params={"start": "2026-10-01", "end": "2026-10-31"},
    max_active_tasks=4,  # bounded concurrency on the Airflow side
):

    @task
    def days(params: dict | None = None) -> list:
        start = dt.date.fromisoformat(params["start"])
        end = dt.date.fromisoformat(params["end"])
        return [{"day": (start + dt.timedelta(d)).isoformat()} for d in range((end - start).days + 1)]

    NesOperator.partial(
        task_id="report_day", notebook=NOTEBOOK, ref="main", retries=3, deferrable=True
    ).expand(parameters=days())


with DAG(dag_id="nes_backfill_sweep", start_date=dt.datetime(2026, 10, 1), schedule=None):

    @task
    def submit_sweep(run_id: str | None = None) -> str:
        client = NesHook().get_conn()
        labels = {"backfill": "daily_report", "airflow.run_id": run_id}
        # Sweeps take no Idempotency-Key: a retried task finds its sweep by the labels its runs carry.
        existing = client.list(labels=labels, limit=1)["runs"]
        if existing and existing[0].get("sweepId"):
            return existing[0]["sweepId"]
        sweep = client.submit_sweep(
            {
                "notebook": NOTEBOOK,
                "ref": "main",
                "dateRange": {"parameter": "day", "start": "2026-10-01", "end": "2026-10-31"},
                "maxConcurrency": 4,
                "labels": labels,
            }
        )
        return sweep["id"]

    @task.sensor(poke_interval=60, timeout=6 * 3600, mode="reschedule")
    def sweep_done(sweep_id: str):
        sweep = NesHook().get_conn().get_sweep(sweep_id)
        if sweep["status"] in ("queued", "running"):
            return False
        if sweep["status"] != "succeeded":
            raise RuntimeError(f"sweep {sweep_id} {sweep['status']}: {sweep['counts']}")
        return True

    sweep_done(submit_sweep())


with DAG(dag_id="nes_watch_run", start_date=dt.datetime(2026, 10, 1), schedule=None, params={"nes_run_id": ""}):
    # A run started elsewhere (the viewer's "rerun", the CLI): wait for it.
    NesRunSensor(task_id="wait", run_id="{{ params.nes_run_id }}", deferrable=True, poke_interval=30)
