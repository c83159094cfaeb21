/**
 * How pages reach the API: one NesClient on the page's own origin (the session cookie signs the
 * requests; no Authorization header), the EventSource factory, and the frame origin the server
 * injected. Tests provide their own through `ApiProvider`.
 */
import { type FetchLike, NesApiError, NesClient, NesConnectionError } from '@nes/client';
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
} from 'react';
import { browserEventSource, type OpenEventSource } from './lib/event-stream.ts';

export interface Api {
  client: NesClient;
  /** For what the client does not cover: a notebook's raw text (the renderer parses it). */
  fetch: FetchLike;
  openEvents: OpenEventSource;
  /** Origin of the sandboxed frame that renders notebook outputs. */
  frameOrigin: string;
  /** A full page load of `path` (after sign-out: nothing read before stays in memory). */
  navigate: (path: string) => void;
}

/** The `<meta name="nes-frame-origin">` the server fills in, else VITE_NES_FRAME_ORIGIN (vite dev). */
function readFrameOrigin(doc: Document = document): string {
  const meta = doc.querySelector('meta[name="nes-frame-origin"]')?.getAttribute('content')?.trim();
  if (meta) return meta;
  return (import.meta.env.VITE_NES_FRAME_ORIGIN as string | undefined) ?? '';
}

export function browserApi(): Api {
  const fetch: FetchLike = (input, init) =>
    globalThis.fetch(input, { credentials: 'same-origin', ...init });
  return {
    client: new NesClient({ url: window.location.origin, retry: { attempts: 3 }, fetch }),
    fetch,
    openEvents: browserEventSource,
    frameOrigin: readFrameOrigin(),
    navigate: (path) => window.location.assign(path),
  };
}

const ApiContext = createContext<Api | null>(null);

export function ApiProvider(props: { api: Api; children: ReactNode }) {
  return <ApiContext.Provider value={props.api}>{props.children}</ApiContext.Provider>;
}

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiProvider');
  return api;
}

/**
 * GET `path` (same origin) as text; an error status becomes NesApiError with the API's code and
 * message, as the client reports it.
 */
export async function getText(api: Api, path: string, signal?: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await api.fetch(path, { method: 'GET', headers: { accept: 'application/json' }, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new NesConnectionError(
      api.client.url,
      undefined,
      error instanceof Error ? error.message : String(error),
    );
  }
  const text = await res.text();
  if (res.ok) return text;
  let code = `http_${res.status}`;
  let message = `GET ${path}: ${res.status} ${res.statusText}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not the API's error shape: keep the status line
  }
  throw new NesApiError({ status: res.status, code, message, method: 'GET', path });
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Replace the data without a request (a live update). */
  set(update: (current: T | undefined) => T | undefined): void;
}

/** Loads once per `key`; a newer key or an unmount aborts the older request. */
export function useLoad<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
): Loaded<T> {
  const [state, setState] = useState<{
    key: string | null;
    data?: T;
    error?: unknown;
    loading: boolean;
  }>({
    key,
    loading: key !== null,
  });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // biome-ignore lint/correctness/useExhaustiveDependencies: generation is bumped by reload() to load again
  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    setState((s) => ({ key, data: s.key === key ? s.data : undefined, loading: true }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ key, error, loading: false });
      },
    );
    return () => controller.abort();
    // generation re-runs the load on reload()
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const set = useCallback(
    (update: (current: T | undefined) => T | undefined) =>
      setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : key !== null,
    reload,
    set,
  };
}

export interface ErrorInfo {
  title: string;
  message: string;
  code?: string;
  status?: number;
  signIn: boolean;
}

/** Any error as what a person needs to read: the API's own message and code when it sent one. */
export function describeError(error: unknown): ErrorInfo {
  if (error instanceof NesApiError) {
    if (error.status === 401) {
      return {
        title: 'Sign in to NES',
        message: error.message,
        code: error.code,
        status: 401,
        signIn: true,
      };
    }
    const title =
      error.status === 404
        ? 'Not found'
        : error.status === 403
          ? 'Not allowed'
          : error.status >= 500
            ? 'The service had a problem'
            : 'The request was refused';
    return { title, message: error.message, code: error.code, status: error.status, signIn: false };
  }
  if (error instanceof NesConnectionError) {
    return { title: 'Cannot reach the NES service', message: error.message, signIn: false };
  }
  if (error instanceof Error)
    return { title: 'Something went wrong', message: error.message, signIn: false };
  return { title: 'Something went wrong', message: String(error), signIn: false };
}

/** A clock that ticks every `ms` while `active` (durations of active runs). */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(id);
  }, [active, ms]);
  return now;
}

/** The window title: the page's subject first, then the service. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · NES` : 'NES';
  }, [title]);
}
