/** Server-sent events on a hijacked reply: headers fastify would have sent, frames, heartbeats. */
import type { FastifyReply } from 'fastify';

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

export function openSse(reply: FastifyReply): SseStream {
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
      raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\n${lines}\n\n`);
    },
    comment(text) {
      if (!closed) raw.write(`: ${text}\n\n`);
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
