/**
 * The few Jupyter Server REST calls the runner makes itself: readiness, kernelspecs, starting a
 * kernel in a directory (services' KernelAPI cannot pass `path`), and shutting it down.
 */

/** Where a Jupyter Server listens and how to authenticate to it. */
export interface ServerEndpoint {
  /** Base URL ending with `/`, e.g. `http://127.0.0.1:8888/`. */
  url: string;
  token: string;
}

export interface KernelModel {
  id: string;
  name: string;
  execution_state?: string;
}

interface KernelSpecList {
  default: string;
  names: string[];
}

export class JupyterApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'JupyterApiError';
    this.status = status;
  }
}

export function normalizeBaseUrl(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

async function call(
  endpoint: ServerEndpoint,
  method: string,
  path: string,
  options: { body?: unknown; signal?: AbortSignal } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (endpoint.token) headers.Authorization = `token ${endpoint.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal) init.signal = options.signal;
  const response = await fetch(new URL(path, endpoint.url), init);
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { message?: string; reason?: string };
      message = parsed.message || parsed.reason || message;
    } catch {
      // not JSON: keep the text
    }
    throw new JupyterApiError(
      `${method} ${path}: ${response.status} ${response.statusText}${message ? `: ${message}` : ''}`,
      response.status,
    );
  }
  return response;
}

/** Resolves when the server answers `/api/status`; rejects on HTTP errors (a wrong token). */
export async function getStatus(endpoint: ServerEndpoint, signal?: AbortSignal): Promise<void> {
  const response = await call(endpoint, 'GET', 'api/status', signal ? { signal } : {});
  await response.body?.cancel();
}

export async function listKernelSpecs(
  endpoint: ServerEndpoint,
  signal?: AbortSignal,
): Promise<KernelSpecList> {
  const response = await call(endpoint, 'GET', 'api/kernelspecs', signal ? { signal } : {});
  const body = (await response.json()) as { default: string; kernelspecs: Record<string, unknown> };
  return { default: body.default, names: Object.keys(body.kernelspecs).sort() };
}

export async function startKernel(
  endpoint: ServerEndpoint,
  name: string,
  path: string,
  signal?: AbortSignal,
): Promise<KernelModel> {
  const response = await call(endpoint, 'POST', 'api/kernels', {
    body: { name, path },
    ...(signal ? { signal } : {}),
  });
  return (await response.json()) as KernelModel;
}

/** The model of a running kernel; a JupyterApiError with status 404 when there is none. */
export async function getKernel(
  endpoint: ServerEndpoint,
  id: string,
  signal?: AbortSignal,
): Promise<KernelModel> {
  const response = await call(
    endpoint,
    'GET',
    `api/kernels/${encodeURIComponent(id)}`,
    signal ? { signal } : {},
  );
  return (await response.json()) as KernelModel;
}

export async function shutdownKernel(
  endpoint: ServerEndpoint,
  id: string,
  signal?: AbortSignal,
): Promise<void> {
  const response = await call(
    endpoint,
    'DELETE',
    `api/kernels/${encodeURIComponent(id)}`,
    signal ? { signal } : {},
  );
  await response.body?.cancel();
}
