/**
 * The cluster handle itself: kubeconfig files, helpers that seed Secrets and PodTemplates,
 * init containers and shared emptyDirs, a command that does not exist, the deprecated watch
 * paths, and close() leaving no process behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BatchV1Api, KubeConfig, type V1Job, type V1Pod, Watch } from '@kubernetes/client-node';
import { fakeClusterKubeconfigFile, startFakeCluster } from '../index.ts';
import { harness, isFinished, NS, readLog, sharedDir, waitFor } from './support.ts';

test('a kubeconfig file for the cluster works with KubeConfig.loadFromFile', async (t) => {
  const { cluster, batch } = await harness(t);
  const dir = await sharedDir(t);
  const file = fakeClusterKubeconfigFile(cluster, dir);
  const config = new KubeConfig();
  config.loadFromFile(file);
  assert.equal(config.getCurrentCluster()?.server, cluster.url);
  assert.equal(config.getContextObject(config.getCurrentContext())?.namespace, NS);
  const fromFile = config.makeApiClient(BatchV1Api);
  assert.deepEqual((await fromFile.listNamespacedJob({ namespace: NS })).items, []);
  assert.deepEqual((await batch.listNamespacedJob({ namespace: NS })).items, []);
});

test('Secrets and PodTemplates seeded by the helpers read back through the API', async (t) => {
  const { cluster, core } = await harness(t);
  cluster.createSecret(NS, 'nes-github', { token: 'ghp_x' });
  cluster.createPodTemplate(NS, {
    metadata: { name: 'nes-runner' },
    template: {
      spec: {
        containers: [
          { name: 'runner', image: 'ghcr.io/nes/runner:1.0.0', env: [{ name: 'A', value: 'b' }] },
        ],
      },
    },
  });
  const secret = await core.readNamespacedSecret({ name: 'nes-github', namespace: NS });
  assert.equal(Buffer.from(secret.data?.token ?? '', 'base64').toString(), 'ghp_x');
  assert.equal(secret.type, 'Opaque');
  const template = await core.readNamespacedPodTemplate({ name: 'nes-runner', namespace: NS });
  assert.equal(template.template?.spec?.containers[0]?.env?.[0]?.value, 'b');
  assert.equal(template.metadata?.namespace, NS);
  // stringData is folded into data on write, as kube-apiserver does.
  const written = await core.createNamespacedSecret({
    namespace: NS,
    body: {
      metadata: { name: 'plain' },
      stringData: { user: 'analyst' },
      data: { other: Buffer.from('x').toString('base64') },
    },
  });
  assert.equal(written.stringData, undefined);
  assert.deepEqual(written.data, {
    other: 'eA==',
    user: Buffer.from('analyst').toString('base64'),
  });
  // Seeding again replaces the data.
  cluster.createSecret(NS, 'nes-github', { token: 'ghp_y' });
  const replaced = await core.readNamespacedSecret({ name: 'nes-github', namespace: NS });
  assert.equal(Buffer.from(replaced.data?.token ?? '', 'base64').toString(), 'ghp_y');
  assert.deepEqual(cluster.specViolations, []);
});

test('init containers run first and share emptyDirs with the main container; a missing command is StartError', async (t) => {
  const { cluster, core } = await harness(t);
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'with-init' },
      spec: {
        restartPolicy: 'Never',
        volumes: [{ name: 'work', emptyDir: {} }],
        initContainers: [
          {
            name: 'fetch',
            image: 'node:24',
            command: [
              'node',
              '-e',
              "require('fs').writeFileSync('/srv/nes-data/input.txt', 'from init')",
            ],
            volumeMounts: [{ name: 'work', mountPath: '/srv/nes-data' }],
          },
        ],
        containers: [
          {
            name: 'main',
            image: 'node:24',
            command: [
              'node',
              '-e',
              "console.log(require('fs').readFileSync('/srv/nes-data/input.txt', 'utf8'))",
              '/srv/nes-data/input.txt',
            ],
            volumeMounts: [{ name: 'work', mountPath: '/srv/nes-data' }],
          },
        ],
      },
    },
  });
  // Paths inside a script are not rewritten: the script reads the argument instead.
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'with-init-args' },
      spec: {
        restartPolicy: 'Never',
        volumes: [{ name: 'work', emptyDir: {} }],
        initContainers: [
          {
            name: 'fetch',
            image: 'node:24',
            command: [
              'node',
              '-e',
              "require('fs').writeFileSync(process.argv[1], 'from init')",
              '/srv/nes-data/input.txt',
            ],
            volumeMounts: [{ name: 'work', mountPath: '/srv/nes-data' }],
          },
        ],
        containers: [
          {
            name: 'main',
            image: 'node:24',
            command: [
              'node',
              '-e',
              "console.log(require('fs').readFileSync(process.argv[1], 'utf8'))",
              '/srv/nes-data/input.txt',
            ],
            volumeMounts: [{ name: 'work', mountPath: '/srv/nes-data' }],
          },
        ],
      },
    },
  });
  const done = await waitFor(
    'with-init-args',
    () => cluster.get<V1Pod>('Pod', NS, 'with-init-args'),
    (p) => p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed',
  );
  assert.equal(done?.status?.phase, 'Succeeded');
  assert.equal(done?.status?.initContainerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
  assert.equal((await readLog(cluster, 'with-init-args', 'container=main')).text, 'from init\n');
  const logWithoutContainer = await readLog(cluster, 'with-init-args');
  assert.equal(logWithoutContainer.status, 200, 'one main container: the container may be omitted');

  const literal = await waitFor(
    'with-init',
    () => cluster.get<V1Pod>('Pod', NS, 'with-init'),
    (p) => p?.status?.phase === 'Failed',
  );
  assert.equal(
    literal?.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode,
    1,
    'a path inside a script stays as written',
  );

  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'no-such-command' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'node:24', command: ['definitely-not-a-command'] }],
      },
    },
  });
  const failed = await waitFor(
    'StartError',
    () => cluster.get<V1Pod>('Pod', NS, 'no-such-command'),
    (p) => p?.status?.phase === 'Failed',
  );
  const terminated = failed?.status?.containerStatuses?.[0]?.state?.terminated;
  assert.equal(terminated?.reason, 'StartError');
  assert.equal(terminated?.exitCode, 128);
  assert.match(
    terminated?.message ?? '',
    /exec: "definitely-not-a-command": executable file not found in \$PATH/,
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('the deprecated /watch/ path and watch=1 are watches too', async (t) => {
  const { cluster, core } = await harness(t);
  cluster.createSecret(NS, 'one', { a: 'b' });
  for (const [path, query] of [
    [`/api/v1/watch/namespaces/${NS}/secrets`, { timeoutSeconds: 1 }],
    [`/api/v1/namespaces/${NS}/secrets`, { timeoutSeconds: 1 }],
  ] as const) {
    const seen: string[] = [];
    await new Promise((done) => {
      void new Watch(cluster.kubeConfig()).watch(
        path,
        query,
        (type, object: { metadata: { name: string } }) =>
          seen.push(`${type} ${object.metadata.name}`),
        done,
      );
    });
    assert.deepEqual(seen, ['ADDED one']);
  }
  const response = await fetch(
    `${cluster.url}/api/v1/namespaces/${NS}/secrets?watch=1&timeoutSeconds=1`,
    { headers: { authorization: `Bearer ${cluster.token}` } },
  );
  assert.equal((await response.text()).split('\n')[0]?.startsWith('{"type":"ADDED"'), true);
  assert.ok(await core.listNamespacedSecret({ namespace: NS }));
  assert.deepEqual(cluster.specViolations, []);
});

test('close() kills every process the kubelet started and ends open streams', async () => {
  const cluster = await startFakeCluster();
  const core = cluster
    .kubeConfig()
    .makeApiClient((await import('@kubernetes/client-node')).CoreV1Api);
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'forever' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'node:24',
            command: [
              'node',
              '-e',
              "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)",
            ],
          },
        ],
      },
    },
  });
  await waitFor(
    'the process',
    async () => (await readLog(cluster, 'forever')).text,
    (text) => text === 'up\n',
  );
  const pids = cluster.runningProcesses();
  assert.equal(pids.length, 1);
  const follow = await fetch(
    `${cluster.url}/api/v1/namespaces/${NS}/pods/forever/log?follow=true`,
    { headers: { authorization: `Bearer ${cluster.token}` } },
  );
  const body = follow.text().catch((error: unknown) => error);
  await cluster.close();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  assert.ok((await body) !== undefined);
});

test('kubelet.resolveCommand substitutes a local workload for a container', async (t) => {
  const { cluster, batch } = await harness(t, {
    kubelet: {
      resolveCommand: (pod, container) =>
        container.command?.[0] === 'nes-run'
          ? {
              command: 'node',
              args: ['-e', 'console.log(process.env.WHO, process.env.FROM_SPEC)'],
              env: { WHO: pod.metadata?.name ?? '' },
            }
          : undefined,
    },
  });
  await batch.createNamespacedJob({
    namespace: NS,
    body: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'light' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'runner',
                image: 'ghcr.io/nes/runner:1.0.0',
                command: ['nes-run'],
                args: ['--help'],
                env: [{ name: 'FROM_SPEC', value: 'kept' }],
              },
            ],
          },
        },
      },
    },
  });
  const pod = await waitFor(
    'the pod to succeed',
    () => cluster.list<V1Pod>('Pod', NS),
    (pods) => pods[0]?.status?.phase === 'Succeeded',
  );
  const name = pod[0]?.metadata?.name ?? '';
  assert.equal((await readLog(cluster, name)).text, `${name} kept\n`);
});

test('the Eviction API: POST pods/{name}/eviction marks the disruption and deletes the pod', async (t) => {
  const { cluster, core } = await harness(t);
  await core.createNamespacedPod({
    namespace: NS,
    body: {
      metadata: { name: 'evictee' },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'main',
            image: 'node:24',
            command: ['node', '-e', "console.log('up'); setInterval(() => {}, 1000)"],
          },
        ],
      },
    },
  });
  await waitFor(
    'the process',
    async () => (await readLog(cluster, 'evictee')).text,
    (text) => text === 'up\n',
  );
  const seen: V1Pod[] = [];
  const controller = await new Watch(cluster.kubeConfig()).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { fieldSelector: 'metadata.name=evictee' },
    (_type, pod: V1Pod) => seen.push(pod),
    () => {},
  );
  t.after(() => controller.abort());
  await core.createNamespacedPodEviction({
    name: 'evictee',
    namespace: NS,
    body: {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'evictee', namespace: NS },
    },
  });
  await waitFor(
    'the pod to go',
    () => cluster.get('Pod', NS, 'evictee'),
    (pod) => pod === undefined,
  );
  await waitFor(
    'the last events',
    () => seen,
    (list) => list.some((p) => p.status?.phase === 'Failed'),
  );
  const condition = seen.at(-1)?.status?.conditions?.find((c) => c.type === 'DisruptionTarget');
  assert.equal(condition?.reason, 'EvictionByEvictionAPI');
  assert.equal(
    seen.at(-1)?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode,
    143,
    'SIGTERM',
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('sendInitialEvents streams the current state and marks its end with an annotated BOOKMARK', async (t) => {
  const { cluster } = await harness(t);
  cluster.createSecret(NS, 'one', { a: 'b' });
  const response = await fetch(
    `${cluster.url}/api/v1/namespaces/${NS}/secrets?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1`,
    { headers: { authorization: `Bearer ${cluster.token}` } },
  );
  const events = (await response.text())
    .trim()
    .split('\n')
    .map(
      (line) =>
        JSON.parse(line) as {
          type: string;
          object: { metadata: { name?: string; annotations?: Record<string, string> } };
        },
    );
  assert.equal(events[0]?.type, 'ADDED');
  assert.equal(events[0]?.object.metadata.name, 'one');
  assert.equal(events[1]?.type, 'BOOKMARK');
  assert.equal(events[1]?.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
  assert.deepEqual(cluster.specViolations, []);
});

test('a native sidecar starts before the main container and is stopped after it; the Job completes', async (t) => {
  const { cluster, batch } = await harness(t);
  const shared = await sharedDir(t);
  const marker = `${shared}/sidecar`;
  const sidecar = `process.on('SIGTERM', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'stopped'); process.exit(0); }); setInterval(() => {}, 1000);`;
  await batch.createNamespacedJob({
    namespace: NS,
    body: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'with-sidecar' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            initContainers: [
              {
                name: 'proxy',
                image: 'proxy:1',
                restartPolicy: 'Always',
                command: ['node', '-e', sidecar],
              },
            ],
            containers: [
              { name: 'runner', image: 'runner:1', command: ['node', '-e', "console.log('main')"] },
            ],
          },
        },
      },
    },
  });
  await waitFor('Complete', () => cluster.get<V1Job>('Job', NS, 'with-sidecar'), isFinished);
  const [pod] = cluster.list<V1Pod>('Pod', NS);
  assert.equal(pod?.status?.phase, 'Succeeded');
  assert.equal(pod?.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  assert.equal(readFileSync(marker, 'utf8'), 'stopped');
  assert.deepEqual(cluster.runningProcesses(), []);
  assert.deepEqual(cluster.specViolations, []);
});
