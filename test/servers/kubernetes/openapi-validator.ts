/**
 * Strict validation of Kubernetes objects against the official OpenAPI (swagger 2.0) spec:
 * unknown fields, wrong types, missing required fields and values outside a listed enum are all
 * errors, each with its JSON path. The spec is passed in (tests read
 * ../shared/kubernetes/swagger-v1.35.json); the executor's contract tests use the same checker on
 * every request body.
 */

interface SchemaNode {
  $ref?: string;
  type?: string;
  format?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  enum?: unknown[];
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

export interface OpenApiSpec {
  definitions: Record<string, SchemaNode>;
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export class OpenApiValidator {
  readonly #definitions: Record<string, SchemaNode>;
  readonly #byKind = new Map<string, string>();

  constructor(spec: OpenApiSpec) {
    this.#definitions = spec.definitions;
    for (const [name, node] of Object.entries(spec.definitions)) {
      for (const gvk of node['x-kubernetes-group-version-kind'] ?? []) {
        const apiVersion = gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`;
        const key = `${apiVersion}/${gvk.kind}`;
        // Prefer the type's own definition over list/event wrappers that share a GVK.
        if (!this.#byKind.has(key) || name.endsWith(`.${gvk.kind}`)) this.#byKind.set(key, name);
      }
    }
  }

  /** The definition name for an apiVersion and kind, e.g. batch/v1 Job -> io.k8s.api.batch.v1.Job. */
  definitionFor(apiVersion: string, kind: string): string | undefined {
    return this.#byKind.get(`${apiVersion}/${kind}`);
  }

  /** Validates an object by its own apiVersion and kind. */
  validateObject(value: unknown): ValidationIssue[] {
    const object = value as { apiVersion?: unknown; kind?: unknown };
    if (typeof object?.apiVersion !== 'string' || typeof object.kind !== 'string') {
      return [{ path: '$', message: 'apiVersion and kind are required' }];
    }
    const definition = this.definitionFor(object.apiVersion, object.kind);
    if (!definition) {
      return [{ path: '$', message: `unknown kind ${object.apiVersion} ${object.kind}` }];
    }
    return this.validate(definition, value);
  }

  /** Validates `value` against the named definition. */
  validate(definition: string, value: unknown): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    this.#check({ $ref: `#/definitions/${definition}` }, value, '$', issues);
    return issues;
  }

  #check(node: SchemaNode, value: unknown, path: string, issues: ValidationIssue[]): void {
    if (node.$ref) {
      const name = node.$ref.replace('#/definitions/', '');
      const target = this.#definitions[name];
      if (!target) {
        issues.push({ path, message: `the spec has no definition ${name}` });
        return;
      }
      this.#check(target, value, path, issues);
      return;
    }
    if (value === null) {
      issues.push({ path, message: 'null is not allowed' });
      return;
    }
    if (node.format === 'int-or-string') {
      if (typeof value !== 'string' && !Number.isInteger(value)) {
        issues.push({ path, message: `expected an integer or a string, got ${typeof value}` });
      }
      return;
    }
    if (node.enum && !node.enum.includes(value)) {
      issues.push({
        path,
        message: `${JSON.stringify(value)} is not one of ${node.enum.map((e) => JSON.stringify(e)).join(', ')}`,
      });
    }
    const type = node.type ?? (node.properties ? 'object' : undefined);
    switch (type) {
      case undefined:
        return; // Free-form (e.g. RawExtension, JSON).
      case 'string':
        if (typeof value !== 'string')
          issues.push({ path, message: `expected a string, got ${describe(value)}` });
        return;
      case 'integer':
        if (!Number.isInteger(value))
          issues.push({ path, message: `expected an integer, got ${describe(value)}` });
        return;
      case 'number':
        if (typeof value !== 'number')
          issues.push({ path, message: `expected a number, got ${describe(value)}` });
        return;
      case 'boolean':
        if (typeof value !== 'boolean')
          issues.push({ path, message: `expected a boolean, got ${describe(value)}` });
        return;
      case 'array':
        if (!Array.isArray(value)) {
          issues.push({ path, message: `expected an array, got ${describe(value)}` });
          return;
        }
        value.forEach((item, index) => {
          this.#check(node.items ?? {}, item, `${path}[${index}]`, issues);
        });
        return;
      case 'object': {
        if (typeof value !== 'object' || Array.isArray(value)) {
          issues.push({ path, message: `expected an object, got ${describe(value)}` });
          return;
        }
        const record = value as Record<string, unknown>;
        for (const required of node.required ?? []) {
          if (record[required] === undefined) {
            issues.push({ path: `${path}.${required}`, message: 'required field is missing' });
          }
        }
        for (const [key, item] of Object.entries(record)) {
          const property = node.properties?.[key];
          if (property) this.#check(property, item, `${path}.${key}`, issues);
          else if (typeof node.additionalProperties === 'object') {
            this.#check(node.additionalProperties, item, `${path}.${key}`, issues);
          } else if (
            node.additionalProperties !== true &&
            (node.properties || node.additionalProperties === false)
          ) {
            issues.push({ path: `${path}.${key}`, message: 'unknown field' });
          }
        }
        return;
      }
      default:
        issues.push({ path, message: `the spec uses an unsupported type ${type}` });
    }
  }
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'an array' : `${typeof value} ${JSON.stringify(value)}`;
}

const LABEL_KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kubernetes' label syntax (the API server's own check, which the schema does not express). */
export function labelIssues(
  labels: Record<string, string> | undefined,
  path: string,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : null;
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (prefix !== null && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
      issues.push({ path: `${path}.${key}`, message: 'the key prefix is not a DNS subdomain' });
    }
    if (name.length > 63 || !LABEL_KEY_NAME.test(name)) {
      issues.push({ path: `${path}.${key}`, message: 'the key name is not a valid label name' });
    }
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      issues.push({
        path: `${path}.${key}`,
        message: `${JSON.stringify(value)} is not a valid label value`,
      });
    }
  }
  return issues;
}
