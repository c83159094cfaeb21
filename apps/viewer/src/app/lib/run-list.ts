/**
 * The runs list as a value: a first page from `GET /v1/runs`, then every `run` event of
 * `GET /v1/events` merged in. Events may arrive late or twice (a reconnect re-reads the page), so a
 * merge never moves a run backwards: status only goes forward and progress only grows.
 */
import type { Run, RunStatus } from '@nes/client';

export interface RunFilter {
  statuses: RunStatus[];
  /** `k=v` pairs; every one must match. */
  labels: Record<string, string>;
  /** Substring of the notebook URI (the API matches this exactly; the list filters as you type). */
  notebook: string;
  /** Free text over id, notebook, ref, commit, parameters and labels. */
  search: string;
}

export const EMPTY_FILTER: RunFilter = { statuses: [], labels: {}, notebook: '', search: '' };

const STATUS_RANK: Record<RunStatus, number> = {
  queued: 0,
  starting: 1,
  running: 2,
  succeeded: 3,
  failed: 3,
  cancelled: 3,
  timed_out: 3,
};

/** The fresher of two views of one run. */
export function newerRun(current: Run, incoming: Run): Run {
  const a = STATUS_RANK[current.status] ?? 0;
  const b = STATUS_RANK[incoming.status] ?? 0;
  if (b < a) return current;
  if (b > a) return incoming;
  if (a === 3 && current.status !== incoming.status) return current; // terminal never changes
  const pa = current.progress?.cellsDone ?? 0;
  const pb = incoming.progress?.cellsDone ?? 0;
  if (pb < pa) return { ...incoming, progress: current.progress };
  return incoming;
}

/** Newest first, as the API lists them (ties by id, so the order is stable). */
function compareRuns(a: Run, b: Run): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Merges runs into a list. A run already present is replaced by the fresher view; a new run is
 * added only when it matches the filter (so a filtered list does not fill with others' runs).
 */
export function mergeRuns(
  list: readonly Run[],
  incoming: readonly Run[],
  filter: RunFilter,
): Run[] {
  const byId = new Map(list.map((run) => [run.id, run]));
  let changed = false;
  for (const run of incoming) {
    if (!isRun(run)) continue;
    const current = byId.get(run.id);
    if (current) {
      const next = newerRun(current, run);
      if (next !== current) {
        byId.set(run.id, next);
        changed = true;
      }
    } else if (matchesFilter(run, filter)) {
      byId.set(run.id, run);
      changed = true;
    }
  }
  if (!changed) return list as Run[];
  return [...byId.values()].sort(compareRuns);
}

/** Bad data from the wire is dropped instead of crashing the list. */
export function isRun(value: unknown): value is Run {
  const run = value as Run;
  return (
    typeof run === 'object' &&
    run !== null &&
    typeof run.id === 'string' &&
    typeof run.status === 'string' &&
    run.status in STATUS_RANK &&
    typeof run.notebook === 'string' &&
    typeof run.createdAt === 'string'
  );
}

export function matchesFilter(run: Run, filter: RunFilter): boolean {
  if (filter.statuses.length > 0 && !filter.statuses.includes(run.status)) return false;
  for (const [k, v] of Object.entries(filter.labels)) {
    if (run.labels?.[k] !== v) return false;
  }
  if (filter.notebook && !run.notebook.includes(filter.notebook)) return false;
  return matchesSearch(run, filter.search);
}

function matchesSearch(run: Run, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [
    run.id,
    run.notebook,
    run.ref ?? '',
    run.commitSha ?? '',
    run.status,
    run.sweepId ?? '',
    JSON.stringify(run.parameters ?? {}),
    ...Object.entries(run.labels ?? {}).map(([k, v]) => `${k}=${v}`),
  ]
    .join(' ')
    .toLowerCase();
  return words.every((word) => haystack.includes(word));
}

/**
 * The label keys the API accepts (services/nes-api/src/schemas/labels.ts, as Kubernetes label
 * keys): an optional DNS-subdomain prefix and `/`, then up to 63 letters, digits, `-`, `_`, `.`,
 * beginning and ending with a letter or digit.
 */
const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
const LABEL_KEY = new RegExp(
  `^(?:(?=[a-z0-9.-]{1,253}/)${DNS_LABEL}(?:\\.${DNS_LABEL})*/)?(?=[-A-Za-z0-9_.]{1,63}$)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$`,
);

/**
 * `team=data env=prod` -> `{team: 'data', env: 'prod'}`. A pair without `=`, with an empty key
 * or a key the API would refuse is an error that names the pair and what is wrong with it.
 */
export function parseLabelFilter(text: string): { labels: Record<string, string>; error?: string } {
  const labels: Record<string, string> = {};
  for (const pair of text.split(/[\s,]+/).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 0) {
      return { labels, error: `Label filter "${pair}" needs a value: write it as key=value` };
    }
    const key = pair.slice(0, at);
    if (key === '') return { labels, error: `Label filter "${pair}" has no key before "="` };
    if (!LABEL_KEY.test(key)) {
      return {
        labels,
        error: `Label key "${key}" is not valid: an optional prefix like "example.com/", then up to 63 letters, digits, "-", "_" or ".", beginning and ending with a letter or digit`,
      };
    }
    if (Object.hasOwn(labels, key) && labels[key] !== pair.slice(at + 1)) {
      return { labels, error: `Label "${key}" is given twice with different values` };
    }
    labels[key] = pair.slice(at + 1);
  }
  return { labels };
}

export type RunRow =
  | { kind: 'run'; run: Run }
  | {
      kind: 'sweep';
      sweepId: string;
      runs: Run[];
      counts: Partial<Record<RunStatus, number>>;
      /** The newest run's creation time: where the group sits in the list. */
      createdAt: string;
    };

/**
 * Runs of one sweep collapse into one row, placed where its newest run would be; runs without a
 * sweep stay rows of their own. The input order (newest first) is kept within a group.
 */
export function groupSweeps(runs: readonly Run[]): RunRow[] {
  const rows: RunRow[] = [];
  const groups = new Map<string, Extract<RunRow, { kind: 'sweep' }>>();
  for (const run of runs) {
    if (!run.sweepId) {
      rows.push({ kind: 'run', run });
      continue;
    }
    let group = groups.get(run.sweepId);
    if (!group) {
      group = {
        kind: 'sweep',
        sweepId: run.sweepId,
        runs: [],
        counts: {},
        createdAt: run.createdAt,
      };
      groups.set(run.sweepId, group);
      rows.push(group);
    }
    group.runs.push(run);
    group.counts[run.status] = (group.counts[run.status] ?? 0) + 1;
  }
  return rows;
}
