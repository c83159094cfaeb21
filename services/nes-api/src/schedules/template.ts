/**
 * Parameter templates: Airflow's date variables and filters by their Airflow names and formats,
 * and nothing else. `{{ ds }}`, `{{ data_interval_start }}`, `{{ logical_date | ts_nodash }}`...
 * are substituted into every string value of the parameters (nested ones too); a value is never
 * evaluated, so a template can compute nothing and reach nothing. An unknown name or filter is
 * an error when the schedule is saved, not when a tick renders it.
 *
 * Formats (Airflow's templates reference, all in UTC as Airflow's context is):
 *   ds 2018-01-01 · ds_nodash 20180101 · ts 2018-01-01T00:00:00+00:00 ·
 *   ts_nodash 20180101T000000 · ts_nodash_with_tz 20180101T000000+0000 ·
 *   logical_date / data_interval_start / data_interval_end as pendulum prints them:
 *   2018-01-01T00:00:00+00:00.
 */
import { FloatValue } from '@nes/notebook';

export class TemplateError extends Error {
  readonly code = 'invalid_template';
}

export interface TemplateDates {
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
}

const DATE_VARIABLES = ['logical_date', 'data_interval_start', 'data_interval_end'] as const;
type DateVariable = (typeof DATE_VARIABLES)[number];

const FILTERS: Record<string, (date: Date) => string> = {
  ds: (d) => iso(d).slice(0, 10),
  ds_nodash: (d) => iso(d).slice(0, 10).replaceAll('-', ''),
  ts: (d) => `${iso(d)}+00:00`,
  ts_nodash: (d) => iso(d).replaceAll('-', '').replaceAll(':', ''),
  ts_nodash_with_tz: (d) => `${iso(d).replaceAll('-', '').replaceAll(':', '')}+0000`,
};

/** Shorthands of `logical_date | filter`, as Airflow defines them. */
const SHORTHANDS = new Set(Object.keys(FILTERS));

const EXPRESSION = /\{\{(.*?)\}\}/gs;
const PART = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([A-Za-z_][A-Za-z0-9_]*)\s*)?$/;

/** Seconds precision, no fraction: what Airflow prints for a cron fire time. */
function iso(date: Date): string {
  return date.toISOString().slice(0, 19);
}

function evaluate(expression: string, dates: TemplateDates | null): string {
  const match = PART.exec(expression);
  if (match === null) {
    throw new TemplateError(
      `template {{${expression}}}: only a date variable with an optional filter is allowed, e.g. {{ ds }} or {{ data_interval_end | ds }}`,
    );
  }
  const [, name, filter] = match as unknown as [string, string, string | undefined];
  let date: Date | null = null;
  let format: (d: Date) => string;
  if (SHORTHANDS.has(name)) {
    if (filter !== undefined)
      throw new TemplateError(`template {{${expression}}}: ${name} is a string; filter a date`);
    format = FILTERS[name] as (d: Date) => string;
    if (dates !== null) date = dates.logicalDate;
  } else if ((DATE_VARIABLES as readonly string[]).includes(name)) {
    if (filter !== undefined && FILTERS[filter] === undefined) {
      throw new TemplateError(
        `template {{${expression}}}: unknown filter "${filter}" (${Object.keys(FILTERS).join(', ')})`,
      );
    }
    format = FILTERS[filter ?? 'ts'] as (d: Date) => string;
    if (dates !== null) date = pick(dates, name as DateVariable);
  } else {
    throw new TemplateError(
      `template {{${expression}}}: unknown variable "${name}" (${[...DATE_VARIABLES, ...SHORTHANDS].join(', ')})`,
    );
  }
  return date === null ? '' : format(date);
}

function pick(dates: TemplateDates, name: DateVariable): Date {
  if (name === 'logical_date') return dates.logicalDate;
  if (name === 'data_interval_start') return dates.dataIntervalStart;
  return dates.dataIntervalEnd;
}

export function renderString(text: string, dates: TemplateDates | null): string {
  return text.replace(EXPRESSION, (_whole, expression: string) => evaluate(expression, dates));
}

/**
 * The parameters with every string rendered; other values (numbers, FloatValue, big integers)
 * kept as they are, ordered dicts (Map) kept ordered.
 */
export function renderParameters<T>(value: T, dates: TemplateDates): T {
  return walk(value, (text) => renderString(text, dates)) as T;
}

/** Throws TemplateError naming the first bad template; used when a schedule is saved. */
export function checkTemplates(value: unknown, path = 'parameters'): void {
  walk(
    value,
    (text, at) => {
      try {
        return renderString(text, null);
      } catch (error) {
        if (error instanceof TemplateError) throw new TemplateError(`${at}: ${error.message}`);
        throw error;
      }
    },
    path,
  );
}

function walk(value: unknown, render: (text: string, path: string) => string, path = ''): unknown {
  if (typeof value === 'string') return render(value, path);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, render, `${path}[${i}]`));
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, walk(v, render, `${path}.${String(k)}`)]));
  }
  if (value instanceof FloatValue) return value;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, walk(v, render, `${path}.${k}`)]),
    );
  }
  return value;
}
