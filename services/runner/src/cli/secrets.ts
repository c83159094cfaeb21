/**
 * Keeps secret parameter values out of log lines: a parameter whose name contains token,
 * password, passwd, secret, key or credential (any case) is shown as `***`, and its value is
 * cut out of any free text (error messages, logged output) before it is printed.
 */
import { FloatValue, stringifyParametersJson } from '@nes/notebook';

const SECRET_NAME = /token|passw(or)?d|secret|key|credential/i;
const MASK = '***';

function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A copy of `params` safe to print: secret values masked, nested mappings masked by key too. */
export function maskParameters(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    out[name] = isSecretName(name) ? MASK : maskValue(value);
  }
  return out;
}

function maskValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskValue);
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, isSecretName(String(k)) ? MASK : maskValue(v)]));
  }
  if (isMapping(value)) return maskParameters(value);
  return value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof FloatValue)
  );
}

/** The printable form of a parameter value: JSON, with bigint and float markers as numbers. */
export function formatValue(value: unknown): string {
  try {
    return stringifyParametersJson(value);
  } catch {
    return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? Number(v) : v)) ?? 'null';
  }
}

/**
 * Replaces every occurrence of a secret value in free text. Values shorter than 4 characters are
 * left alone: masking "1" everywhere hides nothing and garbles everything.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(MASK);
  return out;
}

/** The secret strings among `params` (longest first), for `redactText`. */
export function secretValues(
  params: Record<string, unknown> | Map<string, unknown>,
  inherited = false,
): string[] {
  const found: string[] = [];
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  for (const [name, value] of entries) {
    collect(value, inherited || isSecretName(name), found);
  }
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}

function collect(value: unknown, secret: boolean, found: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, secret, found);
  } else if (value instanceof Map || isMapping(value)) {
    found.push(...secretValues(value, secret));
  } else if (secret && value !== null && value !== undefined) {
    const text = value instanceof FloatValue ? String(value.value) : String(value);
    if (text.length >= 4) found.push(text);
  }
}
