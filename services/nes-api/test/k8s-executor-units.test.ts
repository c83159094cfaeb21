/**
 * The Kubernetes executor's pure parts: the log cursor that makes resumed log streams repeat
 * nothing and lose nothing, and the reading of the runner's log lines into updates.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LogCursor,
  parseLogLine,
  ReplayBoundary,
  timeKey,
} from '../src/executors/kubernetes/pod-logs.ts';
import { ReconcileQueue } from '../src/executors/kubernetes/reconcile-queue.ts';
import { RunnerLogReader } from '../src/executors/kubernetes/runner-log.ts';

describe('log lines and the resume cursor', () => {
  test('timestamps compare at nanosecond precision whatever their digits', () => {
    assert.ok(timeKey('2026-11-01T10:00:00Z') < timeKey('2026-11-01T10:00:00.000000001Z'));
    assert.ok(timeKey('2026-11-01T10:00:00.5Z') > timeKey('2026-11-01T10:00:00.123456789Z'));
    assert.equal(timeKey('2026-11-01T10:00:00.5Z'), timeKey('2026-11-01T10:00:00.500000000Z'));
    assert.ok(timeKey('2026-11-01T09:59:59.999999999Z') < timeKey('2026-11-01T10:00:00Z'));
  });

  test('parseLogLine splits the kubelet timestamp from the text (spaces kept)', () => {
    assert.deepEqual(parseLogLine('2026-11-01T10:00:00.1Z  two spaces'), {
      time: '2026-11-01T10:00:00.1Z',
      text: ' two spaces',
    });
    assert.equal(parseLogLine('no timestamp here'), null);
  });

  test('a resumed stream from a second-precision sinceTime repeats nothing and loses nothing', () => {
    const cursor = new LogCursor();
    const seen: string[] = [];
    const feed = (lines: Array<[string, string]>) => {
      for (const [time, text] of lines) if (cursor.accept({ time, text })) seen.push(text);
    };
    feed([
      ['2026-11-01T10:00:00.100Z', 'a'],
      ['2026-11-01T10:00:00.200Z', 'b'],
      ['2026-11-01T10:00:00.200Z', 'c'],
    ]);
    assert.equal(cursor.sinceTime, '2026-11-01T10:00:00.200Z');
    // The server answers from the start of that second: a, b, c again, then a new line at the
    // same timestamp as b and c, then later lines.
    cursor.resume();
    feed([
      ['2026-11-01T10:00:00.100Z', 'a'],
      ['2026-11-01T10:00:00.200Z', 'b'],
      ['2026-11-01T10:00:00.200Z', 'c'],
      ['2026-11-01T10:00:00.200Z', 'd'],
      ['2026-11-01T10:00:01Z', 'e'],
    ]);
    // A second resume exactly at e.
    cursor.resume();
    feed([
      ['2026-11-01T10:00:01Z', 'e'],
      ['2026-11-01T10:00:01Z', 'e'],
      ['2026-11-01T10:00:02Z', 'f'],
    ]);
    assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e', 'e', 'f']);
  });
});

describe('replay after a takeover', () => {
  test('lines up to the newest stored one are old; everything after is new', () => {
    const boundary = new ReplayBoundary('2026-11-01T10:00:01.5Z', ['b', 'b2']);
    const lines: Array<[string, string]> = [
      ['2026-11-01T10:00:00Z', 'a'],
      ['2026-11-01T10:00:01.500000000Z', 'b'],
      ['2026-11-01T10:00:01.5Z', 'b2'],
      ['2026-11-01T10:00:01.5Z', 'b3'],
      ['2026-11-01T10:00:00Z', 'late but after the boundary passed'],
    ];
    assert.deepEqual(
      lines.map(([time, text]) => boundary.isOld({ time, text })),
      [true, true, true, false, false],
    );
    assert.equal(boundary.passed, true);
  });
});

describe('runner log reader', () => {
  test('events become running, progress and saved; human lines become log updates', () => {
    const reader = new RunnerLogReader('r1');
    const t = '2026-11-01T10:00:00Z';
    const updates = [
      ...reader.read(t, 'Input Notebook:  github://acme/nb/x.ipynb?ref=abc'),
      ...reader.read(
        t,
        '{"type":"saved","time":"t0","reason":"autosave","uri":"gs://b/runs/r1/output.ipynb","durationMs":3}',
      ),
      ...reader.read(t, '{"type":"started","time":"t1","kernel":"python3","cellsTotal":2}'),
      ...reader.read(t, '{"type":"cell_started","time":"t2","cellIndex":1,"codeCellNumber":1}'),
      ...reader.read(
        t,
        '{"type":"cell_finished","time":"t3","cellIndex":1,"status":"completed","durationMs":5}',
      ),
      ...reader.read(
        t,
        '{"type":"saved","time":"t4","reason":"autosave","uri":"gs://b/runs/r1/output.ipynb","durationMs":3}',
      ),
      ...reader.read(t, '{"type":"log","time":"t5","level":"info","message":"repeated on stderr"}'),
      ...reader.read(t, '{"type":"finished","time":"t6","summary":{}}'),
      ...reader.read(t, '   '),
    ];
    assert.deepEqual(updates, [
      {
        type: 'log',
        runId: 'r1',
        time: t,
        stream: 'runner',
        text: 'Input Notebook:  github://acme/nb/x.ipynb?ref=abc',
      },
      { type: 'saved', runId: 'r1', outputUri: 'gs://b/runs/r1/output.ipynb' },
      { type: 'running', runId: 'r1', time: 't1' },
      {
        type: 'progress',
        runId: 'r1',
        progress: { cellsDone: 0, cellsTotal: 2, currentCell: null },
      },
      { type: 'progress', runId: 'r1', progress: { cellsDone: 0, cellsTotal: 2, currentCell: 1 } },
      { type: 'progress', runId: 'r1', progress: { cellsDone: 1, cellsTotal: 2, currentCell: 1 } },
    ]);
  });

  test('output events become stdout/stderr log updates with the text as printed', () => {
    const reader = new RunnerLogReader('r1');
    const t = '2026-11-01T10:00:00Z';
    const line = (stream: string, text: unknown) =>
      JSON.stringify({ type: 'output', time: 't9', stream, text });
    const updates = [
      ...reader.read(t, line('stdout', 'one\ntwo\n')),
      ...reader.read(t, line('stderr', 'warned\n')),
      ...reader.read(t, line('stdout', 'partial')),
      ...reader.read(t, line('stdin', 'not a stream')),
      ...reader.read(t, line('stdout', 42)),
      ...reader.read(t, line('stdout', '')),
    ];
    assert.deepEqual(updates, [
      { type: 'log', runId: 'r1', time: t, stream: 'stdout', text: 'one\ntwo\n' },
      { type: 'log', runId: 'r1', time: t, stream: 'stderr', text: 'warned\n' },
      { type: 'log', runId: 'r1', time: t, stream: 'stdout', text: 'partial' },
    ]);
  });

  test('cell output past the cap: one notice, then nothing, as the local executor', () => {
    const reader = new RunnerLogReader('r1');
    const chunk = 'x'.repeat(400 * 1024);
    const texts = Array.from({ length: 5 }, () =>
      reader
        .read('t', JSON.stringify({ type: 'output', time: 't', stream: 'stdout', text: chunk }))
        .map((u) => (u.type === 'log' ? u.text : '')),
    );
    assert.deepEqual(
      texts.map((t) => t.length),
      [1, 1, 1, 0, 0],
    );
    assert.equal(texts[0]?.[0], chunk);
    assert.match(texts[2]?.[0] ?? '', /\[output past 1048576 bytes not logged\]\n$/);
    // Human lines still count after the cap.
    assert.equal(reader.read('t', 'nes-run: succeeded')[0]?.type, 'log');
  });

  test('a line that only looks like JSON is a log line', () => {
    const reader = new RunnerLogReader('r1');
    assert.equal(reader.read('t', '{"type": broken')[0]?.type, 'log');
    assert.equal(reader.read('t', '{"type":"unknown","time":"x"}')[0]?.type, 'log');
  });
});

describe('the reconcile queue', () => {
  const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test('a failing reconcile is tried again with doubling back-off, then forgotten on success', async () => {
    const calls: number[] = [];
    const warnings: string[] = [];
    const queue = new ReconcileQueue<string>({
      reconcile: async () => {
        calls.push(performance.now());
        if (calls.length <= 3) throw new Error(`API server said 500 (${calls.length})`);
      },
      minBackoffMs: 40,
      log: (_level, message) => warnings.push(message),
      describe: (key) => `run ${key}`,
    });
    queue.add('a');
    for (let waited = 0; calls.length < 4 && waited < 5000; waited += 10) await settle(10);
    assert.equal(calls.length, 4, 'three failures, then the success');
    assert.equal(queue.requeues, 3);
    const gaps = calls.slice(1).map((time, i) => time - (calls[i] as number));
    // A timer never fires early: each wait is at least its back-off, 40, 80, 160 ms.
    for (const [i, gap] of gaps.entries()) assert.ok(gap >= 40 * 2 ** i - 2, `gap ${i}: ${gap} ms`);
    assert.match(warnings[0] ?? '', /^run a: API server said 500 \(1\); trying again in 40 ms$/);
    assert.match(warnings[2] ?? '', /trying again in 160 ms$/);
    assert.equal(queue.backingOff('a'), false);
    // Succeeded: the next failure starts from the shortest wait again.
    await queue.stop();
  });

  test('changes during back-off wait for the retry; changes during a reconcile ask for one more', async () => {
    let failing = true;
    let running = 0;
    let most = 0;
    const calls: string[] = [];
    const queue = new ReconcileQueue<string>({
      reconcile: async (key) => {
        running += 1;
        most = Math.max(most, running);
        calls.push(key);
        await settle(20);
        running -= 1;
        if (failing) throw new Error('store unavailable');
      },
      // Long enough that no wall-clock delay of a busy machine reaches it before `failing` flips.
      minBackoffMs: 1500,
    });
    queue.add('a');
    await settle(5);
    queue.add('a'); // during the reconcile: one more after it
    queue.add('a');
    await settle(60);
    assert.deepEqual(calls, ['a'], 'the second reconcile waits for the back-off');
    assert.equal(queue.backingOff('a'), true);
    for (let i = 0; i < 10; i += 1) {
      queue.add('a'); // events (and periodic passes) while backing off
      await new Promise(setImmediate);
    }
    assert.deepEqual(calls, ['a']);
    failing = false;
    for (let waited = 0; calls.length < 2 && waited < 5000; waited += 10) await settle(10);
    await settle(50);
    assert.deepEqual(calls, ['a', 'a'], 'one retry, with every change since');
    assert.equal(most, 1, 'never two reconciles of one key at once');
    assert.equal(queue.backingOff('a'), false);
    await queue.stop();
  });

  test('the back-off stops growing at its cap; stop() cancels pending retries', async () => {
    const calls: number[] = [];
    const waits: number[] = [];
    const queue = new ReconcileQueue<string>({
      reconcile: async () => {
        calls.push(performance.now());
        throw new Error('no');
      },
      minBackoffMs: 10,
      maxBackoffMs: 40,
      log: (_level, message) => waits.push(Number(/in (\d+) ms$/.exec(message)?.[1])),
    });
    queue.add('a');
    for (let waited = 0; calls.length < 7 && waited < 5000; waited += 10) await settle(10);
    await queue.stop();
    const count = calls.length;
    await settle(100);
    assert.equal(calls.length, count, 'nothing runs after stop()');
    const gaps = calls.slice(1).map((time, i) => time - (calls[i] as number));
    assert.deepEqual(waits.slice(0, 6), [10, 20, 40, 40, 40, 40]);
    assert.ok(
      gaps.slice(3).every((gap) => gap >= 38),
      JSON.stringify(gaps),
    );
  });
});
