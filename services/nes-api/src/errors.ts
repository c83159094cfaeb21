/**
 * The API's one error shape, `{ error: { code, message, details? } }`, and the mapping from the
 * errors other packages raise (SourceError, StoreError, fastify's own) to a status and a code.
 */
import { isSourceError, type SourceErrorCode } from '@nes/sources';
import { isStoreError } from '@nes/stores';
import { InvalidCursorError } from './runs/run-store.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly statusCode: number;
  readonly code: string;
  readonly details: unknown;

  constructor(statusCode: number, code: string, message: string, details?: unknown) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** HTTP status for each source failure: the caller named something unusable (4xx), or the
 * source did not answer (503, retry later). */
const SOURCE_STATUS: Record<SourceErrorCode, number> = {
  invalid_source: 400,
  unsupported_source: 400,
  forbidden_address: 422,
  redirect_refused: 422,
  local_path_outside_roots: 422,
  repository_not_found: 422,
  ref_not_found: 422,
  path_not_found: 422,
  not_a_notebook: 422,
  too_large: 413,
  github_unauthorized: 422,
  github_forbidden: 422,
  access_denied: 422,
  rate_limited: 503,
  source_unavailable: 503,
};

/** fastify's own client errors, renamed into our codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** 5xx caused by a bug or an outage: log it with its stack; never send its message. */
  internal: boolean;
}

export function mapError(error: unknown): MappedError {
  if (error instanceof ApiError) {
    return {
      status: error.statusCode,
      body: errorBody(error.code, error.message, error.details),
      internal: false,
    };
  }
  if (isSourceError(error)) {
    const status = SOURCE_STATUS[error.code] ?? 422;
    return {
      status,
      // `class: 'source'` lets clients tell a notebook-source refusal from other 4xx errors.
      body: errorBody(error.code, error.message, { ...error.details, class: 'source' }),
      internal: false,
    };
  }
  if (error instanceof InvalidCursorError) {
    return { status: 400, body: errorBody('invalid_cursor', error.message), internal: false };
  }
  if (isStoreError(error, 'not_found')) {
    return { status: 404, body: errorBody('not_found', error.message), internal: false };
  }
  if (isStoreError(error, 'invalid_key')) {
    return { status: 400, body: errorBody('invalid_path', error.message), internal: false };
  }
  const e = error as {
    code?: string;
    statusCode?: number;
    message?: string;
    validation?: unknown;
    validationContext?: string;
  };
  if (e.validation !== undefined) {
    return {
      status: 400,
      body: errorBody(
        'invalid_request',
        `invalid ${e.validationContext ?? 'request'}: ${e.message ?? ''}`,
        validationDetails(e.validation),
      ),
      internal: false,
    };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (e.code !== undefined ? FASTIFY_CODES[e.code] : undefined) ?? 'bad_request';
    return { status, body: errorBody(code, e.message ?? 'bad request'), internal: false };
  }
  return {
    status: status >= 500 && status < 600 ? status : 500,
    body: errorBody('internal', 'internal error; the server log has the details'),
    internal: true,
  };
}

function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

function validationDetails(validation: unknown): unknown {
  if (!Array.isArray(validation)) return undefined;
  return validation.map((item: { instancePath?: string; message?: string; params?: unknown }) => ({
    path: item.instancePath ?? '',
    message: item.message ?? '',
    params: item.params,
  }));
}

export const notFound = (what: string, id: string): ApiError =>
  new ApiError(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`);
