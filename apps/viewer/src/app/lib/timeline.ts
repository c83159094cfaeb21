/**
 * A run's status timeline: queued -> starting -> running -> its end, each with the time it was
 * reached. Times come from the run row (createdAt, startedAt, finishedAt) and from its `status`
 * events (the only record of when `starting` began); a step the run skipped (cancelled while
 * queued) reads "skipped", a step not reached yet "pending".
 */
import { isTerminal, type Run, type RunStatus } from '@nes/client';

export type StepState = 'done' | 'current' | 'pending' | 'skipped';

export interface TimelineStep {
  /** The status this step stands for; the last step is the terminal status once there is one. */
  status: RunStatus | 'finished';
  time: string | null;
  state: StepState;
  /** Time spent in this step (until the next reached step, or `now` when current). */
  durationMs: number | null;
}

export interface StatusEvent {
  status: RunStatus;
  time?: string;
}

const ORDER: Array<RunStatus | 'finished'> = ['queued', 'starting', 'running', 'finished'];

export function buildTimeline(
  run: Run,
  events: readonly StatusEvent[],
  now: number,
): TimelineStep[] {
  const seen = new Map<string, string>();
  for (const event of events) {
    if (!event || typeof event.status !== 'string' || !event.time) continue;
    const key = isTerminal(event.status) ? 'finished' : event.status;
    if (!seen.has(key)) seen.set(key, event.time);
  }
  const times: Record<string, string | null> = {
    queued: run.createdAt ?? seen.get('queued') ?? null,
    starting: seen.get('starting') ?? null,
    running: run.startedAt ?? seen.get('running') ?? null,
    finished: run.finishedAt ?? seen.get('finished') ?? null,
  };
  const terminal = isTerminal(run.status);
  const reachedIndex = terminal ? 3 : ORDER.indexOf(run.status);
  const steps: TimelineStep[] = ORDER.map((status, index) => {
    const time = times[status] ?? null;
    let state: StepState;
    if (index > reachedIndex) state = 'pending';
    else if (index === reachedIndex) state = terminal ? 'done' : 'current';
    else state = time !== null || index === 0 ? 'done' : 'skipped';
    // A step reached without a recorded time (an event older than the stream) still counts.
    if (state === 'skipped' && index < reachedIndex && status === 'starting' && times.running) {
      state = 'done';
    }
    return {
      status: status === 'finished' && terminal ? run.status : status,
      time,
      state,
      durationMs: null,
    };
  });
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as TimelineStep;
    if (step.time === null || step.state === 'pending' || step.state === 'skipped') continue;
    if (i === steps.length - 1) continue; // the end has no duration
    const next = steps.slice(i + 1).find((s) => s.time !== null && s.state !== 'pending');
    const end = next?.time ? Date.parse(next.time) : step.state === 'current' ? now : Number.NaN;
    const ms = end - Date.parse(step.time);
    step.durationMs = Number.isFinite(ms) && ms >= 0 ? ms : null;
  }
  return steps;
}

export function stepLabel(status: TimelineStep['status']): string {
  switch (status) {
    case 'finished':
      return 'finished';
    case 'timed_out':
      return 'timed out';
    default:
      return status;
  }
}
