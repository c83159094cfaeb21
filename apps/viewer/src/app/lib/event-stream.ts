/**
 * A server-sent events subscription that stays up: the browser's EventSource retries a dropped
 * connection by itself (with the server's `retry:` delay and Last-Event-ID), but gives up for good
 * when an attempt gets an error status (a restarting proxy, an expired session). Then this opens
 * a new one after a back-off that doubles up to 30 s, so a down service sees one attempt per
 * back-off and never a storm. `onOpen(true)` tells the page a reconnect happened, so it can
 * re-read what it may have missed.
 */

export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((this: EventSourceLike, ev: Event) => unknown) | null;
  onerror: ((this: EventSourceLike, ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type OpenEventSource = (url: string) => EventSourceLike;

export const browserEventSource: OpenEventSource = (url) =>
  new EventSource(url, { withCredentials: true }) as unknown as EventSourceLike;

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface StreamHandlers {
  /** Event names to listen to (SSE `event:` values). */
  events: string[];
  onEvent(name: string, data: unknown, lastEventId: string): void;
  onOpen?(reconnected: boolean): void;
  onState?(state: StreamState): void;
  /** A stream the server ends on purpose (a finished run's `end`) is not reopened. */
  endEvent?: string;
  /** For a new connection after a give-up: the URL resuming after the last event seen. */
  resumeUrl?(lastEventId: string): string;
}

/** Injectable so tests step through back-offs without waiting. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

const CLOSED = 2;
const MAX_BACKOFF_MS = 30_000;

export function subscribe(
  open: OpenEventSource,
  url: string,
  handlers: StreamHandlers,
  timers: Timers = {
    set: (fn, ms) => setTimeout(fn, ms),
    clear: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  },
): () => void {
  let source: EventSourceLike | null = null;
  let stopped = false;
  let opened = false;
  let failures = 0;
  let lastId = '';
  let timer: unknown = null;

  const state = (s: StreamState) => handlers.onState?.(s);

  const connect = () => {
    timer = null;
    if (stopped) return;
    const target = lastId && handlers.resumeUrl ? handlers.resumeUrl(lastId) : url;
    const es = open(target);
    source = es;
    es.onopen = () => {
      failures = 0;
      state('live');
      handlers.onOpen?.(opened);
      opened = true;
    };
    es.onerror = () => {
      if (stopped || source !== es) return;
      if (es.readyState !== CLOSED) {
        state('reconnecting'); // the browser retries by itself
        return;
      }
      es.close();
      source = null;
      failures += 1;
      state('reconnecting');
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
      timer = timers.set(connect, delay);
    };
    for (const name of handlers.events) {
      es.addEventListener(name, (ev) => {
        if (stopped) return;
        failures = 0;
        if (ev.lastEventId) lastId = ev.lastEventId;
        let data: unknown;
        try {
          data = JSON.parse(String(ev.data));
        } catch {
          return; // not JSON: not an event of the API's
        }
        handlers.onEvent(name, data, lastId);
      });
    }
    if (handlers.endEvent) {
      es.addEventListener(handlers.endEvent, () => {
        stopped = true;
        es.close();
        state('closed');
      });
    }
  };

  state('connecting');
  connect();
  return () => {
    stopped = true;
    if (timer !== null) timers.clear(timer);
    source?.close();
    source = null;
  };
}
