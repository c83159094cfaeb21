/**
 * Store failures as codes a caller can act on. Messages name the store location and key, never
 * a credential or a signed URL: they are built here, not copied from the client library.
 */
export type StoreErrorCode =
  | 'not_found'
  | 'forbidden'
  | 'already_exists'
  | 'invalid_key'
  | 'store_unavailable';

export class StoreError extends Error {
  override name = 'StoreError';
  readonly code: StoreErrorCode;
  /** The key concerned, when there is one. */
  readonly key: string | null;
  /** HTTP status from GCS, when there is one. */
  readonly status: number | null;

  constructor(
    code: StoreErrorCode,
    message: string,
    options: { key?: string | null; status?: number | null; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.key = options.key ?? null;
    this.status = options.status ?? null;
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
