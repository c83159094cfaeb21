/**
 * metav1.Status error bodies, shaped and worded as kube-apiserver writes them, so clients that
 * branch on `reason` or `code` see what a real cluster sends.
 */
import { qualifiedResource, type ResourceType } from './resources.ts';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] };
  code: number;
}

/** An error a handler throws; the server answers it as a Status. */
export class ApiError extends Error {
  readonly status: StatusBody;
  constructor(status: StatusBody) {
    super(status.message);
    this.status = status;
  }
}

function failure(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody['details'],
): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

function detailsOf(type: ResourceType, name: string): StatusBody['details'] {
  return { name, ...(type.group ? { group: type.group } : {}), kind: type.plural };
}

export function notFound(type: ResourceType, name: string): ApiError {
  return failure(
    404,
    'NotFound',
    `${qualifiedResource(type)} "${name}" not found`,
    detailsOf(type, name),
  );
}

export function alreadyExists(type: ResourceType, name: string): ApiError {
  return failure(
    409,
    'AlreadyExists',
    `${qualifiedResource(type)} "${name}" already exists`,
    detailsOf(type, name),
  );
}

export function conflict(type: ResourceType, name: string): ApiError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(type, name),
  );
}

export function invalid(type: ResourceType, name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((cause) => `${cause.field}: ${cause.message}`).join(', ');
  const qualifiedKind = type.group ? `${type.kind}.${type.group}` : type.kind;
  const summary = causes.length === 1 ? list : `[${list}]`;
  return failure(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    ...detailsOf(type, name),
    kind: type.kind,
    causes,
  });
}

export function badRequest(message: string, causes?: StatusCause[]): ApiError {
  return failure(400, 'BadRequest', message, causes ? { causes } : undefined);
}

export function unauthorized(): ApiError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function pathNotFound(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource');
}

export function methodNotAllowed(method: string): ApiError {
  return failure(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}

export function unsupportedMediaType(contentType: string): ApiError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/cbor (got ${contentType})`,
  );
}

export function expired(message: string): ApiError {
  return failure(410, 'Expired', message);
}

/** Fault injection: a server-side error with the reason the code implies. */
export function injected(code: number): ApiError {
  const reasons: Record<number, string> = {
    409: 'Conflict',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return failure(
    code,
    reasons[code] ?? 'InternalError',
    code === 429
      ? 'Too many requests, please try again later.'
      : 'Internal error occurred: injected fault',
  );
}

export function success(type: ResourceType, name: string, uid: string): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { ...detailsOf(type, name), uid },
    code: 200,
  };
}
