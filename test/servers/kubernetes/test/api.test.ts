/**
 * The fake API server through the real @kubernetes/client-node: CRUD with kube-apiserver's
 * Status errors, selectors, optimistic concurrency, patches, and the spec check of requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  type V1Lease,
  VersionApi,
} from '@kubernetes/client-node';
import { harness, NS, nodeJob, schemaIssues, statusOf, waitFor } from './support.ts';

const suspended = (name: string): V1Job => nodeJob(name, 'process.exit(0)', {}, { suspend: true });

test('create, get, list and delete a Job, with the Status bodies of a real API server', async (t) => {
  const { cluster, batch } = await harness(t);
  const created = await batch.createNamespacedJob({ namespace: NS, body: suspended('alpha') });
  assert.equal(created.metadata?.name, 'alpha');
  assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
  assert.equal(created.metadata?.generation, 1);
  // Server-side defaults.
  assert.equal(created.spec?.completions, 1);
  assert.equal(created.spec?.parallelism, 1);
  assert.equal(created.spec?.completionMode, 'NonIndexed');
  // v1.28: podReplacementPolicy is alpha and off, so not defaulted.
  assert.equal(created.spec?.podReplacementPolicy, undefined);
  assert.deepEqual(created.spec?.selector?.matchLabels, {
    'batch.kubernetes.io/controller-uid': created.metadata?.uid,
  });
  const labels = created.spec?.template.metadata?.labels ?? {};
  assert.equal(labels['batch.kubernetes.io/job-name'], 'alpha');
  assert.equal(labels['controller-uid'], created.metadata?.uid);
  assert.equal(
    created.spec?.template.spec?.containers[0]?.terminationMessagePath,
    '/dev/termination-log',
  );
  assert.equal(created.spec?.template.spec?.containers[0]?.terminationMessagePolicy, 'File');

  const again = await statusOf(
    batch.createNamespacedJob({ namespace: NS, body: suspended('alpha') }),
  );
  assert.equal(again.code, 409);
  assert.equal(again.reason, 'AlreadyExists');
  assert.equal(again.message, 'jobs.batch "alpha" already exists');
  assert.deepEqual(again.details, { name: 'alpha', group: 'batch', kind: 'jobs' });

  const missing = await statusOf(batch.readNamespacedJob({ name: 'nope', namespace: NS }));
  assert.equal(missing.code, 404);
  assert.equal(missing.reason, 'NotFound');
  assert.equal(missing.message, 'jobs.batch "nope" not found');

  const read = await batch.readNamespacedJob({ name: 'alpha', namespace: NS });
  assert.equal(read.metadata?.uid, created.metadata?.uid);

  await batch.createNamespacedJob({
    namespace: NS,
    body: { ...suspended('beta'), metadata: { name: 'beta', labels: { app: 'other', tier: 'x' } } },
  });
  const list = await batch.listNamespacedJob({ namespace: NS });
  assert.equal(list.kind, 'JobList');
  assert.equal(list.apiVersion, 'batch/v1');
  assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
  assert.deepEqual(
    list.items.map((job) => job.metadata?.name),
    ['alpha', 'beta'],
  );

  const selected = async (labelSelector?: string, fieldSelector?: string) =>
    (await batch.listNamespacedJob({ namespace: NS, labelSelector, fieldSelector })).items.map(
      (job) => job.metadata?.name,
    );
  assert.deepEqual(await selected('app=fake-test'), ['alpha']);
  assert.deepEqual(await selected('app!=fake-test'), ['beta']);
  assert.deepEqual(await selected('app in (other,none)'), ['beta']);
  assert.deepEqual(await selected('app notin (other)'), ['alpha']);
  assert.deepEqual(await selected('tier'), ['beta']);
  assert.deepEqual(await selected('!tier'), ['alpha']);
  assert.deepEqual(await selected(undefined, 'metadata.name=beta'), ['beta']);
  const badField = await statusOf(
    batch.listNamespacedJob({ namespace: NS, fieldSelector: 'spec.nothing=1' }),
  );
  assert.equal(badField.code, 400);
  assert.match(badField.message, /field label not supported: spec\.nothing/);

  const deleted = await batch.deleteNamespacedJob({
    name: 'beta',
    namespace: NS,
    propagationPolicy: 'Background',
  });
  assert.equal(deleted.status, 'Success');
  assert.equal(cluster.get('Job', NS, 'beta'), undefined);
  const deletedAgain = await statusOf(batch.deleteNamespacedJob({ name: 'beta', namespace: NS }));
  assert.equal(deletedAgain.code, 404);

  assert.deepEqual(cluster.specViolations, []);
  assert.deepEqual(schemaIssues(cluster), []);
});

test('generateName, invalid Jobs (422 with causes), a missing namespace and a missing token', async (t) => {
  const { cluster, batch, core } = await harness(t);
  const generated = await batch.createNamespacedJob({
    namespace: NS,
    body: { ...suspended(''), metadata: { generateName: 'gen-' } },
  });
  assert.match(generated.metadata?.name ?? '', /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);

  const always = suspended('always');
  const alwaysPod = always.spec?.template.spec;
  assert.ok(alwaysPod);
  alwaysPod.restartPolicy = 'Always';
  const invalid = await statusOf(batch.createNamespacedJob({ namespace: NS, body: always }));
  assert.equal(invalid.code, 422);
  assert.equal(invalid.reason, 'Invalid');
  assert.equal(
    invalid.message,
    'Job.batch "always" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
  );
  assert.deepEqual(
    (invalid.details?.causes ?? []).map((c) => c.field),
    ['spec.template.spec.restartPolicy'],
  );

  const noTemplate = await statusOf(
    batch.createNamespacedJob({
      namespace: NS,
      body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'empty' }, spec: {} as never },
    }),
  );
  assert.equal(noTemplate.code, 422);
  assert.deepEqual(
    (noTemplate.details?.causes ?? []).map((c) => `${c.field} ${c.reason}`),
    ['spec.template FieldValueRequired'],
  );
  assert.ok(
    cluster.specViolations.some((v) => v.includes('$.spec.template: required field is missing')),
  );
  cluster.specViolations.length = 0;

  // An object read back and created again still carries its resourceVersion: etcd refuses it.
  const reused = await statusOf(
    batch.createNamespacedJob({
      namespace: NS,
      body: { ...suspended('reused'), metadata: { name: 'reused', resourceVersion: '12' } },
    }),
  );
  assert.equal(reused.code, 500);
  assert.equal(
    reused.message,
    'Internal error occurred: resourceVersion should not be set on objects to be created',
  );

  const badName = await statusOf(
    batch.createNamespacedJob({ namespace: NS, body: suspended('Not_A_Name') }),
  );
  assert.equal(badName.code, 422);

  const elsewhere = await statusOf(
    batch.createNamespacedJob({ namespace: 'nowhere', body: suspended('x') }),
  );
  assert.equal(elsewhere.code, 404);
  assert.equal(elsewhere.message, 'namespaces "nowhere" not found');

  const response = await fetch(`${cluster.url}/apis/batch/v1/namespaces/${NS}/jobs`);
  assert.equal(response.status, 401);
  assert.deepEqual(await response.json(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Unauthorized',
    reason: 'Unauthorized',
    code: 401,
  });

  // A list in a namespace without objects is empty, not an error.
  assert.deepEqual((await core.listNamespacedPod({ namespace: 'default' })).items, []);
  assert.deepEqual(cluster.specViolations, []);
});

test('Leases: create, update with optimistic concurrency (409 Conflict on a stale resourceVersion), patch', async (t) => {
  const { cluster, coordination } = await harness(t);
  const lease: V1Lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'nes-scheduler' },
    spec: {
      holderIdentity: 'replica-a',
      leaseDurationSeconds: 15,
      acquireTime: new Date(),
      renewTime: new Date(),
    },
  };
  const created = await coordination.createNamespacedLease({ namespace: NS, body: lease });
  assert.equal(created.spec?.holderIdentity, 'replica-a');
  assert.equal(created.metadata?.generation, undefined);

  const renewed = await coordination.replaceNamespacedLease({
    name: 'nes-scheduler',
    namespace: NS,
    body: { ...created, spec: { ...created.spec, renewTime: new Date() } },
  });
  assert.notEqual(renewed.metadata?.resourceVersion, created.metadata?.resourceVersion);

  // Another replica still holds the old resourceVersion: it loses.
  const stale = await statusOf(
    coordination.replaceNamespacedLease({
      name: 'nes-scheduler',
      namespace: NS,
      body: { ...created, spec: { ...created.spec, holderIdentity: 'replica-b' } },
    }),
  );
  assert.equal(stale.code, 409);
  assert.equal(stale.reason, 'Conflict');
  assert.equal(
    stale.message,
    'Operation cannot be fulfilled on leases.coordination.k8s.io "nes-scheduler": the object has been modified; please apply your changes to the latest version and try again',
  );

  // A merge patch carrying the resourceVersion is conditional too.
  const patched = await coordination.patchNamespacedLease(
    {
      name: 'nes-scheduler',
      namespace: NS,
      body: {
        metadata: { resourceVersion: renewed.metadata?.resourceVersion },
        spec: { holderIdentity: 'replica-b' },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.equal(patched.spec?.holderIdentity, 'replica-b');
  assert.equal(patched.spec?.leaseDurationSeconds, 15);
  const stalePatch = await statusOf(
    coordination.patchNamespacedLease(
      {
        name: 'nes-scheduler',
        namespace: NS,
        body: {
          metadata: { resourceVersion: renewed.metadata?.resourceVersion },
          spec: { holderIdentity: 'replica-c' },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ),
  );
  assert.equal(stalePatch.code, 409);

  // JSON Patch (the client's default content type) with a failing test operation: 422.
  const jsonPatched = await coordination.patchNamespacedLease({
    name: 'nes-scheduler',
    namespace: NS,
    body: [{ op: 'replace', path: '/spec/holderIdentity', value: 'replica-d' }],
  });
  assert.equal(jsonPatched.spec?.holderIdentity, 'replica-d');
  const failedTest = await statusOf(
    coordination.patchNamespacedLease({
      name: 'nes-scheduler',
      namespace: NS,
      body: [
        { op: 'test', path: '/spec/holderIdentity', value: 'replica-a' },
        { op: 'replace', path: '/spec/holderIdentity', value: 'x' },
      ],
    }),
  );
  assert.equal(failedTest.code, 422);
  assert.equal(
    cluster.get<V1Lease>('Lease', NS, 'nes-scheduler')?.spec?.holderIdentity,
    'replica-d',
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('Job spec.suspend by strategic merge patch (Kueue) starts the Job; its template is immutable', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({ namespace: NS, body: suspended('queued') });
  const job = await waitFor(
    'the Suspended condition',
    () => cluster.get<V1Job>('Job', NS, 'queued'),
    (j) => !!j?.status?.conditions?.length,
  );
  assert.deepEqual(
    job?.status?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Suspended=True/JobSuspended'],
  );
  assert.equal(cluster.list('Pod', NS).length, 0);
  assert.equal(job?.status?.startTime, undefined);

  const resumed = await batch.patchNamespacedJob(
    { name: 'queued', namespace: NS, body: { spec: { suspend: false } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  assert.equal(resumed.spec?.suspend, false);
  assert.equal(resumed.metadata?.generation, 2);
  const done = await waitFor(
    'completion',
    () => cluster.get<V1Job>('Job', NS, 'queued'),
    (j) => j?.status?.succeeded === 1 && !!j.status.completionTime,
  );
  assert.deepEqual(
    done?.status?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`),
    ['Suspended=False/JobResumed', 'Complete=True/CompletionsReached'],
  );

  const changeImage = await statusOf(
    batch.patchNamespacedJob(
      {
        name: 'queued',
        namespace: NS,
        body: {
          spec: { template: { spec: { containers: [{ name: 'runner', image: 'other:1' }] } } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    ),
  );
  assert.equal(changeImage.code, 422);
  assert.match(changeImage.message, /spec\.template: Invalid value: field is immutable/);
  assert.deepEqual(cluster.specViolations, []);
});

test('spec violations: an unknown field in a body, an undeclared query parameter, an unknown path', async (t) => {
  const { cluster } = await harness(t);
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${cluster.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  const job = nodeJob('strict', 'process.exit(0)', {}, { suspend: true }) as unknown as {
    spec: Record<string, unknown>;
  };
  job.spec.backofLimit = 3; // misspelt
  const unknownField = await call('POST', `/apis/batch/v1/namespaces/${NS}/jobs`, job);
  assert.equal(unknownField.status, 400);
  const status = (await unknownField.json()) as { reason: string; message: string };
  assert.equal(status.reason, 'BadRequest');
  assert.equal(
    status.message,
    'Job in version "v1" cannot be handled as a Job: strict decoding error: unknown field "spec.backofLimit"',
  );
  assert.equal(cluster.get('Job', NS, 'strict'), undefined);
  assert.deepEqual(cluster.specViolations, [
    `POST /apis/batch/v1/namespaces/${NS}/jobs: io.k8s.api.batch.v1.Job $.spec.backofLimit: unknown field`,
  ]);

  cluster.specViolations.length = 0;
  const undeclared = await call('GET', `/apis/batch/v1/namespaces/${NS}/jobs?watchh=true`);
  assert.equal(undeclared.status, 400);
  assert.equal(cluster.specViolations.length, 1);
  assert.match(
    cluster.specViolations[0] ?? '',
    /query parameter\(s\) watchh not declared for listBatchV1NamespacedJob/,
  );

  cluster.specViolations.length = 0;
  const unknownPath = await call('GET', `/apis/batch/v1/namespaces/${NS}/jobz`);
  assert.equal(unknownPath.status, 404);
  assert.deepEqual(cluster.specViolations, [
    `GET /apis/batch/v1/namespaces/${NS}/jobz: no such path in the spec`,
  ]);

  // The one documented exception: pods/log sinceTime is served although the spec omits it.
  cluster.specViolations.length = 0;
  const log = await call(
    'GET',
    `/api/v1/namespaces/${NS}/pods/none/log?sinceTime=2026-01-01T00:00:00Z`,
  );
  assert.equal(log.status, 404);
  assert.deepEqual(cluster.specViolations, []);

  // A PATCH whose result has an unknown field is caught as well.
  await call(
    'POST',
    `/apis/batch/v1/namespaces/${NS}/jobs`,
    nodeJob('patched', 'process.exit(0)', {}, { suspend: true }),
  );
  const patch = await fetch(`${cluster.url}/apis/batch/v1/namespaces/${NS}/jobs/patched`, {
    method: 'PATCH',
    headers: {
      authorization: `Bearer ${cluster.token}`,
      'content-type': 'application/merge-patch+json',
    },
    body: JSON.stringify({ spec: { suspended: false } }),
  });
  assert.equal(patch.status, 400);
  assert.equal(cluster.specViolations.length, 1);
});

test('failRequests answers API errors with Status bodies, then recovers', async (t) => {
  const { cluster, batch } = await harness(t);
  cluster.faults.failRequests({ method: 'POST', pathPrefix: '/apis/batch/v1/' }, 2, 503);
  for (let i = 0; i < 2; i += 1) {
    const failed = await statusOf(
      batch.createNamespacedJob({ namespace: NS, body: suspended('flaky') }),
    );
    assert.equal(failed.code, 503);
    assert.equal(failed.reason, 'ServiceUnavailable');
  }
  const created = await batch.createNamespacedJob({ namespace: NS, body: suspended('flaky') });
  assert.equal(created.metadata?.name, 'flaky');
  assert.deepEqual(
    cluster.requests.filter((r) => r.method === 'POST').map((r) => r.status),
    [503, 503, 201],
  );
});

test('/version answers like kube-apiserver v1.28 (with or without the trailing slash)', async (t) => {
  const { cluster } = await harness(t);
  const version = await cluster.kubeConfig().makeApiClient(VersionApi).getCode();
  assert.equal(version.gitVersion, 'v1.28.15');
  assert.equal(version.minor, '28');
  const bare = await fetch(`${cluster.url}/version`, {
    headers: { authorization: `Bearer ${cluster.token}` },
  });
  assert.equal(bare.status, 200);
  assert.deepEqual(cluster.specViolations, []);
});

test('lists page with limit and continue; deletecollection deletes what the selector picks', async (t) => {
  const { cluster, batch } = await harness(t);
  for (const name of ['p1', 'p2', 'p3']) {
    await batch.createNamespacedJob({ namespace: NS, body: suspended(name) });
  }
  const first = await batch.listNamespacedJob({ namespace: NS, limit: 2 });
  assert.deepEqual(
    first.items.map((job) => job.metadata?.name),
    ['p1', 'p2'],
  );
  assert.equal(first.metadata?.remainingItemCount, 1);
  const second = await batch.listNamespacedJob({
    namespace: NS,
    limit: 2,
    _continue: first.metadata?._continue,
  });
  assert.deepEqual(
    second.items.map((job) => job.metadata?.name),
    ['p3'],
  );
  assert.equal(second.metadata?._continue, undefined);

  await batch.deleteCollectionNamespacedJob({
    namespace: NS,
    fieldSelector: 'metadata.name!=p2',
    propagationPolicy: 'Background',
  });
  assert.deepEqual(
    cluster.list<V1Job>('Job', NS).map((job) => job.metadata?.name),
    ['p2'],
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('a Job replaced from a stale read gets 409 Conflict; status writes go through /status only', async (t) => {
  const { batch } = await harness(t);
  const created = await batch.createNamespacedJob({ namespace: NS, body: suspended('cas') });
  const current = await batch.patchNamespacedJob(
    { name: 'cas', namespace: NS, body: { metadata: { annotations: { step: '1' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const stale = await statusOf(
    batch.replaceNamespacedJob({
      name: 'cas',
      namespace: NS,
      body: { ...created, metadata: { ...created.metadata, annotations: { step: 'stale' } } },
    }),
  );
  assert.equal(stale.code, 409);
  assert.equal(stale.reason, 'Conflict');
  assert.match(stale.message, /^Operation cannot be fulfilled on jobs\.batch "cas"/);

  // The main resource ignores status; the status subresource ignores everything else.
  const ignored = await batch.replaceNamespacedJob({
    name: 'cas',
    namespace: NS,
    body: { ...current, status: { succeeded: 7 } },
  });
  assert.notEqual(ignored.status?.succeeded, 7);
  const fresh = await batch.readNamespacedJob({ name: 'cas', namespace: NS });
  const written = await batch.replaceNamespacedJobStatus({
    name: 'cas',
    namespace: NS,
    body: {
      ...fresh,
      metadata: { ...fresh.metadata, labels: { sneaky: 'yes' } },
      status: { ...fresh.status, succeeded: 7 },
    },
  });
  assert.equal(written.status?.succeeded, 7);
  assert.equal(written.metadata?.labels?.sneaky, undefined);
});
