/**
 * Plain GET of an https:// URL (http:// only when allowed): size cap while streaming, a timeout
 * per attempt, retries on 5xx and network failures, never on 4xx. Only public addresses are
 * reached (address-guard.ts); redirects are followed by hand, at most MAX_REDIRECTS, never from
 * https to http.
 */
import type { Agent } from 'undici';
import { type AllowList, checkUrlHost, guardedLookup, parseAllowList } from './address-guard.ts';
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

const MAX_REDIRECTS = 5;

/** One connection pool per allow-list: its sockets resolve through the address guard. */
const agents = new Map<string, Agent>();

/**
 * undici is loaded on the first request, not with this module: loading it costs ~30 MB of
 * memory and ~0.1 s, which a run whose notebook is a local file would pay for nothing.
 */
const loadUndici = () => import('undici');
let undici: ReturnType<typeof loadUndici> | null = null;

/**
 * `fetch` whose connections reach only addresses the allow-list permits (public ones, and what
 * `allowText` names): the address connected to is the address checked. Also what the service
 * delivers notifications with.
 */
export function guardedFetch(allowText: string, allow: AllowList): typeof fetch {
  return (async (input: string, init: RequestInit) => {
    undici ??= loadUndici();
    const { Agent, fetch: undiciFetch } = await undici;
    let agent = agents.get(allowText);
    if (agent === undefined) {
      agent = new Agent({ connect: { lookup: guardedLookup(allow) } });
      agents.set(allowText, agent);
    }
    return await undiciFetch(input, { ...(init as object), dispatcher: agent });
  }) as unknown as typeof fetch;
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
  const allowText = options.allowedHosts ?? '';
  const allow = parseAllowList(allowText);
  const doFetch = options.fetch ?? guardedFetch(allowText, allow);
  try {
    return await withRetry(
      async () => {
        const response = await fetchFollowing(doFetch, parsed, allow, shown, timeoutMs);
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

/**
 * GET with redirects followed by hand: each hop's host checked, https never downgraded to http,
 * at most MAX_REDIRECTS hops. A refusal from the address guard comes out as its SourceError.
 */
async function fetchFollowing(
  doFetch: typeof fetch,
  start: URL,
  allow: AllowList,
  shown: string,
  timeoutMs: number,
): Promise<Response> {
  const signal = AbortSignal.timeout(timeoutMs);
  let url = start;
  for (let hop = 0; ; hop++) {
    checkUrlHost(url, allow);
    let response: Response;
    try {
      response = await doFetch(url.href, {
        signal,
        redirect: 'manual',
        headers: {
          accept: 'application/x-ipynb+json, application/json;q=0.9, */*;q=0.5',
          'user-agent': 'nes-sources',
        },
      });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof SourceError) throw cause;
      throw error;
    }
    const location = response.headers.get('location');
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) {
      return response;
    }
    await response.body?.cancel().catch(() => {});
    if (hop + 1 > MAX_REDIRECTS) {
      throw new SourceError(
        'redirect_refused',
        `${shown} redirected more than ${MAX_REDIRECTS} times; NES follows at most ${MAX_REDIRECTS} redirects`,
        { details: { maxRedirects: MAX_REDIRECTS } },
      );
    }
    const next = new URL(location, url);
    if (next.protocol !== 'https:' && !(next.protocol === 'http:' && url.protocol === 'http:')) {
      throw new SourceError(
        'redirect_refused',
        `${shown} redirected from ${url.protocol}// to ${safeUri(next.href)}; NES never follows a redirect from https to another scheme`,
        { details: { from: url.protocol, to: next.protocol } },
      );
    }
    url = next;
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
