/**
 * papermill's `parameterize_path`: an input or output path is a Python `str.format` template
 * filled from the parameters (plus the `pm` built-ins), e.g.
 * `out/{region}/{pm[current_datetime_utc]:%Y-%m-%d}-{pm[run_uuid]}.ipynb`.
 *
 * Supported, as in Python: `{name}`, `{name[key]}`, `{name[0]}`, `{name.attr}` chains,
 * `{{` and `}}` escapes, conversions `!s` and `!r`, a format spec on datetimes (strftime) and
 * the format-spec mini-language on numbers and strings (`{n:03d}`, `{f:.03f}`:
 * python-format-spec.ts). A missing name or key raises `MissingParameterError` with papermill's
 * message. Anything else Python would accept but a path never needs (positional fields, nested
 * fields in specs) raises `PathTemplateError` rather than guessing.
 *
 * One leniency: `.attr` also reads a key of a plain object (Python would need `[attr]`).
 */
import { PythonDateTime } from './builtin-parameters.ts';
import { FormatSpecError, formatWithSpec } from './python-format-spec.ts';
import { FloatValue, pythonFloatRepr } from './translators/index.ts';

export class PathTemplateError extends Error {
  override name = 'PathTemplateError';
  readonly code: string = 'invalid_path_template';
}

/** papermill's `PapermillMissingParameterException`. */
export class MissingParameterError extends PathTemplateError {
  override name = 'MissingParameterError';
  override readonly code = 'missing_parameter';
  readonly parameter: string;
  constructor(parameter: string) {
    super(`Missing parameter '${parameter}'`);
    this.parameter = parameter;
  }
}

export function parameterizePath(template: string, parameters: Record<string, unknown>): string {
  let result = '';
  let i = 0;
  while (i < template.length) {
    const char = template[i];
    if (char === '{' && template[i + 1] === '{') {
      result += '{';
      i += 2;
    } else if (char === '}') {
      if (template[i + 1] !== '}')
        throw new PathTemplateError("Single '}' encountered in format string");
      result += '}';
      i += 2;
    } else if (char === '{') {
      const end = fieldEnd(template, i);
      result += renderField(template.slice(i + 1, end), parameters);
      i = end + 1;
    } else {
      result += char;
      i += 1;
    }
  }
  return result;
}

/** Index of the `}` closing the field opened at `start`; brackets may hold any character. */
function fieldEnd(template: string, start: number): number {
  let inBrackets = false;
  for (let i = start + 1; i < template.length; i++) {
    const char = template[i];
    if (inBrackets) {
      if (char === ']') inBrackets = false;
    } else if (char === '[') {
      inBrackets = true;
    } else if (char === '{') {
      throw new PathTemplateError(`nested fields are not supported in "${template}"`);
    } else if (char === '}') {
      return i;
    }
  }
  throw new PathTemplateError("Single '{' encountered in format string");
}

function renderField(field: string, parameters: Record<string, unknown>): string {
  const match = /^([^.[!:]*)((?:\.[^.[!:]*|\[[^\]]*\])*)(?:!([^:]*))?(?::(.*))?$/s.exec(field);
  if (match === null) throw new PathTemplateError(`invalid field "{${field}}"`);
  const [, name = '', accessors = '', conversion, spec] = match;
  if (name === '' || /^\d+$/.test(name)) {
    throw new PathTemplateError(
      `positional field "{${field}}": path templates take parameter names, e.g. {name}`,
    );
  }
  if (!Object.hasOwn(parameters, name)) throw new MissingParameterError(name);
  let value: unknown = parameters[name];
  for (const [, attribute, key] of accessors.matchAll(/\.([^.[]*)|\[([^\]]*)\]/g)) {
    value =
      attribute !== undefined ? getAttribute(value, attribute, field) : getItem(value, key ?? '');
  }
  return formatValue(convert(value, conversion, field), spec ?? '', field);
}

function getAttribute(value: unknown, attribute: string, field: string): unknown {
  if (attribute === '') throw new PathTemplateError(`empty attribute in "{${field}}"`);
  if (value instanceof PythonDateTime && attribute in value) {
    return value[attribute as keyof PythonDateTime];
  }
  if (isPlainObject(value) && Object.hasOwn(value, attribute)) return value[attribute];
  throw new PathTemplateError(
    `"{${field}}": ${pythonTypeName(value)} has no attribute '${attribute}'`,
  );
}

function getItem(value: unknown, key: string): unknown {
  if (Array.isArray(value) && /^\d+$/.test(key)) {
    const index = Number(key);
    if (index < value.length) return value[index];
    throw new MissingParameterError(key);
  }
  if (isPlainObject(value) && Object.hasOwn(value, key)) return value[key];
  if (value instanceof Map && value.has(key)) return value.get(key);
  throw new MissingParameterError(key);
}

function convert(value: unknown, conversion: string | undefined, field: string): unknown {
  switch (conversion) {
    case undefined:
      return value;
    case 's':
      return pythonStr(value);
    case 'r':
      return pythonRepr(value);
    default:
      throw new PathTemplateError(`unknown conversion "!${conversion}" in "{${field}}"`);
  }
}

function formatValue(value: unknown, spec: string, field: string): string {
  if (spec === '') return pythonStr(value);
  if (value instanceof PythonDateTime) return value.strftime(spec);
  try {
    return formatWithSpec(value, spec, pythonStr);
  } catch (error) {
    if (!(error instanceof FormatSpecError)) throw error;
    throw new PathTemplateError(`"{${field}}": ${error.message}`);
  }
}

/** Python's `str()` of the values parameters can hold. */
export function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof PythonDateTime) return value.toString();
  return pythonRepr(value);
}

/** Python's `repr()` of the values parameters can hold. */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pythonStringRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? String(value) : pythonFloatRepr(value);
  }
  if (value instanceof FloatValue) return pythonFloatRepr(value.value);
  if (value instanceof PythonDateTime) {
    const { year, month, day, hour, minute, second, microsecond } = value;
    const parts = [year, month, day, hour, minute, second, microsecond];
    while (parts.length > 5 && parts.at(-1) === 0) parts.pop();
    return `datetime.datetime(${parts.join(', ')})`;
  }
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isPlainObject(value) || value instanceof Map) {
    const entries = value instanceof Map ? [...value] : Object.entries(value);
    const items = entries.map(([k, v]) => `${pythonStringRepr(String(k))}: ${pythonRepr(v)}`);
    return `{${items.join(', ')}}`;
  }
  return String(value);
}

function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let body = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '\\' || char === quote) body += `\\${char}`;
    else if (char === '\n') body += '\\n';
    else if (char === '\r') body += '\\r';
    else if (char === '\t') body += '\\t';
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
    else body += char;
  }
  return `${quote}${body}${quote}`;
}

function pythonTypeName(value: unknown): string {
  if (Array.isArray(value)) return "'list' object";
  if (isPlainObject(value)) return "'dict' object";
  if (typeof value === 'string') return "'str' object";
  return `'${typeof value}' value`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
