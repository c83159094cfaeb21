/**
 * Plain GET of an https:// URL (http:// only when allowed): size cap while streaming, a timeout
 * per attempt, retries on 5xx and network failures, never on 4xx.
 */
import { SourceError } from './errors.ts';
import { tooLarge } from './github.ts';
import { DEFAULT_MAX_NOTEBOOK_BYTES, retryPolicy, type SourceOptions } from './options.ts';
import { readCapped } from './read-capped.ts';
import { isTransientNetworkError, RetriesExhausted, withRetry } from './retry.ts';
import { safeUri, scrubUrls } from './uri.ts';

export interface HttpsFile {
  bytes: Uint8Array;
  etag: string | null;
  lastModified: string | null;
}

class HttpStatusError extends Error {
  readonly status: number;
  readonly retryAfter: string | null;
  constructor(status: number, retryAfter: string | null) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export async function readHttpsNotebook(url: string, options: SourceOptions): Promise<HttpsFile> {
  const shown = safeUri(url);
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && options.allowHttp !== true) {
    throw new SourceError(
      'unsupported_source',
      `plain http:// notebooks are not allowed (${shown}): use https://`,
    );
  }
  const maxBytes = options.maxNotebookBytes ?? DEFAULT_MAX_NOTEBOOK_BYTES;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const doFetch = options.fetch ?? globalThis.fetch;
  try {
    return await withRetry(
      async () => {
        const response = await doFetch(url, {
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'follow',
          headers: {
            accept: 'application/x-ipynb+json, application/json;q=0.9, */*;q=0.5',
            'user-agent': 'nes-sources',
          },
        });
        if (response.status !== 200) {
          await response.body?.cancel().catch(() => {});
          throw new HttpStatusError(response.status, response.headers.get('retry-after'));
        }
        const length = Number(response.headers.get('content-length'));
        if (Number.isFinite(length) && length > maxBytes) {
          await response.body?.cancel().catch(() => {});
          throw tooLarge(shown, length, maxBytes);
        }
        const bytes = await readCapped(response.body, maxBytes, shown);
        return {
          bytes,
          etag: response.headers.get('etag'),
          lastModified: response.headers.get('last-modified'),
        };
      },
      (error) =>
        error instanceof HttpStatusError
          ? error.status >= 500
          : !(error instanceof SourceError) && isTransientNetworkError(error),
      retryPolicy(options),
    );
  } catch (error) {
    if (error instanceof SourceError) throw error;
    if (error instanceof RetriesExhausted) {
      const last = error.last instanceof Error ? error.last.message : String(error.last);
      throw new SourceError(
        'source_unavailable',
        `${shown} did not answer after ${error.attempts} attempts (${scrubUrls(last)}); try again later`,
        { transient: true, details: { attempts: error.attempts } },
      );
    }
    if (error instanceof HttpStatusError) throw statusError(error, shown);
    const message = error instanceof Error ? error.message : String(error);
    throw new SourceError(
      'source_unavailable',
      `${shown} cannot be fetched (${scrubUrls(message)})`,
    );
  }
}

function statusError(error: HttpStatusError, shown: string): SourceError {
  const details = { status: error.status };
  if (error.status === 404 || error.status === 410) {
    return new SourceError(
      'path_not_found',
      `${shown} answered ${error.status}: no notebook there; check the URL`,
      {
        details,
      },
    );
  }
  if (error.status === 401 || error.status === 403) {
    return new SourceError(
      'access_denied',
      `${shown} answered ${error.status}: the server refuses to serve it without credentials; NES sends none to plain URLs`,
      { details },
    );
  }
  if (error.status === 429) {
    const seconds = Number(error.retryAfter);
    const resetAt = Number.isFinite(seconds)
      ? new Date(Date.now() + seconds * 1000).toISOString()
      : undefined;
    return new SourceError(
      'rate_limited',
      `${shown} answered 429 (too many requests); retry after ${resetAt ?? 'a while'}`,
      {
        details: { ...details, resetAt },
        transient: true,
      },
    );
  }
  return new SourceError('source_unavailable', `${shown} answered HTTP ${error.status}`, {
    details,
  });
}
