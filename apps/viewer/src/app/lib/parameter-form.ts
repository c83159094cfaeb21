/**
 * A parameters form from `POST /v1/inspect`: one field per declared parameter, its kind from the
 * JSON Schema the API checks submits with (so the form refuses what the API would), its default
 * from the notebook, prefilled with a run's values for a rerun. Values are edited as text and
 * parsed on submit; only the fields that changed are sent, so an untouched form submits exactly
 * the notebook's defaults (new run) or the original run's values (rerun).
 */
import type { InspectResult } from '@nes/client';

export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json' | 'any';

export interface ParameterField {
  name: string;
  kind: FieldKind;
  /** null is accepted (a `None` default or an Optional type). */
  nullable: boolean;
  /** For `enum`: the allowed values. */
  options: unknown[];
  /** The notebook's default as its source text (`"world"`, `1`, `[1, 2]`). */
  defaultSource: string;
  /** The annotation, as written (`int`, `list[str]`), or null. */
  type: string | null;
  help: string;
  /** The text the field starts with. */
  initial: string;
  /** The parameter's JSON Schema from the inspection (what the API checks the value against). */
  schema: Schema;
}

type Schema = Record<string, unknown>;

function schemaTypes(schema: Schema): string[] {
  const type = schema.type;
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  if (Array.isArray(schema.anyOf)) {
    return (schema.anyOf as Schema[]).flatMap((s) =>
      s && typeof s === 'object' ? schemaTypes(s) : [],
    );
  }
  return [];
}

export function fieldKind(schema: Schema): {
  kind: FieldKind;
  nullable: boolean;
  options: unknown[];
} {
  if (Array.isArray(schema.enum)) {
    const options = schema.enum.filter((v) => v !== null);
    return { kind: 'enum', nullable: schema.enum.includes(null), options };
  }
  const types = schemaTypes(schema);
  const nullable = types.includes('null');
  const concrete = types.filter((t) => t !== 'null');
  if (concrete.length === 0)
    return { kind: nullable && types.length ? 'json' : 'any', nullable, options: [] };
  if (concrete.length > 1) {
    // int | float reads as a number; anything else mixed is edited as JSON.
    const numeric = concrete.every((t) => t === 'integer' || t === 'number');
    return { kind: numeric ? 'number' : 'json', nullable, options: [] };
  }
  const only = concrete[0];
  if (only === 'string' || only === 'integer' || only === 'number' || only === 'boolean') {
    return { kind: only, nullable, options: [] };
  }
  return { kind: 'json', nullable, options: [] };
}

/** A value as the text its field shows. */
function valueToText(kind: FieldKind, value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return kind === 'boolean' ? 'false' : '';
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'boolean':
      return value === true ? 'true' : 'false';
    case 'integer':
    case 'number':
      return typeof value === 'number' ? String(value) : JSON.stringify(value);
    case 'enum':
      return JSON.stringify(value);
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

/** The form's fields; `values` (a run's parameters) win over the notebook's defaults. */
export function buildFields(
  inspect: Pick<InspectResult, 'parameters' | 'schema'>,
  values: Record<string, unknown> = {},
): ParameterField[] {
  const properties = (inspect.schema?.properties ?? {}) as Record<string, Schema>;
  return (inspect.parameters ?? []).map((parameter) => {
    const schema = properties[parameter.name] ?? {};
    let { kind, nullable, options } = fieldKind(schema);
    const hasDefault = Object.hasOwn(schema, 'default');
    // Unannotated: a literal default tells what the notebook expects, without constraining it.
    if (kind === 'any' && hasDefault && typeof schema.default !== 'string') {
      kind = typeof schema.default === 'boolean' ? 'boolean' : 'any';
    }
    const start = Object.hasOwn(values, parameter.name)
      ? values[parameter.name]
      : hasDefault
        ? schema.default
        : undefined;
    return {
      name: parameter.name,
      kind,
      nullable,
      options,
      defaultSource: parameter.default,
      type: parameter.type,
      help: parameter.help || (typeof schema.description === 'string' ? schema.description : ''),
      initial: start === undefined ? '' : valueToText(kind, start),
      schema,
    };
  });
}

export class ParameterError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ParameterError';
    this.field = field;
  }
}

const rawJson = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

/**
 * A float the API receives as `1.0`, not `1`: it keeps Python's int/float distinction, and a
 * notebook declaring `rate: float` must not be handed an int.
 */
function floatValue(n: number): unknown {
  if (!Number.isInteger(n) || !rawJson) return n;
  return { toJSON: () => rawJson(`${n}.0`) };
}

/**
 * JSON typed in a field, read the way the API and Python read it: a number written `1.0` (or
 * `1e3`) stays a float and an integer beyond 2^53 stays exact on the wire (sent as written, by
 * JSON.rawJSON and the reviver's source text); other values as JSON.parse gives them.
 */
function parseJsonExact(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    const source = context?.source;
    if (typeof value !== 'number' || !rawJson || source === undefined) return value;
    const float = /[.eE]/.test(source);
    if (float ? Number.isInteger(value) : !Number.isSafeInteger(value)) {
      return { toJSON: () => rawJson(source) };
    }
    return value;
  });
}

/** One field's text as the value to send. Throws ParameterError naming the field. */
export function parseField(field: ParameterField, text: string): unknown {
  const value = parseText(field, text);
  const problem = schemaProblem(field.schema, plain(value));
  if (problem) throw new ParameterError(field.name, `${field.name} ${problem}`);
  return value;
}

function parseText(field: ParameterField, text: string): unknown {
  const trimmed = text.trim();
  if (field.nullable && trimmed === '' && field.kind !== 'string') return null;
  switch (field.kind) {
    case 'string':
      return text;
    case 'boolean':
      return text === 'true';
    case 'integer': {
      if (!/^[-+]?\d+$/.test(trimmed)) {
        throw new ParameterError(field.name, `${field.name} must be a whole number`);
      }
      const n = Number(trimmed);
      if (!Number.isSafeInteger(n))
        throw new ParameterError(field.name, `${field.name} is too large`);
      return n;
    }
    case 'number': {
      // Number() takes '0x10', '1e3', ' '; a person means decimal notation (and Python's 1e3).
      const n = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)
        ? Number(trimmed)
        : Number.NaN;
      if (!Number.isFinite(n)) {
        throw new ParameterError(
          field.name,
          `${field.name} must be a number (like 0.5, 3 or 1e-3), not "${trimmed}"`,
        );
      }
      return floatValue(n);
    }
    case 'enum':
    case 'json':
      try {
        return parseJsonExact(trimmed);
      } catch {
        throw new ParameterError(
          field.name,
          `${field.name} must be JSON (e.g. [1, 2] or {"a": 1})`,
        );
      }
    default:
      return parseLoose(trimmed, text);
  }
}

/** An unannotated parameter: JSON when it reads as JSON, Python's constants, else the text. */
function parseLoose(trimmed: string, text: string): unknown {
  if (trimmed === 'True') return true;
  if (trimmed === 'False') return false;
  if (trimmed === 'None') return null;
  try {
    return parseJsonExact(trimmed);
  } catch {
    return text;
  }
}

/** A value as the schema checks it: floats sent as `1.0` are plain numbers here, at any depth. */
function plain(value: unknown): unknown {
  if (value !== null && typeof value === 'object') return JSON.parse(JSON.stringify(value));
  return value;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'None',
  array: 'a list',
  object: 'a dict',
};

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(type: string, value: unknown): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/**
 * What is wrong with `value` under the inspection's schema, or null. Covers what
 * `parametersJsonSchema` produces (type, enum, const, anyOf, items, prefixItems,
 * additionalProperties, uniqueItems), so the form refuses what the API would before sending.
 */
function schemaProblem(schema: Schema, value: unknown, at = ''): string | null {
  if (!schema || typeof schema !== 'object') return null;
  const where = at ? ` (at ${at})` : '';
  if (Array.isArray(schema.enum)) {
    const ok = schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value));
    return ok
      ? null
      : `must be one of ${schema.enum.map((o) => (o === null ? 'None' : JSON.stringify(o))).join(', ')}${where}`;
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    return `must be ${JSON.stringify(schema.const)}${where}`;
  }
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as Schema[];
    if (members.some((member) => schemaProblem(member, value, at) === null)) return null;
    return `must be ${members.map(describeSchema).join(' or ')}${where}`;
  }
  const types = schemaTypes(schema);
  if (schema.type !== undefined && types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    return `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}${where}`;
  }
  if (Array.isArray(value)) {
    const prefix = Array.isArray(schema.prefixItems) ? (schema.prefixItems as Schema[]) : [];
    for (const [i, item] of value.entries()) {
      const itemSchema = prefix[i] ?? (schema.items as Schema | undefined);
      const problem = itemSchema ? schemaProblem(itemSchema, item, `${at}[${i}]`) : null;
      if (problem) return problem;
    }
    if (prefix.length > 0 && schema.items === false && value.length !== prefix.length) {
      return `must have ${prefix.length} items${where}`;
    }
    if (schema.uniqueItems === true) {
      const seen = new Set(value.map((v) => JSON.stringify(v)));
      if (seen.size !== value.length) return `must not repeat items${where}`;
    }
  } else if (value !== null && typeof value === 'object') {
    const extra = schema.additionalProperties;
    if (extra && typeof extra === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const problem = schemaProblem(extra as Schema, item, `${at}[${JSON.stringify(key)}]`);
        if (problem) return problem;
      }
    }
  }
  return null;
}

function describeSchema(schema: Schema): string {
  if (Array.isArray(schema.enum))
    return `one of ${schema.enum.map((o) => JSON.stringify(o)).join(', ')}`;
  const types = schemaTypes(schema);
  return types.length ? types.map((t) => TYPE_WORDS[t] ?? t).join(' or ') : 'any value';
}

/** Every field's problem (by name) in the texts as they stand; empty when all parse. */
export function fieldProblems(
  fields: readonly ParameterField[],
  texts: Readonly<Record<string, string>>,
): Record<string, string> {
  const problems: Record<string, string> = {};
  for (const field of fields) {
    const text = texts[field.name] ?? field.initial;
    if (text === field.initial) continue; // unchanged: the notebook's (or run's) own value
    try {
      parseField(field, text);
    } catch (error) {
      if (error instanceof ParameterError) problems[field.name] = error.message;
      else throw error;
    }
  }
  return problems;
}

/**
 * The API's 422 `details` (`[{field: 'parameters.NAME', message}]`) by parameter name, so each
 * lands on its own field; what names no parameter is left for the form's own error line.
 */
export function serverFieldErrors(details: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(details)) return out;
  for (const detail of details) {
    const field = (detail as { field?: unknown })?.field;
    const message = (detail as { message?: unknown })?.message;
    if (typeof field !== 'string' || typeof message !== 'string') continue;
    if (!field.startsWith('parameters.')) continue;
    const name = field.slice('parameters.'.length);
    if (!(name in out)) out[name] = message;
  }
  return out;
}

/** The parameters to send: the fields whose text differs from what they started with. */
export function collectParameters(
  fields: readonly ParameterField[],
  texts: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const text = texts[field.name] ?? field.initial;
    if (text === field.initial) continue;
    out[field.name] = parseField(field, text);
  }
  return out;
}
