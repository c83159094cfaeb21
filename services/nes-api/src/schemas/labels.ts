/**
 * Run labels, bounded the way Kubernetes bounds object labels: a key is a qualified name (an
 * optional DNS-subdomain prefix and `/`, then a name of at most 63 characters: alphanumerics,
 * `-`, `_`, `.`, beginning and ending alphanumeric), at most 64 labels a run. A key that misses
 * the pattern is refused, never skipped.
 *
 * Values are bounded (256 characters, no control characters) but not held to Kubernetes' value
 * syntax: labels are NES selectors, never copied onto Kubernetes objects, and orchestrators put
 * their own identifiers there (Airflow's `scheduled__2026-11-01T00:00:00+00:00` run ids, which
 * Kubernetes' 63-character `[A-Za-z0-9._-]` values cannot hold).
 */
import { Type } from 'typebox';

export const MAX_LABELS = 64;
const MAX_LABEL_VALUE_LENGTH = 256;

const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
const PREFIX = `(?=[a-z0-9.-]{1,253}/)${DNS_LABEL}(?:\\.${DNS_LABEL})*/`;
const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?';

/** A label key followed by `end` (a lookahead bounds the name to 63 characters before it). */
function keyPattern(end: string): string {
  return `(?:${PREFIX})?(?=[-A-Za-z0-9_.]{1,63}${end})${NAME}`;
}

const LABEL_KEY_PATTERN = `^${keyPattern('$')}$`;
const VALUE_CHARS = '[^\\u0000-\\u001f\\u007f]';
const LABEL_VALUE_PATTERN = `^${VALUE_CHARS}*$`;
/** `key=value` in a list filter. */
const LABEL_SELECTOR_PATTERN = `^${keyPattern('=')}=${VALUE_CHARS}{0,${MAX_LABEL_VALUE_LENGTH}}$`;

const KEY_RULE =
  'an optional DNS-subdomain prefix and "/", then up to 63 letters, digits, "-", "_" or "." beginning and ending with a letter or digit (as Kubernetes label keys)';

export const LabelsSchema = Type.Record(
  Type.String({ pattern: LABEL_KEY_PATTERN }),
  Type.String({ maxLength: MAX_LABEL_VALUE_LENGTH, pattern: LABEL_VALUE_PATTERN }),
  {
    additionalProperties: false,
    maxProperties: MAX_LABELS,
    description: `At most ${MAX_LABELS} labels. Keys: ${KEY_RULE}. Values: up to ${MAX_LABEL_VALUE_LENGTH} characters, no control characters`,
  },
);

export const LabelSelectorsSchema = Type.Array(Type.String({ pattern: LABEL_SELECTOR_PATTERN }), {
  maxItems: MAX_LABELS,
  description: `key=value, repeatable (at most ${MAX_LABELS}); all must match. Keys: ${KEY_RULE}`,
});

/** `key=value` selectors (as LabelSelectorsSchema admits them) as the labels they require. */
export function labelsFromSelectors(
  selectors: readonly string[] | undefined,
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of selectors ?? []) {
    const at = pair.indexOf('=');
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}
