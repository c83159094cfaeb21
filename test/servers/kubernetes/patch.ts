/**
 * The three JSON patch formats kube-apiserver takes: JSON Patch (RFC 6902), JSON Merge Patch
 * (RFC 7386) and strategic merge patch for the simple cases (maps merge, `null` deletes, lists
 * of the well-known keyed kinds merge by their key, every other list is replaced).
 * Server-side apply (`application/apply-patch+yaml`) is not served.
 */
import { sameJson } from './selectors.ts';
import { badRequest } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

export function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  switch (type) {
    case 'application/json-patch+json':
      return jsonPatch(target as Json, patch);
    case 'application/merge-patch+json':
      return mergePatch(target as Json, patch as Json);
    case 'application/strategic-merge-patch+json':
      return strategicMerge(target as Json, patch as Json, '');
  }
}

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** Lists Kubernetes' Go types mark `patchStrategy: merge`, by field name and merge key. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  imagePullSecrets: 'name',
};

function strategicMerge(target: Json, patch: Json, field: string): Json {
  if (Array.isArray(patch)) {
    const mergeKey = MERGE_KEYS[field];
    if (!mergeKey || !Array.isArray(target)) return structuredClone(patch);
    const result = structuredClone(target);
    for (const item of patch) {
      if (!isObject(item) || item[mergeKey] === undefined) {
        throw badRequest(
          `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
        );
      }
      const index = result.findIndex(
        (existing) => isObject(existing) && existing[mergeKey] === item[mergeKey],
      );
      if (item.$patch === 'delete') {
        if (index >= 0) result.splice(index, 1);
      } else if (index >= 0) result[index] = strategicMerge(result[index] ?? null, item, '');
      else result.push(structuredClone(item));
    }
    return result;
  }
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const result: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$'))
      throw badRequest(`strategic merge patch directive ${key} is not supported here`);
    if (value === null) delete result[key];
    else result[key] = strategicMerge(result[key] ?? null, value, key);
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function jsonPatch(target: Json, patch: unknown): Json {
  if (!Array.isArray(patch)) {
    throw badRequest(
      'the server rejected our request due to an error in our request: a JSON patch must be an array of operations',
    );
  }
  let document = structuredClone(target);
  for (const operation of patch as Operation[]) {
    if (
      !isObject(operation) ||
      typeof operation.op !== 'string' ||
      typeof operation.path !== 'string'
    ) {
      throw badRequest(`invalid JSON patch operation ${JSON.stringify(operation)}`);
    }
    switch (operation.op) {
      case 'add':
        document = put(document, operation.path, operation.value ?? null, 'add');
        break;
      case 'replace':
        document = put(document, operation.path, operation.value ?? null, 'replace');
        break;
      case 'remove':
        document = remove(document, operation.path);
        break;
      case 'test':
        if (!sameJson(read(document, operation.path), operation.value)) {
          throw new PatchTestFailed(operation.path);
        }
        break;
      case 'copy':
      case 'move': {
        const value = structuredClone(read(document, operation.from ?? ''));
        if (operation.op === 'move') document = remove(document, operation.from ?? '');
        document = put(document, operation.path, value, 'add');
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${operation.op}`);
    }
  }
  return document;
}

/** A failed `test` operation: kube-apiserver answers 422 Invalid. */
export class PatchTestFailed extends Error {
  constructor(path: string) {
    super(`testing value ${path} failed`);
  }
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function read(document: Json, path: string): Json {
  let current: Json = document;
  for (const token of pointer(path)) {
    if (Array.isArray(current)) current = current[Number(token)] ?? null;
    else if (isObject(current) && token in current) current = current[token] ?? null;
    else throw badRequest(`the server rejected our request: path ${path} does not exist`);
  }
  return current;
}

function parentOf(document: Json, path: string): { parent: Json; token: string } {
  const tokens = pointer(path);
  const token = tokens.pop();
  if (token === undefined) throw badRequest('a JSON patch may not replace the whole object');
  const parent = read(
    document,
    tokens.length
      ? `/${tokens.map((t) => t.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`
      : '',
  );
  return { parent, token };
}

function put(document: Json, path: string, value: Json, op: 'add' | 'replace'): Json {
  if (path === '') return structuredClone(value);
  const { parent, token } = parentOf(document, path);
  if (Array.isArray(parent)) {
    const index = token === '-' ? parent.length : Number(token);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw badRequest(`the server rejected our request: index ${token} out of range for ${path}`);
    }
    if (op === 'add') parent.splice(index, 0, structuredClone(value));
    else parent[index] = structuredClone(value);
  } else if (isObject(parent)) {
    if (op === 'replace' && !(token in parent)) {
      throw badRequest(
        `the server rejected our request: replace operation does not apply: doc is missing key: ${path}`,
      );
    }
    parent[token] = structuredClone(value);
  } else throw badRequest(`the server rejected our request: ${path} has no parent object`);
  return document;
}

function remove(document: Json, path: string): Json {
  const { parent, token } = parentOf(document, path);
  if (Array.isArray(parent)) parent.splice(Number(token), 1);
  else if (isObject(parent) && token in parent) delete parent[token];
  else
    throw badRequest(
      `the server rejected our request: remove operation does not apply: doc is missing path: ${path}`,
    );
  return document;
}
