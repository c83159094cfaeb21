/**
 * Server-sent events on a hijacked reply: headers fastify would have sent, frames, heartbeats.
 *
 * A consumer that stops reading must not make the service's memory grow: what the socket has not
 * taken yet (the response's and the socket's buffers, `writableLength`) is bounded, and a stream
 * past the bound is dropped. The client reconnects and resumes after the last event it got
 * (`Last-Event-ID` on a run's stream; the list stream is live, so the client re-reads the list).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** What one stream may hold for a client that does not read (NES_STREAM_BUFFER_BYTES). */
const DEFAULT_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Writes `chunk` unless the client already leaves more than `maxBuffered` bytes unread; then
 * the connection is destroyed (its 'close' ends the stream) and false is returned.
 */
export function writeBounded(raw: ServerResponse, chunk: string, maxBuffered: number): boolean {
  if (raw.destroyed || raw.writableEnded) return false;
  if (raw.writableLength + Buffer.byteLength(chunk) > maxBuffered) {
    raw.destroy();
    return false;
  }
  raw.write(chunk);
  return true;
}

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

export function openSse(reply: FastifyReply, maxBuffered = DEFAULT_STREAM_BUFFER_BYTES): SseStream {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[name] = String(value);
  }
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 2000\n\n');
  let closed = false;
  const listeners: Array<() => void> = [];
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const listener of listeners) listener();
  };
  raw.on('close', finish);
  return {
    send(event, data, id) {
      if (closed) return;
      const lines = JSON.stringify(data)
        .split('\n')
        .map((line) => `data: ${line}`)
        .join('\n');
      const frame = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\n${lines}\n\n`;
      if (!writeBounded(raw, frame, maxBuffered)) finish();
    },
    comment(text) {
      if (!closed && !writeBounded(raw, `: ${text}\n\n`, maxBuffered)) finish();
    },
    close() {
      if (!closed) raw.end();
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
}

/** Runs `task` whenever poked, never two at once; pokes during a run cause one more run. */
export function serialTask(
  task: () => Promise<void>,
  onError: (error: unknown) => void,
): () => void {
  let running = false;
  let again = false;
  const loop = async () => {
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again);
    } catch (error) {
      onError(error);
    } finally {
      running = false;
    }
  };
  return () => {
    if (running) again = true;
    else void loop();
  };
}
