/**
 * Watch streams: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`,
 * `ERROR`) on a 200 response, as kube-apiserver serves `?watch=true`. Without a
 * resourceVersion (or with "0") the stream opens with an ADDED event per existing object;
 * with one it replays every change after it, or sends a 410 Expired ERROR event and ends when
 * that history was compacted; `sendInitialEvents` streams the current state first and marks its
 * end with an annotated BOOKMARK. An object that stops matching the selectors is DELETED for the
 * watcher, one that starts matching is ADDED. `timeoutSeconds` ends the stream cleanly.
 */
import type { ServerResponse } from 'node:http';
import { apiVersionOf, type ResourceType } from './resources.ts';
import type { KubeObject, Selector } from './selectors.ts';
import type { Change, ObjectStore } from './store.ts';

export interface WatchRequest {
  type: ResourceType;
  namespace: string | undefined;
  selectors: Selector[];
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  /** Streaming lists: the current state as ADDED events, then a BOOKMARK marking its end. */
  sendInitialEvents: boolean;
}

export interface OpenWatch {
  /** Closes the connection without a final chunk (a dropped TCP connection). */
  drop(): void;
  /** Sends a 410 Expired ERROR event, then ends the stream. */
  expire(currentResourceVersion: string): void;
  end(): void;
}

export function serveWatch(
  store: ObjectStore,
  request: WatchRequest,
  response: ServerResponse,
  onClose: () => void,
): OpenWatch {
  const { type, namespace, selectors } = request;
  const apiVersion = apiVersionOf(type);
  const inScope = (object: KubeObject) =>
    namespace === undefined || object.metadata.namespace === namespace;
  const matches = (object: KubeObject | undefined) =>
    !!object && inScope(object) && selectors.every((s) => s(object));
  const withKind = (object: KubeObject) => ({ ...object, apiVersion, kind: type.kind });

  response.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
  });
  response.flushHeaders();
  let closed = false;
  const timers: NodeJS.Timeout[] = [];
  const send = (event: string, object: unknown) => {
    if (!closed) response.write(`${JSON.stringify({ type: event, object })}\n`);
  };
  const deliver = (change: Change) => {
    if (change.kind !== type.kind) return;
    const now = matches(change.object);
    if (change.type === 'ADDED') {
      if (now) send('ADDED', withKind(change.object));
    } else if (change.type === 'DELETED') {
      if (now) send('DELETED', withKind(change.object));
    } else {
      const before = matches(change.previous);
      if (now && before) send('MODIFIED', withKind(change.object));
      else if (now) send('ADDED', withKind(change.object));
      else if (before) send('DELETED', withKind(change.object));
    }
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    onClose();
  };
  const expireEvent = (resourceVersion: string, current: string) => ({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${resourceVersion} (${current})`,
    reason: 'Expired',
    code: 410,
  });

  // Replay and subscribe in one synchronous step: no change can fall between them.
  let unsubscribe: () => void = () => {};
  const from = request.resourceVersion;
  if (from === undefined || from === '' || from === '0' || request.sendInitialEvents) {
    for (const object of store.list(type.kind, namespace)) {
      if (matches(object)) send('ADDED', withKind(object));
    }
    if (request.sendInitialEvents && request.bookmarks) {
      send('BOOKMARK', {
        kind: type.kind,
        apiVersion,
        metadata: {
          resourceVersion: store.resourceVersion,
          annotations: { 'k8s.io/initial-events-end': 'true' },
        },
      });
    }
  } else {
    const changes = /^\d+$/.test(from) ? store.changesSince(Number(from)) : null;
    if (changes === null) {
      send('ERROR', expireEvent(from, store.resourceVersion));
      response.end();
      finish();
      return { drop() {}, expire() {}, end() {} };
    }
    for (const change of changes) deliver(change);
  }
  unsubscribe = store.subscribe(deliver);

  if (request.bookmarks) {
    timers.push(
      setInterval(() => {
        send('BOOKMARK', {
          kind: type.kind,
          apiVersion,
          metadata: { resourceVersion: store.resourceVersion },
        });
      }, request.bookmarkIntervalMs),
    );
  }
  if (request.timeoutSeconds !== undefined) {
    timers.push(
      setTimeout(() => {
        response.end();
        finish();
      }, request.timeoutSeconds * 1000),
    );
  }
  response.on('close', finish);
  return {
    drop() {
      finish();
      response.socket?.destroy();
    },
    expire(current) {
      send('ERROR', expireEvent(current, current));
      response.end();
      finish();
    },
    end() {
      response.end();
      finish();
    },
  };
}
