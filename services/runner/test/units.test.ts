/** The pure parts: timestamps, banners, output caps, autosave throttling, the file sink, OOM. */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { KernelMessage } from '@jupyterlab/services';
import {
  type CodeCell,
  type Notebook,
  parseParametersJson,
  serializeNotebook,
} from '@nes/notebook';
import { LocalStore, StoreNotebookSink } from '@nes/stores';
import { Autosaver, resolveAutosavePolicy } from '../src/autosave.ts';
import { nbclientTimestamp, snapshotNotebook } from '../src/execute.ts';
import type { RunEvent } from '../src/execution-types.ts';
import { oomKilledSince, readOomKillCount } from '../src/oom.ts';
import { OutputBudget, utf8Prefix } from '../src/output-limits.ts';
import { OutputCollector } from '../src/outputs.ts';
import {
  durationSeconds,
  papermillTimestamp,
  startNotebook,
  withErrorBanner,
} from '../src/papermill.ts';
import { prepareRun } from '../src/prepare-run.ts';
import { validateWithNbformat } from './support/nbformat-validate.ts';
import { code, MemorySink, markdown, notebook } from './support/notebooks.ts';

function iopub(msgType: string, content: object): KernelMessage.IIOPubMessage {
  return {
    channel: 'iopub',
    header: {
      msg_type: msgType,
      msg_id: 'm',
      date: '',
      session: 's',
      username: '',
      version: '5.3',
    },
    parent_header: {},
    metadata: {},
    content,
  } as unknown as KernelMessage.IIOPubMessage;
}

describe('papermill records', () => {
  test('timestamps read like Python isoformat(), durations like total_seconds()', () => {
    const micros = Date.UTC(2024, 0, 2, 3, 4, 5) * 1000 + 6007;
    assert.equal(papermillTimestamp(micros), '2024-01-02T03:04:05.006007');
    assert.equal(papermillTimestamp(Date.UTC(2024, 0, 2) * 1000), '2024-01-02T00:00:00');
    assert.equal(durationSeconds(micros, micros + 1_500_001), 1.500001);
    assert.equal(nbclientTimestamp('2024-01-02T03:04:05.123Z'), '2024-01-02T03:04:05.123000Z');
    assert.equal(
      nbclientTimestamp('2024-01-02T03:04:05.1234567+00:00'),
      '2024-01-02T03:04:05.123456Z',
    );
  });

  test('prepareRun removes old banners and hides inputs once; the engine start clears outputs; banners go top and before the failed cell', () => {
    const input = notebook([code('1'), markdown('m'), code('2')]);
    input.cells.unshift({
      cell_type: 'markdown',
      metadata: { tags: ['papermill-error-cell-tag'] },
      source: 'old',
    });
    (input.cells[1] as CodeCell).outputs = [{ output_type: 'stream', name: 'stdout', text: 'x' }];
    (input.cells[1] as CodeCell).execution_count = 9;
    const warnings: string[] = [];
    const prepared = prepareRun(
      input,
      { uri: 'in.ipynb', ref: null, commitSha: null, pinnedUri: 'in.ipynb' },
      {
        parameters: {},
        reportMode: true,
        outputPath: 'out.ipynb',
        runId: 'r1',
        warn: (message) => warnings.push(message),
      },
    );
    assert.equal(prepared.cells.length, 3, 'the old banner is gone');
    assert.deepEqual(prepared.cells[0]?.metadata.jupyter, { source_hidden: true });
    assert.equal(prepared.cells[1]?.metadata.jupyter, undefined, 'markdown keeps its source');
    assert.deepEqual(
      [prepared.metadata.papermill?.input_path, prepared.metadata.papermill?.output_path],
      ['in.ipynb', 'out.ipynb'],
    );
    assert.deepEqual(prepared.metadata.nes, {
      source: { uri: 'in.ipynb', ref: null, commitSha: null, pinnedUri: 'in.ipynb' },
      runId: 'r1',
    });
    const nb = startNotebook(prepared, 0);
    assert.deepEqual((nb.cells[0] as CodeCell).outputs, []);
    assert.equal((nb.cells[0] as CodeCell).execution_count, null);
    assert.equal(nb.metadata.papermill?.start_time, '1970-01-01T00:00:00');
    assert.equal(nb.metadata.papermill?.input_path, 'in.ipynb', 'the prepared record is kept');
    assert.equal((input.cells[1] as CodeCell).execution_count, 9, 'the input is not modified');
    const marked = withErrorBanner(nb, 2, 5);
    assert.equal(marked.cellIndex, 4);
    assert.deepEqual(
      marked.notebook.cells.map((c) => c.cell_type),
      ['markdown', 'code', 'markdown', 'markdown', 'code'],
    );
    assert.match(marked.notebook.cells[0]?.source ?? '', /In \[5\]/);
    assert.match(marked.notebook.cells[3]?.source ?? '', /id="papermill-error-cell"/);
    validateWithNbformat(JSON.stringify(marked.notebook));
  });

  test('prepareRun warns of parameters the notebook does not declare, as papermill does', () => {
    const input = notebook([code('alpha = 1')]);
    (input.cells[0] as CodeCell).metadata.tags = ['parameters'];
    const warnings: string[] = [];
    const prepared = prepareRun(
      input,
      { uri: 'in.ipynb', ref: null, commitSha: null, pinnedUri: null },
      {
        parameters: { alpha: 2, beta: 'x' },
        kernelName: 'python3',
        outputPath: 'out.ipynb',
        warn: (message) => warnings.push(message),
      },
    );
    assert.deepEqual(warnings, ['Passed unknown parameter: beta']);
    // Values that write themselves exactly stay so once the engine starts the notebook.
    const exact = prepareRun(
      input,
      { uri: 'in.ipynb', ref: null, commitSha: null, pinnedUri: null },
      {
        parameters: parseParametersJson('{"alpha": 1.0, "big": 12345678901234567890}') as Record<
          string,
          unknown
        >,
        kernelName: 'python3',
        outputPath: 'out.ipynb',
        warn: () => {},
      },
    );
    assert.match(
      serializeNotebook(startNotebook(exact, 0)),
      /"alpha": 1\.0,\n\s+"big": 12345678901234567890\n/,
    );
    assert.deepEqual(prepared.metadata.papermill?.parameters, { alpha: 2, beta: 'x' });
    assert.equal(prepared.cells.length, 2, 'the injected cell after the parameters cell');
  });

  test('snapshots do not change when the run goes on', () => {
    const nb = notebook([code('1')]);
    const cell = nb.cells[0] as CodeCell;
    cell.outputs.push({ output_type: 'stream', name: 'stdout', text: 'a' });
    const snap = snapshotNotebook(nb);
    const out = cell.outputs[0];
    if (out?.output_type === 'stream') out.text += 'b';
    cell.outputs.push({ output_type: 'stream', name: 'stderr', text: 'c' });
    cell.execution_count = 3;
    assert.deepEqual((snap.cells[0] as CodeCell).outputs, [
      { output_type: 'stream', name: 'stdout', text: 'a' },
    ]);
    assert.equal((snap.cells[0] as CodeCell).execution_count, null);
  });
});

describe('output collection and caps', () => {
  test('display updates reach every output with the id; clear(wait) waits', () => {
    const collector = new OutputCollector(
      new OutputBudget({ perOutputBytes: 1000, perNotebookBytes: 10_000 }),
    );
    const a = code('a');
    const b = code('b');
    collector.beginCell(a);
    collector.handle(
      iopub('display_data', {
        data: { 'text/plain': 'v1' },
        metadata: {},
        transient: { display_id: 'd' },
      }),
    );
    collector.beginCell(b);
    collector.handle(iopub('stream', { name: 'stdout', text: 'x' }));
    collector.handle(iopub('clear_output', { wait: true }));
    assert.equal(b.outputs.length, 1);
    collector.handleDisplayUpdate(
      iopub('update_display_data', {
        data: { 'text/plain': 'v2' },
        metadata: {},
        transient: { display_id: 'd' },
      }),
    );
    assert.deepEqual(a.outputs[0], {
      output_type: 'display_data',
      data: { 'text/plain': 'v2' },
      metadata: {},
    });
    collector.handle(iopub('stream', { name: 'stdout', text: 'y' }));
    assert.deepEqual(b.outputs, [{ output_type: 'stream', name: 'stdout', text: 'y' }]);
  });

  test('a huge stream keeps only the cap and a running count of what was dropped', () => {
    const collector = new OutputCollector(
      new OutputBudget({ perOutputBytes: 10, perNotebookBytes: 100 }),
    );
    const cell = code('c');
    collector.beginCell(cell);
    // One output per stream message (nbclient's way): the notebook cap bounds them all.
    for (let i = 0; i < 1000; i += 1)
      collector.handle(iopub('stream', { name: 'stdout', text: 'abcdefg' }));
    const kept = cell.outputs.slice(0, -1) as Array<{ name: string; text: string }>;
    assert.ok(kept.length > 1);
    for (const output of kept.slice(0, -1)) assert.equal(output.text, 'abcdefg');
    // The message that reached the cap is cut there, with the note.
    assert.match(
      kept.at(-1)?.text ?? '',
      /^a?b?c?d?e?f?\n\[NES: output truncated: \d+ bytes dropped \(notebook output limit reached\)\]\n$/,
    );
    const keptBytes = kept.reduce((sum, o) => sum + (o.text.split('\n')[0] ?? '').length, 0);
    assert.ok(keptBytes <= 100, String(keptBytes));
    const last = cell.outputs.at(-1) as { name: string; text: string };
    assert.equal(last.name, 'stderr');
    assert.match(
      last.text,
      /^\[NES: output truncated: \d+ bytes dropped \(notebook output limit reached\)\]\n$/,
    );
  });

  test('one long stream message is cut at the per-output cap with a note', () => {
    const collector = new OutputCollector(
      new OutputBudget({ perOutputBytes: 10, perNotebookBytes: 100 }),
    );
    const cell = code('c');
    collector.beginCell(cell);
    collector.handle(iopub('stream', { name: 'stdout', text: 'abcdefg'.repeat(1000) }));
    assert.deepEqual(cell.outputs, [
      {
        output_type: 'stream',
        name: 'stdout',
        text: 'abcdefgabc\n[NES: output truncated: 6990 bytes dropped (per-output limit reached)]\n',
      },
    ]);
  });

  test('UTF-8 prefixes never split a character', () => {
    assert.equal(utf8Prefix('héllo', 2), 'h');
    assert.equal(utf8Prefix('héllo', 3), 'hé');
    assert.equal(utf8Prefix('abc', 10), 'abc');
  });
});

describe('autosave', () => {
  const events: RunEvent[] = [];
  const nb: Notebook = notebook([code('1')]);

  test('many cell completions in a burst give one save, then one trailing save', async () => {
    const sink = new MemorySink();
    const saver = new Autosaver({
      sink,
      policy: resolveAutosavePolicy({ minIntervalMs: 1000 }),
      snapshot: () => nb,
      emit: (event) => events.push(event),
    });
    saver.touch();
    saver.saveStart();
    for (let i = 0; i < 500; i += 1) {
      saver.touch();
      saver.cellCompleted();
    }
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(sink.count('autosave'), 2);
    saver.cellCompleted(); // nothing changed since: no save
    assert.equal(await saver.saveFinal(nb), null);
    assert.equal(sink.writes.length, 3);
    assert.equal(saver.saves, 3);
  });

  test('the interval never goes below 1 s', () => {
    assert.equal(resolveAutosavePolicy({ minIntervalMs: 10 }).minIntervalMs, 1000);
  });

  test('a failing autosave is reported and never fails; the final save is retried', async () => {
    const seen: RunEvent[] = [];
    let calls = 0;
    const sink = {
      uri: 'flaky://nb',
      async write(_: Notebook, reason: 'autosave' | 'final') {
        calls += 1;
        if (reason === 'autosave' || calls < 4) throw new Error(`boom ${calls}`);
      },
    };
    const saver = new Autosaver({
      sink,
      policy: resolveAutosavePolicy({}),
      snapshot: () => nb,
      emit: (event) => seen.push(event),
      sleep: async () => undefined,
    });
    saver.touch();
    saver.saveStart();
    assert.equal(await saver.saveFinal(nb), null);
    assert.deepEqual(
      seen.map((e) => `${e.type}:${'reason' in e ? e.reason : ''}`),
      ['save_failed:autosave', 'save_failed:final', 'save_failed:final', 'saved:final'],
    );
  });
});

describe('local file sink (nes-run OUTPUT)', () => {
  test('writes atomically and leaves no temporary or sidecar file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nes-sink-'));
    const path = join(dir, 'sub', 'out.ipynb');
    const store = new LocalStore(join(dir, 'sub'), { sidecars: false });
    const sink = new StoreNotebookSink(store, 'out.ipynb', { minIntervalMs: 0 });
    await sink.write(notebook([code('1')]), 'autosave');
    await sink.write(notebook([code('2')]), 'final');
    const text = await readFile(path, 'utf8');
    assert.match(text, /"source": \[\n\s+"2"\n\s+\]/);
    validateWithNbformat(text);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['out.ipynb']);
  });
});

describe('oom detection', () => {
  test('reads cgroup v1 and v2 counters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nes-oom-'));
    const v2 = join(dir, 'memory.events');
    await writeFile(v2, 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    assert.equal(readOomKillCount([v2]), 1);
    assert.equal(oomKilledSince(0, [v2]), true);
    assert.equal(oomKilledSince(1, [v2]), false);
    assert.equal(oomKilledSince(null, [v2]), false);
    assert.equal(readOomKillCount([join(dir, 'missing')]), null);
  });
});
