/**
 * A sweep from the New-run form (`POST /v1/sweeps`): one parameter over a list of values (one run
 * per line, each checked like the field itself) or over a date range (a backfill, one run per
 * day, both ends included), with an optional limit on how many run at once.
 */
import type { SubmitSweepRequest } from '@nes/client';
import { ParameterError, type ParameterField, parseField } from './parameter-form.ts';

export type SweepMode = 'single' | 'list' | 'dates';

export interface SweepInput {
  mode: SweepMode;
  parameter: string;
  /** One value per line (list mode). */
  values: string;
  start: string;
  end: string;
  /** Empty: no limit. */
  maxConcurrency: string;
}

/** The service's cap on runs per sweep (services/nes-api/src/routes/sweeps.ts). */
const MAX_SWEEP_RUNS = 1000;

const DAY_MS = 86_400_000;

/** Days from `start` to `end` (YYYY-MM-DD), both included; null when either is not a date. */
export function daysBetween(start: string, end: string): number | null {
  const a = Date.parse(`${start}T00:00:00Z`);
  const b = Date.parse(`${end}T00:00:00Z`);
  if (!/^\d{4}-\d\d-\d\d$/.test(start) || !/^\d{4}-\d\d-\d\d$/.test(end)) return null;
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.round((b - a) / DAY_MS) + 1;
}

export type SweepPlan =
  | {
      ok: true;
      runs: number;
      body: Pick<SubmitSweepRequest, 'list' | 'dateRange' | 'maxConcurrency'>;
    }
  | { ok: false; problem: string };

/** The sweep part of the request, or what is wrong with the form's sweep fields. */
export function planSweep(input: SweepInput, fields: readonly ParameterField[]): SweepPlan {
  const field = fields.find((f) => f.name === input.parameter);
  if (!field) return { ok: false, problem: 'Pick the parameter to sweep' };
  let maxConcurrency: number | undefined;
  if (input.maxConcurrency.trim()) {
    if (!/^[1-9]\d*$/.test(input.maxConcurrency.trim()))
      return { ok: false, problem: 'The concurrency limit is a whole number of runs, 1 or more' };
    maxConcurrency = Number(input.maxConcurrency.trim());
  }
  const limit = maxConcurrency === undefined ? {} : { maxConcurrency };
  if (input.mode === 'dates') {
    const days = daysBetween(input.start, input.end);
    if (days === null) return { ok: false, problem: 'Pick the first and the last day' };
    if (days < 1) return { ok: false, problem: 'The last day is before the first' };
    if (days > MAX_SWEEP_RUNS)
      return { ok: false, problem: `${days} days: a sweep holds at most ${MAX_SWEEP_RUNS} runs` };
    return {
      ok: true,
      runs: days,
      body: { dateRange: { parameter: field.name, start: input.start, end: input.end }, ...limit },
    };
  }
  const lines = input.values.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0)
    return { ok: false, problem: `Enter the values of ${field.name}, one per line` };
  if (lines.length > MAX_SWEEP_RUNS)
    return {
      ok: false,
      problem: `${lines.length} values: a sweep holds at most ${MAX_SWEEP_RUNS} runs`,
    };
  const list: Record<string, unknown>[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      list.push({ [field.name]: parseField(field, lineText(field, line)) });
    } catch (error) {
      if (error instanceof ParameterError)
        return { ok: false, problem: `Line ${i + 1}: ${error.message}` };
      throw error;
    }
  }
  return { ok: true, runs: list.length, body: { list, ...limit } };
}

/** A line as its field would hold it: a choice may be typed bare (`fast` for `"fast"`). */
function lineText(field: ParameterField, line: string): string {
  if (field.kind === 'string') return line.trim();
  if (field.kind === 'enum') {
    try {
      JSON.parse(line);
      return line;
    } catch {
      return JSON.stringify(line.trim());
    }
  }
  return line;
}
