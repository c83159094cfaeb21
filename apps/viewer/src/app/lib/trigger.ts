/**
 * Who or what started a run, from its labels: the token that submitted it (`nes/submitted-by`,
 * set by the service), the Airflow task instance (`airflow.dag_id`, `airflow.task_id`,
 * `airflow.run_id`, set by the NES provider; Airflow's run id says whether the scheduler or a
 * person triggered the DAG run), the run a rerun copies (`nes/rerun-of`) and its sweep.
 */
import type { Run } from '@nes/client';

export interface Trigger {
  /** The submitting token's name. */
  by: string | null;
  airflow: { dag: string; task: string; runId: string | null; how: string | null } | null;
  rerunOf: string | null;
  sweep: string | null;
}

/** Airflow's run id prefixes (`DagRunType`): how the DAG run was started. */
const AIRFLOW_RUN_TYPES: Record<string, string> = {
  scheduled: 'scheduled',
  manual: 'triggered by hand',
  backfill: 'backfill',
  dataset_triggered: 'dataset trigger',
  asset_triggered: 'asset trigger',
};

export function triggerOf(run: Pick<Run, 'labels' | 'sweepId'>): Trigger {
  const labels = run.labels ?? {};
  const dag = labels['airflow.dag_id'];
  const task = labels['airflow.task_id'];
  const runId = labels['airflow.run_id'] ?? null;
  const type = runId ? /^([a-z_]+?)__/.exec(runId)?.[1] : undefined;
  return {
    by: labels['nes/submitted-by'] ?? null,
    airflow:
      dag && task ? { dag, task, runId, how: (type && AIRFLOW_RUN_TYPES[type]) ?? null } : null,
    rerunOf: labels['nes/rerun-of'] ?? null,
    sweep: run.sweepId ?? labels['nes/sweep'] ?? null,
  };
}

/** One short line: `Airflow daily_report › load (scheduled) · by airflow-prod`. */
export function triggerText(trigger: Trigger): string {
  const parts: string[] = [];
  if (trigger.airflow) {
    parts.push(
      `Airflow ${trigger.airflow.dag} › ${trigger.airflow.task}${trigger.airflow.how ? ` (${trigger.airflow.how})` : ''}`,
    );
  }
  if (trigger.rerunOf) parts.push('rerun');
  if (trigger.by) parts.push(`by ${trigger.by}`);
  return parts.join(' · ');
}

/** Labels the trigger line already says, left out of the label chips. */
export const TRIGGER_LABELS = new Set([
  'nes/submitted-by',
  'nes/rerun-of',
  'airflow.dag_id',
  'airflow.task_id',
  'airflow.run_id',
  'airflow.map_index',
]);
