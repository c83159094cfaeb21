/**
 * Checks every request against the official OpenAPI spec: the path template and verb exist,
 * every query parameter is declared for that operation, and a body validates strictly as the
 * operation's body definition (unknown fields, wrong types, missing required fields and values
 * outside an enum are all issues). One deliberate exception: pods/log `sinceTime`, which real
 * servers accept (PodLogOptions has it) but the spec's operation does not list.
 */
import { type OpenApiSpec, OpenApiValidator, type ValidationIssue } from './openapi-validator.ts';
import { loadKubernetesSpec } from './spec.ts';

interface Parameter {
  $ref?: string;
  name?: string;
  in?: string;
  schema?: { $ref?: string };
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
}

interface Spec extends OpenApiSpec {
  paths: Record<string, Record<string, Operation | Parameter[]>>;
  parameters: Record<string, Parameter>;
}

export interface SpecOperation {
  template: string;
  operationId: string;
  query: Set<string>;
  /** The body's definition name, e.g. io.k8s.api.batch.v1.Job. */
  body: string | undefined;
}

interface CompiledPath {
  template: string;
  pattern: RegExp;
  literalLength: number;
  operations: Map<string, SpecOperation>;
}

/** Accepted by kube-apiserver (PodLogOptions.sinceTime) though the operation does not declare it. */
const UNDECLARED_BUT_SERVED: Record<string, string[]> = {
  readCoreV1NamespacedPodLog: ['sinceTime'],
};

export class SpecChecker {
  readonly validator: OpenApiValidator;
  /** Compiled templates by their number of path segments (a request can only match those). */
  readonly #paths = new Map<number, CompiledPath[]>();

  constructor(spec: Spec = loadKubernetesSpec() as Spec) {
    this.validator = new OpenApiValidator(spec);
    const resolve = (parameter: Parameter): Parameter =>
      parameter.$ref
        ? (spec.parameters[parameter.$ref.replace('#/parameters/', '')] ?? {})
        : parameter;
    for (const [template, item] of Object.entries(spec.paths)) {
      const shared = ((item.parameters as Parameter[] | undefined) ?? []).map(resolve);
      const operations = new Map<string, SpecOperation>();
      for (const [method, value] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const operation = value as Operation;
        const parameters = [...shared, ...(operation.parameters ?? []).map(resolve)];
        const query = new Set(
          parameters.filter((p) => p.in === 'query').map((p) => p.name as string),
        );
        for (const extra of UNDECLARED_BUT_SERVED[operation.operationId ?? ''] ?? []) {
          query.add(extra);
        }
        const body = parameters.find((p) => p.in === 'body')?.schema?.$ref;
        operations.set(method.toUpperCase(), {
          template,
          operationId: operation.operationId ?? `${method} ${template}`,
          query,
          body: body?.replace('#/definitions/', ''),
        });
      }
      // `/version/` and `/version` are one path to kube-apiserver.
      const bare = template.length > 1 ? template.replace(/\/+$/, '') : template;
      const pattern = new RegExp(
        `^${bare.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`,
      );
      const segments = segmentCount(bare);
      const group = this.#paths.get(segments) ?? [];
      group.push({
        template,
        pattern,
        literalLength: template.replace(/\{[^}]+\}/g, '').length,
        operations,
      });
      this.#paths.set(segments, group);
    }
    // The most literal template wins (`/namespaces/{ns}/pods/{name}/log` over `.../{name}`).
    for (const group of this.#paths.values()) {
      group.sort((a, b) => b.literalLength - a.literalLength);
    }
  }

  /** The operation for a request, or why there is none. */
  operation(
    method: string,
    path: string,
  ): { operation: SpecOperation } | { issue: string; status: 404 | 405 } {
    const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
    const matches = (this.#paths.get(segmentCount(trimmed)) ?? []).filter((candidate) =>
      candidate.pattern.test(trimmed),
    );
    if (matches.length === 0) {
      return { issue: `${method} ${path}: no such path in the spec`, status: 404 };
    }
    for (const candidate of matches) {
      const operation = candidate.operations.get(method);
      if (operation) return { operation };
    }
    return {
      issue: `${method} ${path}: the spec's ${matches[0]?.template} has no ${method} operation`,
      status: 405,
    };
  }

  /** Query parameters the operation does not declare. */
  undeclaredQuery(operation: SpecOperation, query: URLSearchParams): string[] {
    return [...new Set(query.keys())].filter((name) => !operation.query.has(name));
  }

  /** Strict validation of a body as a definition. */
  validateBody(definition: string, body: unknown): ValidationIssue[] {
    return this.validator.validate(definition, body);
  }
}

function segmentCount(path: string): number {
  return path.split('/').length;
}
