/**
 * Watches through the real client's Watch and informer: events after a resourceVersion,
 * selector transitions, bookmarks, timeoutSeconds, 410 Expired (the informer re-lists) and
 * dropped streams.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  Watch,
} from '@kubernetes/client-node';
import { harness, NS, nodeJob, waitFor } from './support.ts';

const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;
const suspended = (name: string): V1Job => nodeJob(name, 'process.exit(0)', {}, { suspend: true });

interface Seen {
  type: string;
  name: string;
  resourceVersion: string;
}

function collect(): {
  events: Seen[];
  done: Promise<unknown>;
  callback: (type: string, object: V1Job) => void;
  finish: (error: unknown) => void;
} {
  const events: Seen[] = [];
  let finish: (error: unknown) => void = () => {};
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  return {
    events,
    done,
    callback: (type, object) =>
      events.push({
        type,
        name: object.metadata?.name ?? '',
        resourceVersion: object.metadata?.resourceVersion ?? '',
      }),
    finish: (error) => finish(error ?? null),
  };
}

test('a watch from a resourceVersion replays later changes, then follows; selectors see transitions', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({ namespace: NS, body: suspended('before') });
  const list = await batch.listNamespacedJob({ namespace: NS });
  const from = list.metadata?.resourceVersion ?? '';
  await batch.createNamespacedJob({ namespace: NS, body: suspended('after') });

  const all = collect();
  const watch = new Watch(cluster.kubeConfig());
  const controller = await watch.watch(JOBS, { resourceVersion: from }, all.callback, all.finish);
  t.after(() => controller.abort());
  const selected = collect();
  const selectedController = await watch.watch(
    JOBS,
    { resourceVersion: from, labelSelector: 'stage=one' },
    selected.callback,
    selected.finish,
  );
  t.after(() => selectedController.abort());

  // 'after' (and the controller's status writes) came after `from`; 'before' did not.
  await waitFor(
    'the replayed ADDED',
    () => all.events,
    (events) => events.some((e) => e.type === 'ADDED' && e.name === 'after'),
  );
  assert.ok(!all.events.some((e) => e.name === 'before' && e.type === 'ADDED'));

  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await batch.patchNamespacedJob(
    { name: 'after', namespace: NS, body: { metadata: { labels: { stage: 'one' } } } },
    merge,
  );
  await batch.patchNamespacedJob(
    { name: 'after', namespace: NS, body: { metadata: { labels: { stage: 'two' } } } },
    merge,
  );
  await batch.deleteNamespacedJob({
    name: 'after',
    namespace: NS,
    propagationPolicy: 'Background',
  });
  await waitFor(
    'the DELETED event',
    () => all.events,
    (events) => events.some((e) => e.type === 'DELETED' && e.name === 'after'),
  );
  const versions = all.events.map((e) => Number(e.resourceVersion));
  assert.deepEqual(
    versions,
    [...versions].sort((a, b) => a - b),
    'events arrive in resourceVersion order',
  );
  assert.ok(all.events.some((e) => e.type === 'MODIFIED' && e.name === 'after'));

  // For a selector, an object that starts matching is ADDED and one that stops is DELETED.
  await waitFor(
    'the selected events',
    () => selected.events,
    (events) => events.length >= 2,
  );
  assert.deepEqual(
    selected.events.map((e) => `${e.type} ${e.name}`),
    ['ADDED after', 'DELETED after'],
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('a watch without resourceVersion starts with the current objects; timeoutSeconds ends it cleanly; bookmarks', async (t) => {
  const { cluster, batch } = await harness(t, { watch: { bookmarkIntervalMs: 50 } });
  await batch.createNamespacedJob({ namespace: NS, body: suspended('present') });
  const events = collect();
  const bookmarks: string[] = [];
  const watch = new Watch(cluster.kubeConfig());
  await watch.watch(
    JOBS,
    { timeoutSeconds: 1, allowWatchBookmarks: true },
    (type, object: V1Job) => {
      if (type === 'BOOKMARK') bookmarks.push(object.metadata?.resourceVersion ?? '');
      else events.callback(type, object);
    },
    events.finish,
  );
  assert.equal(await events.done, null, 'the server ended the stream normally');
  assert.equal(events.events[0]?.type, 'ADDED');
  assert.equal(events.events[0]?.name, 'present');
  assert.ok(bookmarks.length >= 2, `bookmarks: ${bookmarks.join(',')}`);
  assert.ok(bookmarks.every((rv) => /^\d+$/.test(rv)));
  assert.deepEqual(cluster.specViolations, []);
});

test('expireWatches: a 410 Expired ERROR event, the informer re-lists and keeps following; older versions stay expired', async (t) => {
  const { cluster, batch } = await harness(t);
  await batch.createNamespacedJob({ namespace: NS, body: suspended('one') });
  const informer = makeInformer(cluster.kubeConfig(), JOBS, () =>
    batch.listNamespacedJob({ namespace: NS }),
  );
  const added: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (job) => added.push(job.metadata?.name ?? ''));
  informer.on('error', (error) => errors.push(error));
  await informer.start();
  t.after(() => informer.stop());
  await waitFor(
    'the first list',
    () => added,
    (names) => names.includes('one'),
  );
  const watchesBefore = cluster.requests.filter((r) => r.query.watch === 'true').length;
  const oldVersion = (await batch.listNamespacedJob({ namespace: NS })).metadata?.resourceVersion;

  const raw = collect();
  const watch = new Watch(cluster.kubeConfig());
  await watch.watch(
    JOBS,
    { resourceVersion: oldVersion },
    (type, object: V1Job & { code?: number; reason?: string }) => {
      raw.events.push({ type, name: `${object.reason}:${object.code}`, resourceVersion: '' });
    },
    raw.finish,
  );
  await waitFor(
    'the raw watch to be open',
    () => cluster.requests.filter((r) => r.query.watch === 'true').length,
    (n) => n >= watchesBefore + 1,
  );

  const listsBefore = cluster.requests.filter(
    (r) => r.method === 'GET' && r.path === JOBS && !r.query.watch,
  ).length;
  cluster.faults.expireWatches();
  assert.equal(await raw.done, null);
  assert.deepEqual(
    raw.events.map((e) => `${e.type} ${e.name}`),
    ['ERROR Expired:410'],
  );

  // The informer lists again (resourceVersion forgotten), then watches from the new list.
  await waitFor(
    'a re-list',
    () =>
      cluster.requests.filter((r) => r.method === 'GET' && r.path === JOBS && !r.query.watch)
        .length,
    (n) => n > listsBefore,
  );
  await batch.createNamespacedJob({ namespace: NS, body: suspended('two') });
  await waitFor(
    'the informer to see the new Job',
    () => added,
    (names) => names.includes('two'),
  );
  assert.deepEqual(errors, []);

  // A watch from before the compaction is expired for good.
  const late = collect();
  await watch.watch(
    JOBS,
    { resourceVersion: oldVersion },
    (type, object: { code?: number }) => {
      late.events.push({ type, name: String(object.code), resourceVersion: '' });
    },
    late.finish,
  );
  await late.done;
  assert.deepEqual(
    late.events.map((e) => `${e.type} ${e.name}`),
    ['ERROR 410'],
  );
  assert.deepEqual(cluster.specViolations, []);
});

test('dropWatches closes streams abruptly: the client sees an error, an informer reports it and stops', async (t) => {
  const { cluster, batch } = await harness(t);
  const informer = makeInformer(cluster.kubeConfig(), JOBS, () =>
    batch.listNamespacedJob({ namespace: NS }),
  );
  const errors: unknown[] = [];
  informer.on('error', (error) => errors.push(error));
  await informer.start();
  t.after(() => informer.stop());
  const raw = collect();
  const watch = new Watch(cluster.kubeConfig());
  await watch.watch(JOBS, {}, raw.callback, raw.finish);
  await waitFor(
    'two open watches',
    () => cluster.requests.filter((r) => r.query.watch === 'true').length,
    (n) => n >= 2,
  );

  cluster.faults.dropWatches();
  const error = await raw.done;
  assert.ok(error instanceof Error, `done with ${String(error)}`);
  await waitFor(
    'the informer error',
    () => errors,
    (list) => list.length === 1,
  );
  assert.deepEqual(cluster.specViolations, []);
});
