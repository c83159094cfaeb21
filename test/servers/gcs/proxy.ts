/**
 * An HTTP proxy for tests in front of the GCS emulator (or any server): it records every
 * request (method, path, query, selected headers, body size) and can answer instead of the
 * target (a fault: 503, 403...) or enforce what the emulator does not (`ifGenerationMatch`).
 * The Host header is passed through unchanged, so URLs the target builds from it (resumable
 * session locations) point back at the proxy.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Bytes of request body seen. */
  bodyBytes: number;
  /** Status sent back (the fault's or the target's). */
  status: number;
  /** True when the proxy answered itself. */
  injected: boolean;
}

export interface Fault {
  status: number;
  /** JSON body; default a GCS-style error object. */
  body?: unknown;
}

export interface GcsProxyOptions {
  /** Decide per request whether to answer with a fault instead of forwarding. */
  fault?: (request: Omit<RecordedRequest, 'status' | 'injected' | 'bodyBytes'>) => Fault | null;
  /**
   * Enforce `ifGenerationMatch` on uploads (GCS JSON API semantics: 0 = the object must not
   * exist; N = its live generation must be N), answering 412 conditionNotMet otherwise.
   */
  enforcePreconditions?: boolean;
}

export interface GcsProxy {
  url: string;
  requests: RecordedRequest[];
  /** Replace the fault hook (null: forward everything). */
  setFault(fault: GcsProxyOptions['fault'] | null): void;
  stop(): Promise<void>;
}

/** `n` faults with `status` on requests matching `match`, then forward again. */
export function failNext(
  n: number,
  status: number,
  match: (r: { method: string; path: string; query: URLSearchParams }) => boolean = () => true,
): NonNullable<GcsProxyOptions['fault']> {
  let left = n;
  return (r) => {
    if (left <= 0 || !match(r)) return null;
    left -= 1;
    return { status };
  };
}

export async function startGcsProxy(
  target: string,
  options: GcsProxyOptions = {},
): Promise<GcsProxy> {
  const targetUrl = new URL(target);
  let fault = options.fault ?? null;
  const requests: RecordedRequest[] = [];

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const base = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
    };
    const record: RecordedRequest = { ...base, bodyBytes: 0, status: 0, injected: false };
    requests.push(record);
    let answer = fault?.(base) ?? null;
    if (answer === null && options.enforcePreconditions)
      answer = await checkPrecondition(targetUrl, base);
    if (answer !== null) {
      for await (const chunk of req) record.bodyBytes += (chunk as Buffer).length;
      record.status = answer.status;
      record.injected = true;
      const body = JSON.stringify(answer.body ?? gcsError(answer.status));
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(body);
      return;
    }
    const upstream = httpRequest(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (response) => {
        record.status = response.statusCode ?? 0;
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault: (next) => {
      fault = next ?? null;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The object name of an upload request: `?name=` (media, resumable) or absent (multipart body). */
async function checkPrecondition(
  target: URL,
  r: { method: string; path: string; query: URLSearchParams },
): Promise<Fault | null> {
  const wanted = r.query.get('ifGenerationMatch');
  const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(r.path);
  if (wanted === null || upload === null || r.method !== 'POST' || r.query.has('upload_id'))
    return null;
  const name = r.query.get('name');
  if (name === null) return null; // multipart uploads name the object in the body: see README
  const bucket = upload[1] ?? '';
  const response = await fetch(
    new URL(`/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`, target),
  );
  const live = response.ok
    ? String(((await response.json()) as { generation?: unknown }).generation)
    : null;
  if (!response.ok) await response.body?.cancel();
  const met = wanted === '0' ? live === null : live === wanted;
  return met ? null : { status: 412, body: gcsError(412) };
}

function gcsError(status: number): unknown {
  const reasons: Record<number, [string, string]> = {
    403: ['forbidden', 'Access denied.'],
    404: ['notFound', 'No such object.'],
    412: ['conditionNotMet', 'At least one of the pre-conditions you specified did not hold.'],
    429: [
      'rateLimitExceeded',
      'The object exceeded the rate limit for object mutation operations.',
    ],
    503: ['backendError', 'Backend Error'],
  };
  const [reason, message] = reasons[status] ?? ['error', `HTTP ${status}`];
  return { error: { code: status, message, errors: [{ domain: 'global', reason, message }] } };
}
