/**
 * A Kubernetes Job's deadline (`activeDeadlineSeconds`) counts from the Job's creation, pending
 * time included; when it passes, the Job controller sends SIGTERM, which nes-run takes for a
 * cancel. The executor passes that deadline as a time (NES_DEADLINE_AT, ISO 8601) and the runner
 * stops itself a little before it, so the notebook and the manifest say timed out, as the API does.
 */
export const DEADLINE_ENV = 'NES_DEADLINE_AT';
/** Time kept to interrupt the kernel and save before the Job's deadline: 10% of what is left, 1-15 s. */
const MIN_MARGIN_MS = 1000;
const MAX_MARGIN_MS = 15_000;

/** The run's deadline in ms from now: its own timeout or the Job's, whichever comes first. */
export function effectiveDeadlineMs(
  timeoutMs: number | undefined,
  env: NodeJS.ProcessEnv,
  now: number,
): number | undefined {
  const at = Date.parse(env[DEADLINE_ENV] ?? '');
  if (Number.isNaN(at)) return timeoutMs;
  const left = at - now;
  const margin = Math.min(MAX_MARGIN_MS, Math.max(MIN_MARGIN_MS, left * 0.1));
  const jobMs = Math.max(0, Math.round(left - margin));
  return timeoutMs === undefined ? jobMs : Math.min(timeoutMs, jobMs);
}
