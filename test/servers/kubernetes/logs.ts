/**
 * GET pods/{name}/log: the container's log as text/plain, with the kubelet's options
 * (container, follow, timestamps, sinceTime, sinceSeconds, tailLines, limitBytes, stream,
 * previous) and its errors as 400 Status bodies. `sinceTime` keeps whole seconds only, as it
 * does on a real cluster (the API server re-encodes it as RFC 3339 for the kubelet), so a
 * client resuming a stream sees the lines of that second again.
 */
import type { ServerResponse } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { type LogLine, parseRfc3339, renderLine } from './container-log.ts';
import type { Kubelet } from './kubelet.ts';
import { badRequest } from './status.ts';

export interface OpenLogStream {
  drop(): void;
}

export function serveLog(
  kubelet: Kubelet,
  pod: V1Pod,
  query: URLSearchParams,
  response: ServerResponse,
  onClose: () => void,
): OpenLogStream | undefined {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const initNames = (pod.spec?.initContainers ?? []).map((c) => c.name);
  const podName = pod.metadata?.name ?? '';
  let name = query.get('container') ?? '';
  if (!name) {
    if (names.length !== 1) {
      throw badRequest(
        `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]${initNames.length ? ` or one of the init containers: [${initNames.join(' ')}]` : ''}`,
      );
    }
    name = names[0] as string;
  }
  if (!names.includes(name) && !initNames.includes(name)) {
    throw badRequest(`container ${name} is not valid for pod ${podName}`);
  }
  if (query.get('previous') === 'true') {
    throw badRequest(`previous terminated container "${name}" in pod "${podName}" not found`);
  }
  if (!pod.spec?.nodeName) throw badRequest(`pod ${podName} does not have a host assigned`);
  const container = kubelet.container(pod.metadata?.uid ?? '', name);
  if (!container?.started) {
    const reason = container?.state.waiting?.reason ?? 'ContainerCreating';
    const why =
      reason === 'ErrImagePull' || reason === 'ImagePullBackOff'
        ? 'trying and failing to pull image'
        : reason;
    throw badRequest(`container "${name}" in pod "${podName}" is waiting to start: ${why}`);
  }

  const timestamps = query.get('timestamps') === 'true';
  let sinceNanos: bigint | undefined;
  const sinceTime = query.get('sinceTime');
  if (sinceTime) {
    const parsed = parseRfc3339(sinceTime);
    if (parsed === null)
      throw badRequest(`parsing time "${sinceTime}" as "2006-01-02T15:04:05Z07:00": cannot parse`);
    sinceNanos = (parsed / 1_000_000_000n) * 1_000_000_000n;
  }
  const sinceSeconds = query.get('sinceSeconds');
  if (sinceSeconds) {
    const seconds = Number(sinceSeconds);
    if (!Number.isInteger(seconds) || seconds < 1)
      throw badRequest('PodLogOptions.sinceSeconds: Invalid value: must be greater than 0');
    if (sinceTime)
      throw badRequest(
        'PodLogOptions: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified',
      );
    sinceNanos = BigInt(Date.now() - seconds * 1000) * 1_000_000n;
  }
  const tail = query.get('tailLines');
  const limit = query.get('limitBytes');
  const streamName = query.get('stream');
  if (streamName && !['Stdout', 'Stderr', 'All'].includes(streamName)) {
    throw badRequest(
      `PodLogOptions.stream: Unsupported value: "${streamName}": supported values: "All", "Stderr", "Stdout"`,
    );
  }
  const stream =
    streamName === 'Stdout' ? 'stdout' : streamName === 'Stderr' ? 'stderr' : undefined;
  const lines = container.log.select({
    timestamps,
    ...(sinceNanos !== undefined ? { sinceNanos } : {}),
    ...(tail !== null ? { tailLines: Number(tail) } : {}),
    ...(stream ? { stream } : {}),
  });
  let budget = limit ? Number(limit) : Number.POSITIVE_INFINITY;
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  const write = (line: LogLine): boolean => {
    if (budget <= 0) return false;
    let text = Buffer.from(renderLine(line, timestamps));
    if (text.length > budget) text = text.subarray(0, budget);
    budget -= text.length;
    response.write(text);
    return budget > 0;
  };
  for (const line of lines) if (!write(line)) break;
  if (query.get('follow') !== 'true' || container.log.ended || budget <= 0) {
    response.end();
    onClose();
    return undefined;
  }
  response.flushHeaders();
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    unfollow();
    onClose();
  };
  const unfollow = container.log.follow((line) => {
    if (closed) return;
    if (line === null) {
      response.end();
      finish();
      return;
    }
    if ((stream && line.stream !== stream) || !write(line)) {
      if (budget <= 0) {
        response.end();
        finish();
      }
    }
  });
  response.on('close', finish);
  return {
    drop() {
      finish();
      response.socket?.destroy();
    },
  };
}
