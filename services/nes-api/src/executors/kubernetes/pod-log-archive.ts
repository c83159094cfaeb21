/**
 * Archiving a finished run's pod log to the output store (lease holder only), beside the
 * runner's own log: the whole log from the API server while the pods are still there, else the
 * lines followed while it ran. The Job is then annotated, so another replica (or a restart) does
 * not archive it again.
 */

import {
  type BatchV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { ObjectStore } from '@nes/stores/local';
import type { LogFields } from '../../service-log.ts';
import { RUNNER_CONTAINER } from './job-builder.ts';
import { describeError, httpStatus } from './kube-client.ts';
import { delay } from './log-follower.ts';
import { LogCursor, streamPodLog } from './pod-logs.ts';
import { livePodsOldestFirst, type TrackedRun } from './run-index.ts';

/** Set on a finished Job once its log is in the output store. */
export const LOGS_ARCHIVED_ANNOTATION = 'nes.dev/logs-archived';
/** Where the pod's log goes in the output store, beside the runner's own log. */
export const podLogKey = (runId: string) => `runs/${runId}/logs/pod.log`;

export interface ArchiveContext {
  kc: KubeConfig;
  batch: BatchV1Api;
  namespace: string;
  artifacts: ObjectStore;
  log(level: 'warn', message: string, fields?: LogFields): void;
}

/** Archives the run's pod log; throws when the store refuses it (the caller tries again). */
export async function archivePodLog(context: ArchiveContext, tracked: TrackedRun): Promise<void> {
  if (tracked.follower) await Promise.race([tracked.follower.done, delay(3000)]);
  const pods = livePodsOldestFirst(tracked);
  let text = '';
  let fetched = 0;
  let complete = pods.length > 0;
  for (const pod of pods) {
    const name = pod.metadata?.name as string;
    try {
      const lines: string[] = [];
      await streamPodLog(
        {
          kc: context.kc,
          namespace: context.namespace,
          pod: name,
          container: RUNNER_CONTAINER,
          cursor: new LogCursor(),
          onLine: (line) => lines.push(`${line.time} ${line.text}`),
          signal: new AbortController().signal,
        },
        false,
      );
      if (pods.length > 1) text += `==> pod ${name} <==\n`;
      text += lines.map((line) => `${line}\n`).join('');
      fetched += lines.length;
    } catch {
      complete = false;
    }
  }
  // A pod being deleted (a cancel) may answer with less than was already followed, or
  // nothing: then the followed lines are the fuller copy.
  if (!complete || fetched < tracked.logLines.length) {
    text = tracked.logLines.map((line) => `${line}\n`).join('');
  }
  try {
    await context.artifacts.put(podLogKey(tracked.runId), text, {
      contentType: 'text/plain; charset=utf-8',
      metadata: { 'nes-run-id': tracked.runId },
    });
  } catch (error) {
    throw new Error(`archiving the pod log: ${describeError(error)}`);
  }
  tracked.archived = true;
  if (tracked.job !== null && tracked.jobGoneAt === null) {
    try {
      await context.batch.patchNamespacedJob(
        {
          name: tracked.jobName,
          namespace: context.namespace,
          body: { metadata: { annotations: { [LOGS_ARCHIVED_ANNOTATION]: 'true' } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      // The log is archived; without the mark another replica may only archive it again.
      if (httpStatus(error) !== 404) {
        context.log(
          'warn',
          `run ${tracked.runId}: marking the log archived: ${describeError(error)}`,
          { runId: tracked.runId },
        );
      }
    }
  }
}
