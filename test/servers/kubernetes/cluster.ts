/**
 * `startFakeCluster`: a Kubernetes API server on loopback with a Job controller, a garbage
 * collector, a scheduler and one kubelet that runs containers as local processes. See
 * README.md for what is faithful and what is not.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KubeConfig,
  type V1Container,
  type V1Pod,
  type V1PodTemplate,
} from '@kubernetes/client-node';
import { ObjectApi } from './api.ts';
import { EventRecorder } from './events.ts';
import { GarbageCollector } from './gc.ts';
import { JobController } from './job-controller.ts';
import { defaultPath, Kubelet, type KubeletConfig, type ResolvedCommand } from './kubelet.ts';
import type { OpenLogStream } from './logs.ts';
import { apiVersionOf, type Kind, resourceByKind } from './resources.ts';
import type { KubeObject } from './selectors.ts';
import { checkBody, handleRequest, type RecordedRequest, type RequestFault } from './server.ts';
import { SpecChecker } from './spec-check.ts';
import { ObjectStore } from './store.ts';
import type { OpenWatch } from './watch.ts';

export interface FakeClusterOptions {
  /** Namespaces that exist from the start. Default ['nes-runs']. */
  namespaces?: string[];
  kubelet?: {
    /**
     * Maps a container to a local process. Default: command + args as given, PATH = the
     * repository's node_modules/.bin, .tools/py/bin and the system's, env from the spec
     * (secretKeyRef/configMapKeyRef resolved), mount paths remapped.
     */
    resolveCommand?: KubeletConfig['resolveCommand'];
    /** Pending -> scheduled. Default 10 ms. */
    scheduleDelayMs?: number;
    /** Image pull. Default 10 ms. */
    pullDelayMs?: number;
    /** The node's allocatable CPU; pods that request more than is left wait unscheduled. Default "16". */
    allocatableCpu?: string;
  };
  watch?: {
    /** How often a watch with allowWatchBookmarks gets a BOOKMARK. Default 1000 ms. */
    bookmarkIntervalMs?: number;
  };
}

export type ObjectKind =
  | 'Job'
  | 'Pod'
  | 'Lease'
  | 'Event'
  | 'PodTemplate'
  | 'Secret'
  | 'ConfigMap'
  | 'Namespace';

export interface FakeClusterFaults {
  /** Closes every open watch stream abruptly (the socket is destroyed, no final chunk). */
  dropWatches(): void;
  /** Sends a 410 Expired ERROR event on every open watch and ends it; history is compacted, so later watches from an older resourceVersion get 410 too. */
  expireWatches(): void;
  /** Destroys every open follow=true log stream. */
  dropLogStreams(): void;
  /** The OOM killer: the pod's running container gets SIGKILL and terminates OOMKilled, exit 137. */
  oomKill(podName: string): void;
  /** The Eviction API: condition DisruptionTarget (EvictionByEvictionAPI), then graceful deletion. */
  evict(podName: string): void;
  /** New pods whose image matches stay Pending: ErrImagePull, then ImagePullBackOff. */
  failImagePull(imagePattern: RegExp): void;
  /** New pods that match are not scheduled: PodScheduled False, reason Unschedulable. */
  unschedulable(predicate: (pod: V1Pod) => boolean): void;
  /** The next `times` matching requests answer `status` (default 500) with a Status body. */
  failRequests(
    match: { method?: string; pathPrefix?: string },
    times: number,
    status?: number,
  ): void;
}

export interface FakeCluster {
  /** http://127.0.0.1:PORT */
  url: string;
  /** A @kubernetes/client-node KubeConfig for this server (token user). */
  kubeConfig(): KubeConfig;
  /** The kubeconfig as text (JSON, which is YAML too: kubectl and every YAML parser read it). */
  kubeconfigYaml(): string;
  /** The bearer token the server requires (401 Status otherwise). */
  token: string;
  requests: RecordedRequest[];
  /** Every request is checked against the official spec; tests assert this stays empty. */
  specViolations: string[];
  createSecret(namespace: string, name: string, data: Record<string, string>): void;
  createConfigMap(namespace: string, name: string, data: Record<string, string>): void;
  createPodTemplate(namespace: string, template: V1PodTemplate): void;
  get<T>(kind: ObjectKind, namespace: string, name: string): T | undefined;
  list<T>(kind: ObjectKind, namespace: string): T[];
  /** Local pids of container processes still running. */
  runningProcesses(): number[];
  faults: FakeClusterFaults;
  /** SIGKILLs every process it started and closes every stream. */
  close(): Promise<void>;
}

export type { RecordedRequest };

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export async function startFakeCluster(options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const token = randomBytes(24).toString('hex');
  const store = new ObjectStore();
  const checker = new SpecChecker();
  const specViolations: string[] = [];
  const requests: RecordedRequest[] = [];
  const api = new ObjectApi(store, (type, object) => {
    const definition = checker.validator.definitionFor(apiVersionOf(type), type.kind);
    if (definition)
      checkBody(
        { checker, specViolations },
        type,
        definition,
        object,
        'PATCH',
        `${type.plural}/${object.metadata?.name}`,
      );
  });
  const events = new EventRecorder(store);
  const kubelet = new Kubelet(store, events, {
    ...(options.kubelet?.resolveCommand ? { resolveCommand: options.kubelet.resolveCommand } : {}),
    scheduleDelayMs: options.kubelet?.scheduleDelayMs ?? 10,
    pullDelayMs: options.kubelet?.pullDelayMs ?? 10,
    allocatableCpu: options.kubelet?.allocatableCpu ?? '16',
    path: defaultPath(REPO_ROOT),
    workDir: join(tmpdir(), `fake-kubelet-${randomBytes(6).toString('hex')}`),
  });
  const jobs = new JobController(store, api, events);
  const gc = new GarbageCollector(store, api);
  for (const namespace of ['default', ...(options.namespaces ?? ['nes-runs'])]) {
    if (store.get('Namespace', undefined, namespace)) continue;
    store.create('Namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        uid: '',
        resourceVersion: '',
        labels: { 'kubernetes.io/metadata.name': namespace },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }
  const watches = new Set<OpenWatch>();
  const logStreams = new Set<OpenLogStream>();
  const requestFaults: RequestFault[] = [];
  const POD = resourceByKind('Pod');

  const findPod = (name: string): KubeObject | undefined =>
    store.list('Pod').find((pod) => pod.metadata.name === name);
  const evict = (namespace: string, name: string, graceSeconds?: number) => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    store.mutate('Pod', namespace, name, (pod) => {
      const status = (pod.status ?? {}) as { conditions?: Record<string, unknown>[] };
      status.conditions = [
        ...(status.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'),
        {
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'EvictionByEvictionAPI',
          message: 'Eviction API: evicting',
          lastTransitionTime: now,
        },
      ];
      pod.status = status;
      return true;
    });
    api.delete(
      POD,
      namespace,
      name,
      graceSeconds === undefined ? {} : { gracePeriodSeconds: graceSeconds },
    );
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) =>
    handleRequest(
      {
        token,
        store,
        api,
        kubelet,
        checker,
        requests,
        specViolations,
        requestFaults,
        watches,
        logStreams,
        bookmarkIntervalMs: options.watch?.bookmarkIntervalMs ?? 1000,
        evict,
      },
      request,
      response,
    ),
  );
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeConfig = () => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token }],
      contexts: [
        {
          name: 'fake',
          cluster: 'fake',
          user: 'fake-user',
          namespace: options.namespaces?.[0] ?? 'nes-runs',
        },
      ],
      currentContext: 'fake',
    });
    return config;
  };

  const put = (kind: Kind, object: KubeObject) => {
    const type = resourceByKind(kind);
    if (store.get(kind, object.metadata.namespace, object.metadata.name)) {
      const current = store.get(
        kind,
        object.metadata.namespace,
        object.metadata.name,
      ) as KubeObject;
      store.replace(kind, {
        ...current,
        ...object,
        metadata: {
          ...current.metadata,
          ...object.metadata,
          resourceVersion: current.metadata.resourceVersion,
        },
      });
    } else {
      const { resourceVersion: _, uid: __, ...metadata } = object.metadata;
      api.create(type, object.metadata.namespace, { ...object, metadata } as KubeObject, false);
    }
  };

  let closed = false;
  return {
    url,
    token,
    requests,
    specViolations,
    kubeConfig,
    kubeconfigYaml: () => kubeConfig().exportConfig(),
    createSecret(namespace, name, data) {
      put('Secret', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, uid: '', resourceVersion: '' },
        type: 'Opaque',
        data: Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
        ),
      });
    },
    createConfigMap(namespace, name, data) {
      put('ConfigMap', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, uid: '', resourceVersion: '' },
        data,
      });
    },
    createPodTemplate(namespace, template) {
      put('PodTemplate', {
        ...(template as unknown as KubeObject),
        apiVersion: 'v1',
        kind: 'PodTemplate',
        metadata: { ...(template.metadata as KubeObject['metadata']), namespace },
      });
    },
    get: <T>(kind: ObjectKind, namespace: string, name: string) =>
      store.get(kind, resourceByKind(kind).namespaced ? namespace : undefined, name) as
        | T
        | undefined,
    list: <T>(kind: ObjectKind, namespace: string) =>
      store.list(kind, resourceByKind(kind).namespaced ? namespace : undefined) as T[],
    runningProcesses: () => kubelet.runningProcesses,
    faults: {
      dropWatches() {
        for (const watch of [...watches]) watch.drop();
      },
      expireWatches() {
        store.compact();
        for (const watch of [...watches]) watch.expire(store.resourceVersion);
      },
      dropLogStreams() {
        for (const stream of [...logStreams]) stream.drop();
      },
      oomKill(podName) {
        const pod = findPod(podName);
        if (!pod || !kubelet.oomKill(pod.metadata.namespace, podName)) {
          throw new Error(`oomKill: pod ${podName} has no running container`);
        }
      },
      evict(podName) {
        const pod = findPod(podName);
        if (!pod) throw new Error(`evict: no pod ${podName}`);
        evict(pod.metadata.namespace ?? '', podName);
      },
      failImagePull(pattern) {
        kubelet.faults.failImagePull.push(pattern);
      },
      unschedulable(predicate) {
        kubelet.faults.unschedulable.push(predicate);
      },
      failRequests(match, times, status = 500) {
        requestFaults.push({ ...match, times, status });
      },
    },
    async close() {
      if (closed) return;
      closed = true;
      jobs.close();
      gc.close();
      for (const watch of [...watches]) watch.drop();
      for (const stream of [...logStreams]) stream.drop();
      await kubelet.close();
      server.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) =>
        server.listening ? server.once('close', () => done()) : done(),
      );
    },
  };
}
