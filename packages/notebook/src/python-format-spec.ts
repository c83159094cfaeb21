/**
 * Python's format-spec mini-language (`format(value, spec)`) for the values a path template can
 * hold: int (number or bigint), float (number or FloatValue), bool, str. papermill fills output
 * paths with `str.format`, and its tests use `{n:03d}` and `{f:.03f}`.
 *
 *   [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type]
 *
 * Floats are rounded as CPython rounds them: from the double's exact decimal expansion, ties to
 * even (JavaScript's toFixed rounds ties away from zero: `(2.5).toFixed(0)` is '3', Python '2').
 * Not supported (an error rather than a guess): zero padding together with a grouping option.
 */
import { FloatValue } from './translators/index.ts';
import { pythonFloatRepr } from './translators/python-float-repr.ts';

export class FormatSpecError extends Error {
  override name = 'FormatSpecError';
}

interface Spec {
  fill: string;
  align: '<' | '>' | '=' | '^' | null;
  sign: '+' | '-' | ' ';
  z: boolean;
  alternate: boolean;
  width: number;
  grouping: ',' | '_' | null;
  precision: number | null;
  type: string;
}

const SPEC =
  /^(?:(?<fill>[\s\S])?(?<align>[<>=^]))?(?<sign>[+\- ])?(?<z>z)?(?<alt>#)?(?<zero>0)?(?<width>\d+)?(?<grouping>[,_])?(?:\.(?<precision>\d+))?(?<type>[bcdeEfFgGnosxX%])?$/u;

function parseSpec(text: string): Spec {
  const match = SPEC.exec(text);
  if (match?.groups === undefined) throw new FormatSpecError(`Invalid format specifier '${text}'`);
  const g = match.groups;
  const zero = g.zero !== undefined;
  return {
    fill: g.fill ?? (zero && g.align === undefined ? '0' : ' '),
    align: (g.align as Spec['align']) ?? (zero ? '=' : null),
    sign: (g.sign as Spec['sign']) ?? '-',
    z: g.z !== undefined,
    alternate: g.alt !== undefined,
    width: g.width === undefined ? 0 : Number(g.width),
    grouping: (g.grouping as Spec['grouping']) ?? null,
    precision: g.precision === undefined ? null : Number(g.precision),
    type: g.type ?? '',
  };
}

/** `format(value, spec)`; `str` is Python's str() of values that are neither numbers nor text. */
export function formatWithSpec(value: unknown, specText: string, str: (v: unknown) => string) {
  if (specText === '') return str(value);
  const spec = parseSpec(specText);
  if (typeof value === 'string') return formatString(value, spec);
  if (typeof value === 'boolean') return formatInt(value ? 1n : 0n, spec);
  if (typeof value === 'bigint') return formatInt(value, spec);
  if (value instanceof FloatValue) return formatFloat(value.value, spec);
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && !Object.is(value, -0)
      ? formatInt(BigInt(value), spec)
      : formatFloat(value, spec);
  }
  throw new FormatSpecError(
    `unsupported format string passed to ${pythonTypeOf(value)}.__format__ (${str(value)})`,
  );
}

function pythonTypeOf(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Map || typeof value === 'object') return 'dict';
  return typeof value;
}

function formatString(value: string, spec: Spec): string {
  if (spec.type !== '' && spec.type !== 's') {
    throw new FormatSpecError(`Unknown format code '${spec.type}' for object of type 'str'`);
  }
  if (spec.sign !== '-' || spec.alternate || spec.grouping || spec.align === '=') {
    throw new FormatSpecError(`Invalid format specifier for object of type 'str'`);
  }
  const chars = [...value];
  const text = spec.precision === null ? value : chars.slice(0, spec.precision).join('');
  return pad('', text, spec, '<');
}

function formatInt(value: bigint, spec: Spec): string {
  const type = spec.type;
  if ('eEfFgG%'.includes(type) && type !== '') return formatFloat(Number(value), spec);
  if (spec.precision !== null) {
    throw new FormatSpecError('Precision not allowed in integer format specifier');
  }
  if (type === 'c') return pad('', String.fromCodePoint(Number(value)), spec, '>');
  const radix = { b: 2, o: 8, x: 16, X: 16 }[type] ?? 10;
  if (!['', 'd', 'n', 'b', 'o', 'x', 'X'].includes(type)) {
    throw new FormatSpecError(`Unknown format code '${type}' for object of type 'int'`);
  }
  let digits = (value < 0n ? -value : value).toString(radix);
  if (type === 'X') digits = digits.toUpperCase();
  if (spec.grouping) digits = group(digits, spec.grouping, radix === 10 ? 3 : 4);
  const prefix = spec.alternate && radix !== 10 ? `0${type}` : '';
  return pad(signOf(value < 0n, spec) + prefix, digits, spec, '>');
}

function formatFloat(value: number, spec: Spec): string {
  const type = spec.type;
  if (!['', 'e', 'E', 'f', 'F', 'g', 'G', 'n', '%'].includes(type)) {
    throw new FormatSpecError(`Unknown format code '${type}' for object of type 'float'`);
  }
  let negative = value < 0 || Object.is(value, -0);
  let x = Math.abs(value);
  if (type === '%') x *= 100;
  let body: string;
  if (!Number.isFinite(x)) {
    body = Number.isNaN(x) ? 'nan' : 'inf';
    if (type === 'E' || type === 'F' || type === 'G') body = body.toUpperCase();
  } else if (type === '' && spec.precision === null) {
    body = pythonFloatRepr(x);
  } else {
    const precision = spec.precision ?? 6;
    switch (type) {
      case 'f':
      case 'F':
      case '%':
        body = fixed(x, precision, spec.alternate);
        break;
      case 'e':
      case 'E':
        body = exponent(x, precision, spec.alternate);
        if (type === 'E') body = body.toUpperCase();
        break;
      default:
        body = general(x, precision, spec.alternate || type === '', type === '');
        if (type === 'G') body = body.toUpperCase();
    }
    if (spec.z && Number(body.replace(/e.*$/i, '')) === 0) negative = false;
  }
  if (spec.grouping) {
    const [whole = '', rest = ''] = splitNumber(body);
    body = group(whole, spec.grouping, 3) + rest;
  }
  if (type === '%') body += '%';
  return pad(signOf(negative, spec), body, spec, '>');
}

function splitNumber(body: string): [string, string] {
  const at = body.search(/[^0-9]/);
  return at < 0 ? [body, ''] : [body.slice(0, at), body.slice(at)];
}

function signOf(negative: boolean, spec: Spec): string {
  if (negative) return '-';
  return spec.sign === '-' ? '' : spec.sign;
}

function group(digits: string, separator: string, size: number): string {
  let out = '';
  for (let i = digits.length; i > 0; i -= size) {
    const chunk = digits.slice(Math.max(0, i - size), i);
    out = out === '' ? chunk : `${chunk}${separator}${out}`;
  }
  return out;
}

function pad(sign: string, body: string, spec: Spec, defaultAlign: '<' | '>'): string {
  const length = [...sign].length + [...body].length;
  const missing = Math.max(0, spec.width - length);
  if (missing === 0) return sign + body;
  if (spec.grouping && spec.align === '=' && spec.fill === '0') {
    throw new FormatSpecError('zero padding with a grouping option is not supported');
  }
  const fill = (n: number) => spec.fill.repeat(n);
  switch (spec.align ?? defaultAlign) {
    case '<':
      return sign + body + fill(missing);
    case '^':
      return fill(Math.floor(missing / 2)) + sign + body + fill(Math.ceil(missing / 2));
    case '=':
      return sign + fill(missing) + body;
    default:
      return fill(missing) + sign + body;
  }
}

/** The exact decimal value of a finite, non-negative double: value = digits x 10^-scale. */
function exactDecimal(x: number): { digits: bigint; scale: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponentBits = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exponent: number;
  if (exponentBits === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = exponentBits - 1075;
  }
  if (exponent >= 0) return { digits: mantissa << BigInt(exponent), scale: 0 };
  return { digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** digits / 10^drop, rounded half to even. */
function roundDrop(digits: bigint, drop: number): bigint {
  if (drop <= 0) return digits * 10n ** BigInt(-drop);
  const divisor = 10n ** BigInt(drop);
  const quotient = digits / divisor;
  const remainder = digits % divisor;
  const twice = remainder * 2n;
  if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

/** 'f': `precision` digits after the point. */
function fixed(x: number, precision: number, alternate: boolean): string {
  const { digits, scale } = exactDecimal(x);
  const text = roundDrop(digits, scale - precision)
    .toString()
    .padStart(precision + 1, '0');
  const whole = text.slice(0, text.length - precision);
  const fraction = text.slice(text.length - precision);
  return precision > 0 ? `${whole}.${fraction}` : alternate ? `${whole}.` : whole;
}

/** `precision + 1` significant digits and the decimal exponent of the first. */
function significant(x: number, count: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(count), exp: 0 };
  const { digits, scale } = exactDecimal(x);
  const length = digits.toString().length;
  let rounded = roundDrop(digits, length - count).toString();
  let exp = length - 1 - scale;
  if (rounded.length > count) {
    rounded = rounded.slice(0, count);
    exp += 1;
  }
  return { digits: rounded, exp };
}

function exponentSuffix(exp: number): string {
  return `e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** 'e': one digit, the point, `precision` digits, the exponent. */
function exponent(x: number, precision: number, alternate: boolean): string {
  const { digits, exp } = significant(x, precision + 1);
  const mantissa =
    precision > 0 ? `${digits[0]}.${digits.slice(1)}` : `${digits}${alternate ? '.' : ''}`;
  return mantissa + exponentSuffix(exp);
}

/**
 * 'g' (and the empty type with a precision, which keeps one digit after the point of a
 * fixed-point result): the shorter notation for `precision` significant digits.
 */
function general(x: number, precision: number, keepZeros: boolean, noType: boolean): string {
  const p = precision === 0 ? 1 : precision;
  const { exp } = significant(x, p);
  // The empty type switches to scientific notation one digit earlier (Python's docs).
  let body: string;
  if (exp >= -4 && exp < (noType ? p - 1 : p)) {
    body = fixed(x, p - 1 - exp, keepZeros && !noType);
    if (noType) body = stripZeros(body, true);
    else if (!keepZeros) body = stripZeros(body, false);
  } else {
    const e = exponent(x, p - 1, keepZeros && !noType);
    const at = e.indexOf('e');
    let mantissa = e.slice(0, at);
    if (!keepZeros || noType) mantissa = stripZeros(mantissa, false);
    body = mantissa + e.slice(at);
  }
  return body;
}

/** Trailing zeros (and a bare point) removed; `keepOne` leaves `1.0` rather than `1`. */
function stripZeros(text: string, keepOne: boolean): string {
  if (!text.includes('.')) return keepOne ? `${text}.0` : text;
  const stripped = text.replace(/0+$/, '').replace(/\.$/, '');
  return keepOne && !stripped.includes('.') ? `${stripped}.0` : stripped;
}
