/**
 * papermill's `add_builtin_parameters`: a `pm` parameter with a run UUID and the start time, for
 * output path templates such as `out/{pm[run_uuid]}.ipynb`. papermill uses them only for paths:
 * they are not injected into the notebook.
 *
 * papermill stores Python naive `datetime`s (`datetime.now()`, `datetime.utcnow()`), so
 * formatting them follows `str(datetime)` and `strftime`; `PythonDateTime` reproduces both.
 * The clock and the UUID source are injectable so tests and reruns are reproducible.
 */
export interface BuiltinParameterSources {
  /** The current instant. */
  now?: () => Date;
  /** A random UUID in canonical form (papermill: `str(uuid4())`). */
  uuid?: () => string;
}

/** A naive date and time, as Python's `datetime` without tzinfo. */
export class PythonDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly microsecond: number;

  constructor(fields: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
    microsecond: number;
  }) {
    this.year = fields.year;
    this.month = fields.month;
    this.day = fields.day;
    this.hour = fields.hour;
    this.minute = fields.minute;
    this.second = fields.second;
    this.microsecond = fields.microsecond;
  }

  /** The instant's wall-clock time in UTC (`datetime.utcnow()`). */
  static utc(date: Date): PythonDateTime {
    return new PythonDateTime({
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      hour: date.getUTCHours(),
      minute: date.getUTCMinutes(),
      second: date.getUTCSeconds(),
      microsecond: date.getUTCMilliseconds() * 1000,
    });
  }

  /** The instant's wall-clock time in this process's time zone (`datetime.now()`). */
  static local(date: Date): PythonDateTime {
    return new PythonDateTime({
      year: date.getFullYear(),
      month: date.getMonth() + 1,
      day: date.getDate(),
      hour: date.getHours(),
      minute: date.getMinutes(),
      second: date.getSeconds(),
      microsecond: date.getMilliseconds() * 1000,
    });
  }

  /** `str(datetime)`: `2024-05-01 09:03:07.250000`; the fraction only when non-zero. */
  toString(): string {
    const base = this.strftime('%Y-%m-%d %H:%M:%S');
    return this.microsecond === 0 ? base : `${base}.${pad(this.microsecond, 6)}`;
  }

  /** `datetime.strftime` for the portable directives (C89 plus `%f`); others throw. */
  strftime(format: string): string {
    return format.replace(/%(.)/gs, (_, directive: string) => this.directive(directive));
  }

  private directive(directive: string): string {
    switch (directive) {
      case 'Y':
        return pad(this.year, 4);
      case 'y':
        return pad(this.year % 100, 2);
      case 'm':
        return pad(this.month, 2);
      case 'd':
        return pad(this.day, 2);
      case 'H':
        return pad(this.hour, 2);
      case 'I':
        return pad(this.hour % 12 === 0 ? 12 : this.hour % 12, 2);
      case 'p':
        return this.hour < 12 ? 'AM' : 'PM';
      case 'M':
        return pad(this.minute, 2);
      case 'S':
        return pad(this.second, 2);
      case 'f':
        return pad(this.microsecond, 6);
      case 'j':
        return pad(this.dayOfYear(), 3);
      case 'a':
        return WEEKDAYS[this.weekday()]?.slice(0, 3) ?? '';
      case 'A':
        return WEEKDAYS[this.weekday()] ?? '';
      case 'b':
        return MONTHS[this.month - 1]?.slice(0, 3) ?? '';
      case 'B':
        return MONTHS[this.month - 1] ?? '';
      case '%':
        return '%';
      default:
        throw new RangeError(`unsupported strftime directive %${directive}`);
    }
  }

  private weekday(): number {
    return new Date(Date.UTC(this.year, this.month - 1, this.day)).getUTCDay();
  }

  private dayOfYear(): number {
    const start = Date.UTC(this.year, 0, 1);
    return (Date.UTC(this.year, this.month - 1, this.day) - start) / 86_400_000 + 1;
  }
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

export interface PapermillBuiltins {
  run_uuid: string;
  current_datetime_local: PythonDateTime;
  current_datetime_utc: PythonDateTime;
}

/**
 * `{ pm: {...}, ...parameters }`: as in papermill, a user parameter named `pm` replaces the
 * built-in one. Both datetimes come from one reading of the clock.
 */
export function addBuiltinParameters(
  parameters: Record<string, unknown>,
  sources: BuiltinParameterSources = {},
): Record<string, unknown> {
  const now = (sources.now ?? (() => new Date()))();
  const pm: PapermillBuiltins = {
    run_uuid: (sources.uuid ?? (() => globalThis.crypto.randomUUID()))(),
    current_datetime_local: PythonDateTime.local(now),
    current_datetime_utc: PythonDateTime.utc(now),
  };
  return { pm, ...parameters };
}
