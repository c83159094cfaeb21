/**
 * What a delivery says. A webhook gets JSON: `{id, type, createdAt, run | subject...}` (the id is
 * the event's, the same on every retry and redelivery). Slack gets an incoming-webhook message:
 * `{text}` in Slack's mrkdwn, with the run's viewer link. Run events are rendered from the run as
 * stored (a finished run never changes, so a retry says the same thing).
 */
import type { Run } from '../runs/run-model.ts';
import type { NotificationEventType } from './model.ts';

export interface RenderedRun {
  run: Run;
  links: { self: string; viewer: string; results: string };
  results: Record<string, unknown>;
}

export function webhookBody(
  event: { id: string; type: NotificationEventType; createdAt: string },
  subject: { run?: RenderedRun; data?: Record<string, unknown> | null },
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: event.id,
    type: event.type,
    createdAt: event.createdAt,
  };
  if (subject.run) {
    const { run, links, results } = subject.run;
    body.run = {
      id: run.id,
      status: run.status,
      notebook: run.notebook,
      ref: run.ref,
      commitSha: run.commitSha,
      labels: run.labels,
      sweepId: run.sweepId,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      error: run.error,
      outputUri: run.outputUri,
      links,
    };
    body.results = results;
  }
  if (subject.data) Object.assign(body, subject.data);
  return body;
}

const ICON: Record<NotificationEventType, string> = {
  failed: ':x:',
  succeeded: ':white_check_mark:',
  cancelled: ':no_entry_sign:',
  timed_out: ':hourglass:',
  sweep_finished: ':checkered_flag:',
  freshness_missed: ':warning:',
};

/** Slack's mrkdwn needs &, < and > escaped in text that is not a link. */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function slackBody(
  event: { type: NotificationEventType },
  subject: { run?: RenderedRun; data?: Record<string, unknown> | null },
): { text: string } {
  const icon = ICON[event.type];
  if (subject.run) {
    const { run, links } = subject.run;
    const name = run.notebook.split('/').at(-1) ?? run.notebook;
    const failure = run.error
      ? `: ${run.error.class}${run.error.cellNumber ? ` in cell ${run.error.cellNumber}` : ''} ${run.error.ename}: ${run.error.evalue}`
      : '';
    return {
      text: `${icon} <${links.viewer}|${slackEscape(name)}> run ${slackEscape(run.id)} ${event.type.replace('_', ' ')}${slackEscape(failure.slice(0, 500))}`,
    };
  }
  const summary = typeof subject.data?.summary === 'string' ? subject.data.summary : event.type;
  return { text: `${icon} ${slackEscape(summary.slice(0, 1000))}` };
}
