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
export function valueToText(kind: FieldKind, value: unknown): string {
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
export function floatValue(n: number): unknown {
  if (!Number.isInteger(n) || !rawJson) return n;
  return { toJSON: () => rawJson(`${n}.0`) };
}

/** One field's text as the value to send. Throws ParameterError naming the field. */
export function parseField(field: ParameterField, text: string): unknown {
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
      const n = Number(trimmed);
      if (trimmed === '' || !Number.isFinite(n)) {
        throw new ParameterError(field.name, `${field.name} must be a number`);
      }
      return floatValue(n);
    }
    case 'enum':
    case 'json':
      try {
        return JSON.parse(trimmed);
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
    return JSON.parse(trimmed);
  } catch {
    return text;
  }
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
