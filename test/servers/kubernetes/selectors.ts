/**
 * Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and field
 * selectors (`=`, `==`, `!=` on the fields each kind supports), parsed as kube-apiserver parses
 * them; a malformed selector or an unsupported field is a 400 the caller reports.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Kind } from './resources.ts';
import { badRequest } from './status.ts';

export type Selector = (object: KubeObject) => boolean;

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

const ALWAYS: Selector = () => true;

export function parseLabelSelector(text: string | undefined): Selector {
  if (!text?.trim()) return ALWAYS;
  const requirements = splitTopLevel(text).map(parseRequirement);
  return (object) => requirements.every((matches) => matches(object.metadata.labels ?? {}));
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  parts.push(current.trim());
  return parts;
}

const KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';
const VALUE = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?';
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(([^)]*)\\)$`);
const EXISTS = new RegExp(`^(!?)\\s*(${KEY})$`);

function parseRequirement(text: string): (labels: Record<string, string>) => boolean {
  let match = EQUALITY.exec(text);
  if (match) {
    const [, key = '', operator, value = ''] = match;
    return operator === '!='
      ? (labels) => labels[key] !== value
      : (labels) => labels[key] === value;
  }
  match = SET.exec(text);
  if (match) {
    const [, key = '', operator, list = ''] = match;
    const values = list.split(',').map((value) => value.trim());
    if (values.some((value) => !new RegExp(`^${VALUE}$`).test(value))) {
      throw badRequest(
        `unable to parse requirement: invalid label value in ${JSON.stringify(text)}`,
      );
    }
    return operator === 'in'
      ? (labels) => key in labels && values.includes(labels[key] as string)
      : (labels) => !(key in labels) || !values.includes(labels[key] as string);
  }
  match = EXISTS.exec(text);
  if (match) {
    const [, not, key = ''] = match;
    return not ? (labels) => !(key in labels) : (labels) => key in labels;
  }
  throw badRequest(`unable to parse requirement: found '${text}', expected: valid label selector`);
}

/** The fields kube-apiserver lets each kind select on. */
const FIELDS: Partial<Record<Kind, Record<string, (object: KubeObject) => string>>> = {
  Pod: {
    'spec.nodeName': (o) => String(get(o, 'spec', 'nodeName') ?? ''),
    'spec.restartPolicy': (o) => String(get(o, 'spec', 'restartPolicy') ?? ''),
    'spec.schedulerName': (o) => String(get(o, 'spec', 'schedulerName') ?? ''),
    'spec.serviceAccountName': (o) => String(get(o, 'spec', 'serviceAccountName') ?? ''),
    'status.phase': (o) => String(get(o, 'status', 'phase') ?? ''),
    'status.podIP': (o) => String(get(o, 'status', 'podIP') ?? ''),
  },
  Event: {
    'involvedObject.kind': (o) => String(get(o, 'involvedObject', 'kind') ?? ''),
    'involvedObject.name': (o) => String(get(o, 'involvedObject', 'name') ?? ''),
    'involvedObject.namespace': (o) => String(get(o, 'involvedObject', 'namespace') ?? ''),
    'involvedObject.uid': (o) => String(get(o, 'involvedObject', 'uid') ?? ''),
    reason: (o) => String(o.reason ?? ''),
    type: (o) => String(o.type ?? ''),
  },
  Secret: { type: (o) => String(o.type ?? '') },
  Job: { 'status.successful': (o) => String(get(o, 'status', 'succeeded') ?? '0') },
};

function get(object: KubeObject, ...path: string[]): unknown {
  let value: unknown = object;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

export function parseFieldSelector(kind: Kind, text: string | undefined): Selector {
  if (!text?.trim()) return ALWAYS;
  const fields: Record<string, (object: KubeObject) => string> = {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace ?? '',
    ...(FIELDS[kind] ?? {}),
  };
  const requirements = text.split(',').map((part) => {
    const match = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(part.trim());
    if (!match) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const [, field = '', operator, value = ''] = match;
    const read = fields[field];
    if (!read) throw badRequest(`field label not supported: ${field}`);
    return operator === '!='
      ? (object: KubeObject) => read(object) !== value
      : (object: KubeObject) => read(object) === value;
  });
  return (object) => requirements.every((matches) => matches(object));
}

/** Equal as JSON values: key order and undefined members do not matter. */
export function sameJson(a: unknown, b: unknown): boolean {
  const plain = (value: unknown) =>
    value === undefined ? null : JSON.parse(JSON.stringify(value));
  return isDeepStrictEqual(plain(a), plain(b));
}
