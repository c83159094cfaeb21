/**
 * The HTTP face of the fake cluster: bearer-token authentication, the spec check of every
 * request (spec-check.ts; a violation is recorded and answered as a real server would: 404,
 * 405, 400 or 422), fault injection, URL routing to the verbs (api.ts), watches (watch.ts),
 * pod logs (logs.ts) and pod eviction. JSON only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import type { ObjectApi } from './api.ts';
import type { Kubelet } from './kubelet.ts';
import { type OpenLogStream, serveLog } from './logs.ts';
import { PATCH_TYPES, type PatchType } from './patch.ts';
import { type ResourceType, resourceByPlural } from './resources.ts';
import { type KubeObject, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import type { SpecChecker } from './spec-check.ts';
import {
  ApiError,
  badRequest,
  injected,
  invalid,
  methodNotAllowed,
  pathNotFound,
  type StatusCause,
  unauthorized,
  unsupportedMediaType,
} from './status.ts';
import type { ObjectStore } from './store.ts';
import { type OpenWatch, serveWatch } from './watch.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
  status: number;
  /** When it arrived (performance.now() of the server's process). */
  time: number;
}

export interface RequestFault {
  method?: string;
  pathPrefix?: string;
  times: number;
  status: number;
}

export interface ApiServerParts {
  token: string;
  store: ObjectStore;
  api: ObjectApi;
  kubelet: Kubelet;
  checker: SpecChecker;
  requests: RecordedRequest[];
  specViolations: string[];
  requestFaults: RequestFault[];
  watches: Set<OpenWatch>;
  logStreams: Set<OpenLogStream>;
  bookmarkIntervalMs: number;
  evict(namespace: string, name: string, graceSeconds?: number): void;
}

interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  watchPath: boolean;
}

const MAX_BODY = 3 * 1024 * 1024;

export function handleRequest(
  parts: ApiServerParts,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  const record: RecordedRequest = {
    method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    status: 0,
    time: performance.now(),
  };
  parts.requests.push(record);
  response.on('finish', () => {
    record.status ||= response.statusCode;
  });
  const fail = (error: unknown) => {
    const status = error instanceof ApiError ? error.status : injected(500).status;
    if (!(error instanceof ApiError)) console.error('fake kube-apiserver:', error);
    record.status = status.code;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.writeHead(status.code, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(status));
  };
  readBody(request)
    .then((raw) => {
      if (raw.length > 0) {
        try {
          record.body = JSON.parse(raw);
        } catch {
          record.body = raw;
        }
      }
      route(parts, method, url, raw, record, request, response);
    })
    .catch(fail);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(
          new ApiError({
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `Request entity too large: limit is ${MAX_BODY}`,
            reason: 'RequestEntityTooLarge',
            code: 413,
          }),
        );
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function route(
  parts: ApiServerParts,
  method: string,
  url: URL,
  raw: string,
  record: RecordedRequest,
  request: IncomingMessage,
  response: ServerResponse,
): undefined {
  if (request.headers.authorization !== `Bearer ${parts.token}`) throw unauthorized();
  // Handling is synchronous from here to the answer: the warnings are this request's.
  parts.api.takeWarnings();
  pendingWarnings = () => parts.api.takeWarnings();
  const fault = parts.requestFaults.find(
    (candidate) =>
      candidate.times > 0 &&
      (!candidate.method || candidate.method.toUpperCase() === method) &&
      (!candidate.pathPrefix || url.pathname.startsWith(candidate.pathPrefix)),
  );
  if (fault) {
    fault.times -= 1;
    throw injected(fault.status);
  }

  // The spec: the path and verb exist, and every query parameter is declared.
  const found = parts.checker.operation(method, url.pathname);
  if ('issue' in found) {
    parts.specViolations.push(found.issue);
    throw found.status === 404 ? pathNotFound() : methodNotAllowed(method);
  }
  const undeclared = parts.checker.undeclaredQuery(found.operation, url.searchParams);
  if (undeclared.length > 0) {
    const issue = `${method} ${url.pathname}: query parameter(s) ${undeclared.join(', ')} not declared for ${found.operation.operationId}`;
    parts.specViolations.push(issue);
    throw badRequest(issue);
  }
  const query = url.searchParams;
  const fieldValidation = query.get('fieldValidation');
  if (fieldValidation && !['Ignore', 'Warn', 'Strict'].includes(fieldValidation)) {
    throw badRequest(`fieldValidation parameter unsupported: ${fieldValidation}`);
  }
  const dryRun = query.getAll('dryRun');
  if (dryRun.some((value) => value !== 'All')) {
    throw badRequest(`Invalid dry run value: ${dryRun.join(',')}`);
  }

  if (url.pathname === '/version' || url.pathname === '/version/') {
    return json(response, 200, {
      major: '1',
      minor: '28',
      gitVersion: 'v1.28.15',
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2025-12-17T00:00:00Z',
      goVersion: 'go1.25.5',
      compiler: 'gc',
      platform: 'linux/amd64',
    });
  }
  const target = parseRoute(url.pathname);
  if (!target) throw pathNotFound();
  const { type, namespace, name, subresource } = target;

  // Bodies: strict against the operation's definition (unknown fields are errors).
  let body: unknown;
  if (raw.length > 0 && method !== 'GET') {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const acceptable =
      method === 'PATCH' ? (PATCH_TYPES as readonly string[]) : ['application/json', ''];
    if (!acceptable.includes(contentType)) throw unsupportedMediaType(contentType);
    try {
      body = JSON.parse(raw);
    } catch (error) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
    }
    if (method !== 'PATCH' && found.operation.body) {
      checkBody(parts, type, found.operation.body, body, method, url.pathname);
    }
  }

  const selectors = () => [
    parseLabelSelector(query.get('labelSelector') ?? undefined),
    parseFieldSelector(type.kind, query.get('fieldSelector') ?? undefined),
  ];
  const isDryRun = dryRun.includes('All');

  if (name === undefined) {
    switch (method) {
      case 'GET': {
        if (target.watchPath || query.get('watch') === 'true' || query.get('watch') === '1') {
          const timeout = query.get('timeoutSeconds');
          let open: OpenWatch | undefined;
          open = serveWatch(
            parts.store,
            {
              type,
              namespace,
              selectors: selectors(),
              resourceVersion: query.get('resourceVersion') ?? undefined,
              timeoutSeconds: timeout ? Number(timeout) : undefined,
              bookmarks: query.get('allowWatchBookmarks') === 'true',
              sendInitialEvents: query.get('sendInitialEvents') === 'true',
              bookmarkIntervalMs: parts.bookmarkIntervalMs,
            },
            response,
            () => {
              if (open) parts.watches.delete(open);
            },
          );
          if (!response.writableEnded) parts.watches.add(open);
          record.status = 200;
          return;
        }
        const limit = query.get('limit');
        return json(
          response,
          200,
          parts.api.list(type, namespace, selectors(), {
            ...(limit ? { limit: Number(limit) } : {}),
            ...(query.get('continue') ? { continue: query.get('continue') as string } : {}),
          }),
        );
      }
      case 'POST':
        return json(response, 201, parts.api.create(type, namespace, body as KubeObject, isDryRun));
      case 'DELETE': {
        const list = parts.api.list(type, namespace, selectors(), {}) as { items: KubeObject[] };
        for (const item of list.items) {
          try {
            parts.api.delete(type, namespace, item.metadata.name, deleteOptions(query, body));
          } catch {
            // Deleted meanwhile.
          }
        }
        return json(response, 200, { ...list, items: list.items });
      }
      default:
        throw methodNotAllowed(method);
    }
  }

  if (subresource === 'log' && type.kind === 'Pod' && method === 'GET') {
    const pod = parts.api.get(type, namespace, name) as unknown as V1Pod;
    let open: OpenLogStream | undefined;
    open = serveLog(parts.kubelet, pod, query, response, () => {
      if (open) parts.logStreams.delete(open);
    });
    if (open && !response.writableEnded) parts.logStreams.add(open);
    return;
  }
  if (subresource === 'eviction' && type.kind === 'Pod' && method === 'POST') {
    parts.api.get(type, namespace, name);
    const grace = (body as { deleteOptions?: { gracePeriodSeconds?: number } } | undefined)
      ?.deleteOptions?.gracePeriodSeconds;
    parts.evict(namespace ?? '', name, grace);
    return json(response, 201, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      code: 201,
    });
  }
  if (subresource !== undefined && !(subresource === 'status' && type.statusSubresource))
    throw pathNotFound();
  const status = subresource === 'status' ? 'status' : undefined;
  switch (method) {
    case 'GET':
      return json(response, 200, parts.api.get(type, namespace, name));
    case 'PUT':
      return json(
        response,
        200,
        parts.api.update(type, namespace, name, body as KubeObject, status, isDryRun),
      );
    case 'PATCH': {
      const contentType = (request.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim() as PatchType;
      return json(
        response,
        200,
        parts.api.patch(type, namespace, name, contentType, body, status, isDryRun),
      );
    }
    case 'DELETE': {
      const { body: result, code } = parts.api.delete(
        type,
        namespace,
        name,
        deleteOptions(query, body),
      );
      return json(response, code, result);
    }
    default:
      throw methodNotAllowed(method);
  }
}

/** Strict decoding (400) for unknown fields and wrong types, validation (422) for the rest. */
export function checkBody(
  parts: Pick<ApiServerParts, 'checker' | 'specViolations'>,
  type: ResourceType,
  definition: string,
  body: unknown,
  method: string,
  path: string,
): void {
  const issues = parts.checker.validateBody(definition, body);
  if (issues.length === 0) return;
  for (const issue of issues)
    parts.specViolations.push(`${method} ${path}: ${definition} ${issue.path}: ${issue.message}`);
  const field = (path: string) => path.replace(/^\$\.?/, '');
  const decoding = issues.filter(
    (issue) => !issue.message.startsWith('required') && !issue.message.includes(' is not one of '),
  );
  const kind = definition.split('.').at(-1) ?? type.kind;
  if (decoding.length > 0) {
    const messages = decoding.map((issue) =>
      issue.message === 'unknown field'
        ? `unknown field "${field(issue.path)}"`
        : `${field(issue.path)}: ${issue.message}`,
    );
    throw badRequest(
      `${kind} in version "${type.version}" cannot be handled as a ${kind}: strict decoding error: ${messages.join(', ')}`,
    );
  }
  const causes: StatusCause[] = issues.map((issue) =>
    issue.message.startsWith('required')
      ? { reason: 'FieldValueRequired', message: 'Required value', field: field(issue.path) }
      : {
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: ${issue.message}`,
          field: field(issue.path),
        },
  );
  const name = (body as { metadata?: { name?: string } } | null)?.metadata?.name ?? '';
  throw invalid(type, name, causes);
}

function deleteOptions(query: URLSearchParams, body: unknown) {
  const options = (body ?? {}) as {
    propagationPolicy?: string;
    gracePeriodSeconds?: number;
    orphanDependents?: boolean;
    preconditions?: { uid?: string; resourceVersion?: string };
  };
  const grace = query.get('gracePeriodSeconds');
  const orphan =
    query.get('orphanDependents') ??
    (options.orphanDependents === undefined ? null : String(options.orphanDependents));
  const propagation =
    query.get('propagationPolicy') ??
    options.propagationPolicy ??
    (orphan === null ? undefined : orphan === 'true' ? 'Orphan' : 'Background');
  return {
    ...(propagation ? { propagationPolicy: propagation } : {}),
    ...(grace !== null
      ? { gracePeriodSeconds: Number(grace) }
      : options.gracePeriodSeconds !== undefined
        ? { gracePeriodSeconds: options.gracePeriodSeconds }
        : {}),
    ...(options.preconditions ? { preconditions: options.preconditions } : {}),
  };
}

function parseRoute(path: string): Route | undefined {
  let segments: string[];
  try {
    segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw badRequest(`malformed path ${path}`);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1] as string;
    version = segments[2] as string;
    rest = segments.slice(3);
  } else return undefined;
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return undefined;
  const type = resourceByPlural(group, version, rest[0] as string);
  if (!type) return undefined;
  if (!type.namespaced && namespace !== undefined) return undefined;
  if (type.namespaced && namespace === undefined && rest.length > 1) return undefined;
  return { type, namespace, name: rest[1], subresource: rest[2], watchPath };
}

/** Warnings the API collected while handling the current request (Pod Security). */
let pendingWarnings: () => string[] = () => [];

function json(response: ServerResponse, code: number, body: unknown): undefined {
  const warnings = pendingWarnings();
  response.writeHead(code, {
    'Content-Type': 'application/json',
    // As kube-apiserver sends them: code 299, agent "-", the text quoted.
    ...(warnings.length > 0
      ? { Warning: warnings.map((w) => `299 - "${w.replace(/["\\]/g, '\\$&')}"`) }
      : {}),
  });
  response.end(JSON.stringify(body));
  return undefined;
}
