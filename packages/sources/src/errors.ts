/**
 * The one error every source raises. `code` says what went wrong in terms a user can act on;
 * `message` says what to fix; `details` carries machine-readable facts (status, reset time, JSON
 * path). Nothing here ever holds a token or a URL that embeds one.
 */

export type SourceErrorCode =
  /** 401: the token is missing where needed, wrong, expired or revoked. */
  | 'github_unauthorized'
  /** 403 that is not a rate limit: the token cannot read this repository. */
  | 'github_forbidden'
  /** 404 on the repository: it does not exist, or it is private and the token cannot see it. */
  | 'repository_not_found'
  /** No branch, tag or commit by that name. */
  | 'ref_not_found'
  /** No file at that path (in the repository at the commit, the bucket, the URL, the root). */
  | 'path_not_found'
  /** Not valid JSON or not a valid nbformat 4 notebook (details.path names where), or a directory. */
  | 'not_a_notebook'
  /** Over the size cap (notebook or repository context). */
  | 'too_large'
  /** GitHub's rate limit; details.resetAt says when it lifts. */
  | 'rate_limited'
  /** A local path outside every configured notebook root (NES_NOTEBOOK_ROOTS). */
  | 'local_path_outside_roots'
  /** A scheme or host NES does not read notebooks from. */
  | 'unsupported_source'
  /** A URL whose host is (or resolves to) a loopback, private, link-local or metadata address. */
  | 'forbidden_address'
  /** A redirect NES does not follow: https to http, or more than a few in a row. */
  | 'redirect_refused'
  /** A URI of a known kind that is malformed (e.g. github:// without a path). */
  | 'invalid_source'
  /** 401/403 from GCS or an HTTPS server. */
  | 'access_denied'
  /** The source did not answer after every retry, or answered with an unexpected status. */
  | 'source_unavailable';

export interface SourceErrorOptions {
  details?: Record<string, unknown>;
  /** True when trying again later may succeed (rate limits, exhausted retries on 5xx). */
  transient?: boolean;
}

export class SourceError extends Error {
  override name = 'SourceError';
  /** The runner's failure class for every source error. */
  readonly class = 'source';
  readonly code: SourceErrorCode;
  readonly details: Record<string, unknown>;
  readonly transient: boolean;

  constructor(code: SourceErrorCode, message: string, options: SourceErrorOptions = {}) {
    super(message);
    this.code = code;
    this.details = options.details ?? {};
    this.transient = options.transient ?? false;
  }

  /** The API's error body shape: `{ code, message, details }`. */
  toJSON(): { code: SourceErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isSourceError(error: unknown): error is SourceError {
  return error instanceof SourceError;
}

/** Replaces every occurrence of each secret in `text`; secrets shorter than 4 chars are ignored. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4)
      result = result.split(secret).join('[REDACTED]');
  }
  return result;
}
