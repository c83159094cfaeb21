/**
 * The service's own log lines (scheduler, executors, schedules, notifications, start-up), as
 * text for people or, with NES_LOG_FORMAT=json, one JSON object per line for a log pipeline:
 * `{time, level, component, msg, runId?, ...}`. Every part of the service logs `nes <component>
 * <level>: <message>`, and a line about a run passes the run's id as a field (LogFields) where it
 * is logged, so a run's lines are found by its id without reading the text. (The HTTP server's
 * request log is pino's JSON already, with the run id of /v1/runs/{id} routes bound to it:
 * app.ts.)
 */
import { ConfigError } from './config.ts';

export type LogFormat = 'text' | 'json';

/** What a line is about, as fields of its JSON form: `runId` for every line about a run. */
export interface LogFields {
  runId?: string | null;
  [field: string]: string | number | boolean | null | undefined;
}

/** A component's log: a level, the message, and what the line is about. */
export type ComponentLog<Level extends string = 'info' | 'warn' | 'error'> = (
  level: Level,
  message: string,
  fields?: LogFields,
) => void;

/** The service's log: a whole line (`nes <component> <level>: ...`) and its fields. */
export type ServiceLog = (line: string, fields?: LogFields) => void;
const PREFIX = /^nes(?: ([a-z][\w-]*))?(?: (debug|info|warn|error))?: ([\s\S]*)$/;

export function logFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === '' || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new ConfigError('NES_LOG_FORMAT', `expected text or json, not ${JSON.stringify(value)}`);
}

/** One log line as a JSON object (the fields a log pipeline indexes). */
export function structuredLine(
  line: string,
  fields: LogFields = {},
  now = new Date(),
): Record<string, unknown> {
  const match = PREFIX.exec(line);
  const msg = match ? (match[3] as string) : line;
  const record: Record<string, unknown> = {
    time: now.toISOString(),
    level: match?.[2] ?? (/\b(error|failed)\b/i.test(msg) ? 'error' : 'info'),
    component: match?.[1] ?? 'service',
    msg,
  };
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && !(name in record)) record[name] = value;
  }
  return record;
}

export function serviceLog(
  format: LogFormat,
  write: (text: string) => void = (text) => process.stderr.write(text),
): ServiceLog {
  if (format === 'text') return (line) => write(`${line}\n`);
  return (line, fields) => write(`${JSON.stringify(structuredLine(line, fields))}\n`);
}
