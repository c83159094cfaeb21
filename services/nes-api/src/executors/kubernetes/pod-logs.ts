/**
 * Following a pod's log with our own HTTP request (client-node's Log class hangs or crashes the
 * process when a stream drops). `follow=true&timestamps=true`; after a drop the request is made
 * again with `sinceTime` set to the last timestamp seen. The API server may answer from that
 * second (sinceTime is second-precision there), so lines before the last timestamp are skipped
 * and lines at it are matched against those already delivered: nothing is repeated or lost.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface LogLine {
  /** RFC 3339 timestamp the kubelet put in front of the line. */
  time: string;
  text: string;
}

/** Nanosecond-comparable key for an RFC 3339 timestamp ("...:05Z" and "...:05.1Z" both work). */
export function timeKey(time: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!match) return time;
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  return `${String(seconds).padStart(15, '0')}.${(match[2] ?? '').padEnd(9, '0')}`;
}

/** Splits `2026-11-01T10:00:00.123456789Z text` (the kubelet's timestamps=true form). */
export function parseLogLine(raw: string): LogLine | null {
  const space = raw.indexOf(' ');
  if (space <= 0) return null;
  const time = raw.slice(0, space);
  if (!/^\d{4}-\d\d-\d\dT/.test(time)) return null;
  return { time, text: raw.slice(space + 1) };
}

/** Remembers what was delivered so a resumed stream repeats nothing. */
export class LogCursor {
  #lastKey = '';
  #lastTime: string | null = null;
  /** Texts delivered at the last timestamp (several lines may share one). */
  #atLast: string[] = [];
  /** Texts still to be matched at the last timestamp in the current stream. */
  #pending: string[] = [];

  get sinceTime(): string | null {
    return this.#lastTime;
  }

  /** A new stream starts (from sinceTime): its lines at the last timestamp may be repeats. */
  resume(): void {
    this.#pending = [...this.#atLast];
  }

  /** True when the line is new (and records it). */
  accept(line: LogLine): boolean {
    const key = timeKey(line.time);
    if (this.#lastTime !== null && key < this.#lastKey) return false;
    if (key === this.#lastKey) {
      const seen = this.#pending.indexOf(line.text);
      if (seen >= 0) {
        this.#pending.splice(seen, 1);
        return false;
      }
      this.#atLast.push(line.text);
      return true;
    }
    this.#lastKey = key;
    this.#lastTime = line.time;
    this.#atLast = [line.text];
    this.#pending = [];
    return true;
  }
}

export interface FollowOptions {
  kc: KubeConfig;
  namespace: string;
  pod: string;
  container: string;
  cursor: LogCursor;
  onLine(line: LogLine): void;
  signal: AbortSignal;
}

/**
 * One log request: resolves 'ended' when the server ended the stream (the container stopped) or
 * 'dropped' when the connection broke; rejects with `status` on an HTTP error (400 while the
 * container is still waiting, 404 when the pod is gone).
 */
export async function streamPodLog(
  options: FollowOptions,
  follow = true,
): Promise<'ended' | 'dropped'> {
  const { kc, namespace, pod, container, cursor } = options;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(
    `${cluster.server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
  );
  url.searchParams.set('container', container);
  url.searchParams.set('timestamps', 'true');
  if (follow) url.searchParams.set('follow', 'true');
  if (cursor.sinceTime !== null) url.searchParams.set('sinceTime', cursor.sinceTime);
  cursor.resume();

  const requestOptions: https.RequestOptions = { method: 'GET', headers: {} };
  await kc.applyToHTTPSOptions(requestOptions);
  const secure = url.protocol === 'https:';
  if (!secure) delete requestOptions.agent;
  const transport = secure ? https : http;

  return await new Promise<'ended' | 'dropped'>((resolve, reject) => {
    const request = transport.request(
      url,
      { ...requestOptions, signal: options.signal },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (body.length < 2000) body += chunk;
          });
          response.on('end', () => reject(new LogRequestError(status, body)));
          response.on('error', () => reject(new LogRequestError(status, body)));
          return;
        }
        response.setEncoding('utf8');
        let rest = '';
        const take = (raw: string) => {
          const line = parseLogLine(raw);
          if (line && cursor.accept(line)) options.onLine(line);
        };
        response.on('data', (chunk: string) => {
          rest += chunk;
          let newline = rest.indexOf('\n');
          while (newline >= 0) {
            take(rest.slice(0, newline).replace(/\r$/, ''));
            rest = rest.slice(newline + 1);
            newline = rest.indexOf('\n');
          }
        });
        // A dropped connection ends the stream like a stopped container: the caller decides.
        // An unterminated last line is kept for the resumed stream (it will come again whole).
        response.on('error', () => resolve('dropped'));
        response.on('end', () => resolve(response.complete ? 'ended' : 'dropped'));
        response.on('close', () => resolve(response.complete ? 'ended' : 'dropped'));
      },
    );
    request.on('error', (error) => {
      if (options.signal.aborted) resolve('dropped');
      else reject(error);
    });
    request.end();
  });
}

export class LogRequestError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // plain text
    }
    super(`pod log request failed with ${status}: ${message.slice(0, 300)}`);
    this.name = 'LogRequestError';
    this.status = status;
  }
}

/**
 * Lines another process already reported (a previous lease holder, this API before a restart):
 * a follower reads the log from the start to rebuild the run's progress, and reports only what
 * comes after the last stored line.
 */
export class ReplayBoundary {
  readonly #key: string;
  readonly #texts: string[];
  #passed = false;

  /** `time` is the newest stored line's timestamp, `texts` the lines stored at it. */
  constructor(time: string, texts: string[]) {
    this.#key = timeKey(time);
    this.#texts = [...texts];
  }

  get passed(): boolean {
    return this.#passed;
  }

  /** True while `line` was already reported. */
  isOld(line: LogLine): boolean {
    if (this.#passed) return false;
    const key = timeKey(line.time);
    if (key < this.#key) return true;
    if (key === this.#key) {
      const seen = this.#texts.indexOf(line.text);
      if (seen >= 0) {
        this.#texts.splice(seen, 1);
        return true;
      }
    }
    this.#passed = true;
    return false;
  }
}
