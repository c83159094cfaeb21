/** What the client throws. Messages never carry the token (see `redact` in client.ts). */

/** The API answered with an error status; fields come from `{ error: { code, message, details } }`. */
export class NesApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly method: string;
  readonly path: string;
  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: unknown;
    method: string;
    path: string;
  }) {
    super(init.message);
    this.name = 'NesApiError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.method = init.method;
    this.path = init.path;
  }
}

/** The API could not be reached (refused, reset, DNS, TLS) after the retries allowed. */
export class NesConnectionError extends Error {
  /** The API's base URL without credentials. */
  readonly url: string;
  /** The system error code when there is one (`ECONNREFUSED`, `ENOTFOUND`, ...). */
  readonly errno: string | undefined;
  constructor(url: string, errno: string | undefined, detail: string) {
    const what = errno === 'ECONNREFUSED' ? 'connection refused' : detail;
    super(`cannot reach the NES API at ${url}: ${what}`);
    this.name = 'NesConnectionError';
    this.url = url;
    this.errno = errno;
  }
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
  );
}
