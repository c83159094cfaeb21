/**
 * The service's own log lines (scheduler, executors, schedules, notifications, start-up), as
 * text for people or, with NES_LOG_FORMAT=json, one JSON object per line for a log pipeline:
 * `{time, level, component, msg, runId?}`. Every part of the service logs `nes <component>
 * <level>: <message>` and names a run as `run <id>`; the JSON form lifts both into fields, so a
 * run's lines are found by its id. (The HTTP server's request log is pino's JSON already, with
 * the run id of /v1/runs/{id} routes bound to it: app.ts.)
 */
import { ConfigError } from './config.ts';

export type LogFormat = 'text' | 'json';

/** Run ids are lowercase ULIDs (db/sql-run-store.ts newRunId): 26 Crockford base-32 characters. */
const RUN_ID = /\brun ([0-9a-hjkmnp-tv-z]{26})\b/;
const PREFIX = /^nes(?: ([a-z][\w-]*))?(?: (debug|info|warn|error))?: ([\s\S]*)$/;

export function logFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === '' || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new ConfigError('NES_LOG_FORMAT', `expected text or json, not ${JSON.stringify(value)}`);
}

/** One log line as a JSON object (the fields a log pipeline indexes). */
export function structuredLine(line: string, now = new Date()): Record<string, string> {
  const match = PREFIX.exec(line);
  const msg = match ? (match[3] as string) : line;
  const record: Record<string, string> = {
    time: now.toISOString(),
    level: match?.[2] ?? (/\b(error|failed)\b/i.test(msg) ? 'error' : 'info'),
    component: match?.[1] ?? 'service',
    msg,
  };
  const runId = RUN_ID.exec(msg)?.[1];
  if (runId) record.runId = runId;
  return record;
}

export function serviceLog(
  format: LogFormat,
  write: (text: string) => void = (text) => process.stderr.write(text),
): (line: string) => void {
  if (format === 'text') return (line) => write(`${line}\n`);
  return (line) => write(`${JSON.stringify(structuredLine(line))}\n`);
}
