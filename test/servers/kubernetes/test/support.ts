/** Shared by the fake cluster's suites: a cluster per test, clients, waiting and Job builders. */
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApiException,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type V1Container,
  type V1Job,
} from '@kubernetes/client-node';
import { type FakeCluster, type FakeClusterOptions, startFakeCluster } from '../index.ts';
import { SpecChecker } from '../spec-check.ts';

export const NS = 'nes-runs';

export interface Harness {
  cluster: FakeCluster;
  batch: BatchV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

/** A cluster closed after the test; the test also fails if the cluster saw a spec violation. */
export async function harness(t: TestContext, options: FakeClusterOptions = {}): Promise<Harness> {
  const cluster = await startFakeCluster(options);
  t.after(() => cluster.close());
  const config = cluster.kubeConfig();
  return {
    cluster,
    batch: config.makeApiClient(BatchV1Api),
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
  };
}

/** Polls `read` until `done` holds (a generous bound: the machine is shared and slow). */
export async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `timed out waiting for ${what}; last value: ${JSON.stringify(value)?.slice(0, 2000)}`,
      );
    }
    await delay(25);
  }
}

/** A Job whose one container runs `node -e script` (restartPolicy Never, backoffLimit 0). */
export function nodeJob(
  name: string,
  script: string,
  container: Partial<V1Container> = {},
  spec: Partial<NonNullable<V1Job['spec']>> = {},
): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: 'fake-test' } },
    spec: {
      backoffLimit: 0,
      ...spec,
      template: {
        metadata: { labels: { app: 'fake-test' } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'runner',
              image: 'ghcr.io/nes/runner:1.0.0',
              command: ['node', '-e', script],
              ...container,
            },
          ],
        },
      },
    },
  };
}

/** The Job's conditions as `type=status/reason` strings, in order. */
export function conditionsOf(job: V1Job | undefined): string[] {
  return (job?.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason ?? ''}`);
}

export function isFinished(job: V1Job | undefined): boolean {
  return (job?.status?.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
}

/** The ApiException's parsed Status body. */
export interface StatusReply {
  code: number;
  reason: string;
  message: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { field: string; reason: string; message: string }[];
  };
}

export async function statusOf(promise: Promise<unknown>): Promise<StatusReply> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) {
      const body = error.body as unknown;
      if (body === undefined || body === null || body === '')
        return { code: error.code, reason: '', message: '' };
      return typeof body === 'string' ? JSON.parse(body) : (body as never);
    }
    throw error;
  }
  throw new Error('the request succeeded');
}

let checker: SpecChecker | null = null;
/** Every object the cluster holds validates strictly against the official spec. */
export function schemaIssues(cluster: FakeCluster): string[] {
  checker ??= new SpecChecker();
  const issues: string[] = [];
  for (const kind of ['Job', 'Pod', 'Event', 'Lease', 'Secret', 'PodTemplate'] as const) {
    for (const object of cluster.list<Record<string, unknown>>(kind, NS)) {
      for (const issue of checker.validator.validateObject(object)) {
        issues.push(
          `${kind} ${(object.metadata as { name: string }).name} ${issue.path}: ${issue.message}`,
        );
      }
    }
  }
  return issues;
}

/**
 * A directory outside every mount path the test Jobs use (/tmp, /home/nes), so a container's
 * process and the test can both reach it as is: gates and markers live here.
 */
export async function sharedDir(t: TestContext): Promise<string> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const dir = await mkdtemp('/var/tmp/fake-cluster-test-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads a pod's log through the API (plain HTTP, as the executor does). */
export async function readLog(
  cluster: FakeCluster,
  pod: string,
  query = '',
): Promise<{ status: number; text: string }> {
  const response = await fetch(
    `${cluster.url}/api/v1/namespaces/${NS}/pods/${pod}/log${query ? `?${query}` : ''}`,
    {
      headers: { authorization: `Bearer ${cluster.token}` },
    },
  );
  return { status: response.status, text: await response.text() };
}

/** The one pod of a Job (waits for it). */
export async function podOf(
  cluster: FakeCluster,
  job: string,
): Promise<import('@kubernetes/client-node').V1Pod> {
  const pods = await waitFor(
    `a pod of ${job}`,
    () =>
      cluster
        .list<import('@kubernetes/client-node').V1Pod>('Pod', NS)
        .filter((p) => p.metadata?.labels?.['batch.kubernetes.io/job-name'] === job),
    (list) => list.length > 0,
  );
  return pods[0] as import('@kubernetes/client-node').V1Pod;
}
