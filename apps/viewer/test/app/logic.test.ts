/** The viewer's pure logic: formatting, list merging, timelines, cell states, forms, links. */
import { describe, expect, it } from 'vitest';
import { subscribe } from '../../src/app/lib/event-stream.ts';
import { failureSummary } from '../../src/app/lib/failure.ts';
import {
  compactParameters,
  elapsedMs,
  formatBytes,
  formatDuration,
  formatRelative,
  humanizeSeconds,
  notebookName,
  shortRunId,
} from '../../src/app/lib/format.ts';
import { breadcrumbs, browseHref, githubLink } from '../../src/app/lib/links.ts';
import {
  alignCells,
  cellDurationChanges,
  cellDurations,
  cellStates,
} from '../../src/app/lib/notebook-cells.ts';
import { diffParameters } from '../../src/app/lib/parameter-diff.ts';
import {
  buildFields,
  collectParameters,
  fieldKind,
  fieldProblems,
  ParameterError,
  serverFieldErrors,
} from '../../src/app/lib/parameter-form.ts';
import {
  EMPTY_FILTER,
  groupSweeps,
  matchesFilter,
  mergeRuns,
  newerRun,
  parseLabelFilter,
} from '../../src/app/lib/run-list.ts';
import { daysBetween, planSweep } from '../../src/app/lib/sweep-form.ts';
import { buildTimeline } from '../../src/app/lib/timeline.ts';
import { triggerOf, triggerText } from '../../src/app/lib/trigger.ts';
import { githubUri, missingForSubmit } from '../../src/app/NewRunForm.tsx';
import { authorCellNumbers } from '../../src/notebook/papermill.ts';
import { codeCell, FakeEventSource, makeRun, mdCell, notebookOf } from './fixtures.ts';

describe('formatting', () => {
  it('formats durations from milliseconds to days', () => {
    expect(formatDuration(null)).toBe('-');
    expect(formatDuration(-5)).toBe('-');
    expect(formatDuration(950)).toBe('950 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(2 * 3600_000 + 4 * 60_000)).toBe('2h 04m');
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe('3d 4h');
  });

  it('measures elapsed time, ticking against now while there is no end', () => {
    const now = Date.parse('2026-11-22T10:01:00Z');
    expect(elapsedMs('2026-11-22T10:00:00Z', null, now)).toBe(60_000);
    expect(elapsedMs('2026-11-22T10:00:00Z', '2026-11-22T10:00:02.5Z', now)).toBe(2500);
    expect(elapsedMs(null, null, now)).toBeNull();
    expect(elapsedMs('garbage', null, now)).toBeNull();
  });

  it('writes relative times, sizes, names and compact parameters', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(formatRelative('2026-11-22T09:59:58Z', now)).toBe('just now');
    expect(formatRelative('2026-11-22T09:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2026-11-22T07:00:00Z', now)).toBe('3 h ago');
    expect(formatRelative(null, now)).toBe('-');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20 MB');
    expect(notebookName('github://acme/analytics/reports/daily.ipynb')).toBe('daily.ipynb');
    expect(compactParameters({ name: 'NES', count: 3, on: true, x: null })).toBe(
      'name="NES" count=3 on=True x=None',
    );
    expect(compactParameters({ long: 'x'.repeat(200) }, 20)).toHaveLength(20);
  });
});

describe('run ids', () => {
  it('shortens a ULID to its random tail, which differs between runs started together', () => {
    const a = '01JDX7Q3ZK8M2V4N6P8R0T2W4Y';
    const b = '01JDX7Q3ZKQ9B3C5D7F9H1K3M5';
    expect(a.slice(0, 8)).toBe(b.slice(0, 8));
    expect(shortRunId(a)).toBe('8R0T2W4Y');
    expect(shortRunId(b)).toBe('F9H1K3M5');
    expect(shortRunId('short')).toBe('short');
  });
});

describe('runs list', () => {
  it('merges events without moving a run backwards', () => {
    const running = makeRun({
      id: 'a',
      status: 'running',
      progress: { cellsDone: 2, cellsTotal: 5, currentCell: 3 },
    });
    const stale = { ...running, progress: { cellsDone: 1, cellsTotal: 5, currentCell: 2 } };
    expect(newerRun(running, stale).progress.cellsDone).toBe(2);
    const queued = { ...running, status: 'queued' as const };
    expect(newerRun(running, queued)).toBe(running);
    const done = { ...running, status: 'succeeded' as const };
    expect(newerRun(running, done).status).toBe('succeeded');
    const failed = { ...running, status: 'failed' as const };
    expect(newerRun(done, failed).status).toBe('succeeded'); // terminal never changes
  });

  it('adds new runs from events in order and only when they match the filter', () => {
    const older = makeRun({ id: 'old', createdAt: '2026-11-22T09:00:00Z' });
    const newer = makeRun({ id: 'new', createdAt: '2026-11-22T11:00:00Z', status: 'queued' });
    const list = mergeRuns([older], [newer], EMPTY_FILTER);
    expect(list.map((r) => r.id)).toEqual(['new', 'old']);
    const failedOnly = { ...EMPTY_FILTER, statuses: ['failed' as const] };
    expect(mergeRuns([older], [newer], failedOnly).map((r) => r.id)).toEqual(['old']);
    // an update to a listed run applies whatever the filter
    const updated = { ...older, status: 'failed' as const };
    expect(
      mergeRuns([older], [updated], { ...EMPTY_FILTER, labels: { team: 'other' } })[0]?.status,
    ).toBe('succeeded');
    const same = [older];
    expect(mergeRuns(same, [older], EMPTY_FILTER)).toBe(same);
    // bad data from the wire is dropped
    expect(mergeRuns([older], [{ id: 3 } as never, null as never], EMPTY_FILTER)).toEqual([older]);
  });

  it('filters by status, labels, notebook and free text', () => {
    const run = makeRun({
      id: 'abc123',
      labels: { team: 'data', env: 'prod' },
      parameters: { region: 'eu' },
    });
    expect(matchesFilter(run, { ...EMPTY_FILTER, labels: { team: 'data' } })).toBe(true);
    expect(matchesFilter(run, { ...EMPTY_FILTER, labels: { team: 'ml' } })).toBe(false);
    expect(matchesFilter(run, { ...EMPTY_FILTER, statuses: ['running'] })).toBe(false);
    expect(matchesFilter(run, { ...EMPTY_FILTER, notebook: 'reports/daily' })).toBe(true);
    expect(matchesFilter(run, { ...EMPTY_FILTER, search: 'EU daily' })).toBe(true);
    expect(matchesFilter(run, { ...EMPTY_FILTER, search: 'weekly' })).toBe(false);
    expect(parseLabelFilter('team=data env=prod')).toEqual({
      labels: { team: 'data', env: 'prod' },
    });
    expect(parseLabelFilter('team').error).toMatch(/key=value/);
  });

  it('groups a sweep into one row with counts per status, where its newest run is', () => {
    const runs = [
      makeRun({ id: 'r1', sweepId: 's1', status: 'running' }),
      makeRun({ id: 'solo' }),
      makeRun({ id: 'r2', sweepId: 's1', status: 'succeeded' }),
      makeRun({ id: 'r3', sweepId: 's1', status: 'succeeded' }),
    ];
    const rows = groupSweeps(runs);
    expect(rows.map((r) => (r.kind === 'run' ? r.run.id : r.sweepId))).toEqual(['s1', 'solo']);
    const sweep = rows[0];
    if (sweep?.kind !== 'sweep') throw new Error('expected a sweep row');
    expect(sweep.runs.map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
    expect(sweep.counts).toEqual({ running: 1, succeeded: 2 });
  });
});

describe('timeline', () => {
  const now = Date.parse('2026-11-22T10:10:00Z');

  it('shows every step with its time for a finished run', () => {
    const run = makeRun({
      status: 'failed',
      createdAt: '2026-11-22T10:00:00.000Z',
      startedAt: '2026-11-22T10:00:02.000Z',
      finishedAt: '2026-11-22T10:00:12.000Z',
    });
    const steps = buildTimeline(
      run,
      [{ status: 'starting', time: '2026-11-22T10:00:01.000Z' }],
      now,
    );
    expect(steps.map((s) => [s.status, s.state, s.durationMs])).toEqual([
      ['queued', 'done', 1000],
      ['starting', 'done', 1000],
      ['running', 'done', 10_000],
      ['failed', 'done', null],
    ]);
    expect(steps[3]?.time).toBe('2026-11-22T10:00:12.000Z');
  });

  it('marks the current step of an active run and ticks its duration', () => {
    const run = makeRun({
      status: 'running',
      createdAt: '2026-11-22T10:00:00Z',
      startedAt: '2026-11-22T10:09:00Z',
      finishedAt: null,
    });
    const steps = buildTimeline(run, [], now);
    expect(steps.map((s) => s.state)).toEqual(['done', 'done', 'current', 'pending']);
    expect(steps[2]?.durationMs).toBe(60_000);
    expect(steps[3]?.status).toBe('finished');
  });

  it('says a run cancelled while queued skipped starting and running', () => {
    const run = makeRun({
      status: 'cancelled',
      startedAt: null,
      finishedAt: '2026-11-22T10:00:03Z',
    });
    const steps = buildTimeline(run, [], now);
    expect(steps.map((s) => s.state)).toEqual(['done', 'skipped', 'skipped', 'done']);
    expect(steps[3]?.status).toBe('cancelled');
  });
});

describe('cell states and durations', () => {
  const nb = notebookOf([
    mdCell('m1', '# Title'),
    codeCell('c1', 'a = 1', {
      metadata: { papermill: { status: 'completed', duration: 0.25 } },
      execution_count: 1,
    }),
    codeCell('c2', 'b = 2', {
      metadata: { papermill: { status: 'completed', duration: 1.5 } },
      execution_count: 2,
    }),
    codeCell('c3', 'raise ValueError()', {
      metadata: {
        papermill: {
          status: 'failed',
          start_time: '2026-11-22T10:00:00.000Z',
          end_time: '2026-11-22T10:00:00.300Z',
        },
      },
    }),
    codeCell('c4', 'c = 3', { metadata: { papermill: { status: 'pending' } } }),
  ]);

  it('derives live states from progress: done before the current cell, pending after', () => {
    const running = makeRun({
      status: 'running',
      error: null,
      progress: { cellsDone: 1, cellsTotal: 4, currentCell: 2 },
    });
    expect(cellStates(nb, running)).toEqual([undefined, 'done', 'running', 'pending', 'pending']);
    // the current cell stays current after it finishes, until the next starts
    const between = { ...running, progress: { cellsDone: 2, cellsTotal: 4, currentCell: 2 } };
    expect(cellStates(nb, between)).toEqual([undefined, 'done', 'done', 'pending', 'pending']);
    const starting = { ...running, progress: { cellsDone: 0, cellsTotal: 4, currentCell: null } };
    expect(cellStates(nb, starting)).toEqual([
      undefined,
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
  });

  it('marks the failing cell of a finished run from error.cellIndex and papermill metadata', () => {
    const failed = makeRun({
      status: 'failed',
      error: { class: 'cell_error', ename: 'ValueError', evalue: '', cellIndex: 3 },
    });
    // a finished run will never run the cells after its failure: "not run", not "pending"
    expect(cellStates(nb, failed)).toEqual([undefined, 'done', 'done', 'failed', 'not_run']);
    expect(cellStates(nb, makeRun({ status: 'succeeded' }))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(cellStates({ cells: null } as never, failed)).toEqual([]);
  });

  it('marks the cell a cancelled or timed-out run stopped in as stopped, not failed', () => {
    const stoppedNb = notebookOf([
      codeCell('c1', 'a = 1', { metadata: { papermill: { status: 'completed' } } }),
      codeCell('c2', 'sleep(60)', { metadata: { papermill: { status: 'running' } } }),
      codeCell('c3', 'b = 2', { metadata: { papermill: { status: 'pending' } } }),
    ]);
    for (const status of ['cancelled', 'timed_out'] as const) {
      const run = makeRun({
        status,
        error: {
          class: status === 'cancelled' ? 'cancelled' : 'timeout',
          ename: 'Stopped',
          evalue: '',
          cellIndex: null,
        },
      });
      expect(cellStates(stoppedNb, run)).toEqual(['done', 'stopped', 'not_run']);
    }
  });

  it('reads per-cell durations from papermill metadata', () => {
    // slowest first, each cell named by the author's numbering
    expect(cellDurations(nb).map((d) => [d.index, d.label, d.ms, d.status])).toEqual([
      [2, 'Cell 2', 1500, 'completed'],
      [3, 'Cell 3', 300, 'failed'],
      [1, 'Cell 1', 250, 'completed'],
    ]);
  });

  it("lines up two runs' cell durations, the biggest slowdowns first", () => {
    const timed = (id: string, source: string, duration: number) =>
      codeCell(id, source, { metadata: { papermill: { duration, status: 'completed' } } });
    const before = notebookOf([
      mdCell('m', '# Daily'),
      timed('load', 'df = load()', 2),
      timed('clean', 'df = clean(df)', 1),
      timed('plot', 'plot(df)', 0.5),
      timed('old', 'legacy()', 0.2),
    ]);
    const after = notebookOf([
      mdCell('m', '# Daily'),
      timed('load', 'df = load()', 2.05), // 2.5% slower: noise, not "slower"
      timed('clean', 'df = clean(df)', 4), // 4x
      timed('plot', 'plot(df)', 0.3), // faster
      timed('new', 'report(df)', 0.7), // only in the later run
    ]);
    const changes = cellDurationChanges(before, after);
    expect(
      changes.map((c) => [c.label, c.summary, c.beforeMs, c.afterMs, c.deltaMs, c.slower]),
    ).toEqual([
      ['Cell 2', 'df = clean(df)', 1000, 4000, 3000, true],
      ['Cell 1', 'df = load()', 2000, 2050, 50, false],
      ['Cell 3', 'plot(df)', 500, 300, -200, false],
      ['Cell 4', 'legacy()', 200, null, null, false],
      ['Cell 4', 'report(df)', null, 700, null, false],
    ]);
    // A cell 100 ms slower but under 10% is not counted; 10% and 100 ms is.
    const big = cellDurationChanges(
      notebookOf([timed('a', 'a()', 10)]),
      notebookOf([timed('a', 'a()', 10.5)]),
    );
    expect(big[0]?.slower).toBe(false);
    const both = cellDurationChanges(
      notebookOf([timed('a', 'a()', 1)]),
      notebookOf([timed('a', 'a()', 1.1)]),
    );
    expect(both[0]?.slower).toBe(true);
  });

  it("numbers cells as their author does, without papermill's injected cell", () => {
    const cells = [
      mdCell('m', '# T'),
      codeCell('p', 'x = 1', { metadata: { tags: ['parameters'] } }),
      codeCell('i', 'x = 2', { metadata: { tags: ['injected-parameters'] } }),
      codeCell('a', 'y'),
      codeCell('b', 'z'),
    ];
    expect(authorCellNumbers(cells)).toEqual([null, 1, null, 2, 3]);
  });
});

describe('compare', () => {
  it('aligns cells by id, marking inserted cells and unchanged pairs', () => {
    const a = notebookOf([
      codeCell('p', 'x = 1'),
      codeCell('c1', 'print(x)', {
        outputs: [{ output_type: 'stream', name: 'stdout', text: '1\n' }],
      }),
      codeCell('c2', 'y'),
    ]);
    const b = notebookOf([
      codeCell('p', 'x = 1'),
      codeCell('inj', 'x = 2'),
      codeCell('c1', 'print(x)', {
        outputs: [{ output_type: 'stream', name: 'stdout', text: '2\n' }],
      }),
      codeCell('c2', 'y'),
    ]);
    expect(alignCells(a, b)).toEqual([
      { a: 0, b: 0, same: true },
      { a: null, b: 1, same: false },
      { a: 1, b: 2, same: false },
      { a: 2, b: 3, same: true },
    ]);
  });

  it("pairs each run's own injected-parameters cell, whose ids differ", () => {
    const a = notebookOf([
      codeCell('p', 'x = 1'),
      codeCell('inj-a', 'x = 2'),
      codeCell('c1', 'print(x)'),
    ]);
    const b = notebookOf([
      codeCell('p', 'x = 1'),
      codeCell('inj-b', 'x = 3'),
      codeCell('extra', 'y = 1'),
      codeCell('c1', 'print(x)'),
    ]);
    expect(alignCells(a, b)).toEqual([
      { a: 0, b: 0, same: true },
      { a: 1, b: 1, same: false },
      { a: null, b: 2, same: false },
      { a: 2, b: 3, same: true },
    ]);
  });

  it('aligns by index when cells have no ids, ignoring execution counts', () => {
    const strip = (nb: ReturnType<typeof notebookOf>) => ({
      cells: nb.cells.map(({ id: _id, ...c }) => c),
    });
    const a = strip(
      notebookOf([
        codeCell('1', 'a', {
          execution_count: 1,
          outputs: [
            {
              output_type: 'execute_result',
              execution_count: 1,
              data: { 'text/plain': '1' },
              metadata: {},
            },
          ],
        }),
      ]),
    );
    const b = strip(
      notebookOf([
        codeCell('1', 'a', {
          execution_count: 7,
          outputs: [
            {
              output_type: 'execute_result',
              execution_count: 7,
              data: { 'text/plain': '1' },
              metadata: {},
            },
          ],
        }),
        mdCell('2', 'end'),
      ]),
    );
    expect(alignCells(a, b)).toEqual([
      { a: 0, b: 0, same: true },
      { a: null, b: 1, same: false },
    ]);
  });

  it('diffs parameters, including ones only one run has', () => {
    expect(
      diffParameters(
        { n: 1, tags: ['a'], same: { x: 1, y: 2 } },
        { n: 2, tags: ['a'], same: { y: 2, x: 1 }, extra: true },
      ),
    ).toEqual([
      { name: 'extra', a: undefined, b: true, inA: false, inB: true, changed: true },
      { name: 'n', a: 1, b: 2, inA: true, inB: true, changed: true },
      { name: 'same', a: { x: 1, y: 2 }, b: { y: 2, x: 1 }, inA: true, inB: true, changed: false },
      { name: 'tags', a: ['a'], b: ['a'], inA: true, inB: true, changed: false },
    ]);
  });
});

describe('parameter form', () => {
  const inspect = {
    parameters: [
      { name: 'name', type: 'str', default: '"world"', help: 'Who to greet' },
      { name: 'count', type: 'int', default: '1', help: '' },
      { name: 'rate', type: 'float', default: '0.5', help: '' },
      { name: 'debug', type: 'bool', default: 'False', help: '' },
      { name: 'mode', type: "Literal['fast', 'slow']", default: "'fast'", help: '' },
      { name: 'tags', type: 'list[str]', default: '[]', help: '' },
      { name: 'limit', type: 'Optional[int]', default: 'None', help: '' },
      { name: 'anything', type: null, default: '3', help: '' },
    ],
    schema: {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'Who to greet', default: 'world' },
        count: { type: 'integer', default: 1 },
        rate: { type: 'number', default: 0.5 },
        debug: { type: 'boolean', default: false },
        mode: { enum: ['fast', 'slow'], default: 'fast' },
        tags: { type: 'array', items: { type: 'string' }, default: [] },
        limit: { type: ['integer', 'null'], default: null },
        anything: { default: 3 },
      },
    },
  };

  it('turns the schema into typed fields with defaults', () => {
    const fields = buildFields(inspect);
    expect(fields.map((f) => [f.name, f.kind, f.nullable, f.initial])).toEqual([
      ['name', 'string', false, 'world'],
      ['count', 'integer', false, '1'],
      ['rate', 'number', false, '0.5'],
      ['debug', 'boolean', false, 'false'],
      ['mode', 'enum', false, '"fast"'],
      ['tags', 'json', false, '[]'],
      ['limit', 'integer', true, ''],
      ['anything', 'any', false, '3'],
    ]);
    expect(fields[0]?.help).toBe('Who to greet');
    expect(fieldKind({ anyOf: [{ type: 'integer' }, { type: 'number' }] }).kind).toBe('number');
    expect(fieldKind({ type: ['string', 'integer'] }).kind).toBe('json');
  });

  it('prefills a rerun with the run values and sends only what changed', () => {
    const fields = buildFields(inspect, { name: 'NES', count: 3, debug: true });
    expect(fields.find((f) => f.name === 'name')?.initial).toBe('NES');
    expect(fields.find((f) => f.name === 'debug')?.initial).toBe('true');
    expect(collectParameters(fields, {})).toEqual({});
    expect(
      collectParameters(fields, {
        count: '5',
        tags: '["a", "b"]',
        limit: '',
        mode: '"slow"',
        anything: 'True',
      }),
    ).toEqual({
      count: 5,
      tags: ['a', 'b'],
      mode: 'slow',
      anything: true,
    });
    expect(collectParameters(fields, { limit: '10', anything: 'hello' })).toEqual({
      limit: 10,
      anything: 'hello',
    });
  });

  it('keeps a float a float on the wire', () => {
    const fields = buildFields(inspect);
    const sent = collectParameters(fields, { rate: '2' });
    expect(JSON.stringify(sent)).toBe('{"rate":2.0}');
    expect(JSON.stringify(collectParameters(fields, { rate: '2.25' }))).toBe('{"rate":2.25}');
  });

  it('keeps floats and big integers typed in JSON fields as typed', () => {
    const fields = buildFields({
      parameters: [{ name: 'conf', type: null, default: '{}', help: '' }],
      schema: { type: 'object', properties: { conf: { default: {} } } },
    });
    const sent = collectParameters(fields, {
      conf: '{"b2": 1.0, "big": 12345678901234567890, "n": [2, 0.5, 1e3]}',
    });
    expect(JSON.stringify(sent)).toBe(
      '{"conf":{"b2":1.0,"big":12345678901234567890,"n":[2,0.5,1e3]}}',
    );
  });

  it('names the field a bad value is in', () => {
    const fields = buildFields(inspect);
    const attempt = (texts: Record<string, string>) => {
      try {
        collectParameters(fields, texts);
        return null;
      } catch (error) {
        return error instanceof ParameterError ? [error.field, error.message] : error;
      }
    };
    expect(attempt({ count: '1.5' })).toEqual(['count', 'count must be a whole number']);
    expect(attempt({ rate: 'fast' })).toEqual([
      'rate',
      'rate must be a number (like 0.5, 3 or 1e-3), not "fast"',
    ]);
    expect((attempt({ rate: 'abc' }) as string[])[0]).toBe('rate');
    expect((attempt({ rate: '0x10' }) as string[])[0]).toBe('rate');
    expect(attempt({ tags: '[1, 2]' })).toEqual(['tags', 'tags must be a string (at [0])']);
    expect(attempt({ tags: '{"a": 1}' })).toEqual(['tags', 'tags must be a list']);
    expect(attempt({ mode: '"medium"' })).toEqual(['mode', 'mode must be one of "fast", "slow"']);
    expect(attempt({ tags: '[1,' })).toEqual([
      'tags',
      'tags must be JSON (e.g. [1, 2] or {"a": 1})',
    ]);
  });
});

describe('links', () => {
  it('links github:// notebooks at the commit that ran', () => {
    expect(
      githubLink({
        notebook: 'github://acme/analytics/reports/daily report.ipynb',
        commitSha: 'abc123',
        ref: 'main',
      }),
    ).toBe('https://github.com/acme/analytics/blob/abc123/reports/daily%20report.ipynb');
    expect(
      githubLink({ notebook: 'github://acme/analytics/a.ipynb', commitSha: null, ref: 'dev' }),
    ).toBe('https://github.com/acme/analytics/blob/dev/a.ipynb');
  });

  it('keeps an Enterprise host and swaps a ref with slashes for the commit', () => {
    expect(
      githubLink({
        notebook: 'https://ghe.example.com/acme/repo/blob/feature/x/nb/a.ipynb',
        commitSha: 'deadbeef',
        ref: 'feature/x',
      }),
    ).toBe('https://ghe.example.com/acme/repo/blob/deadbeef/nb/a.ipynb');
    expect(
      githubLink({
        notebook: 'https://github.com/acme/repo/blob/main/a.ipynb',
        commitSha: 'f00',
        ref: 'main',
      }),
    ).toBe('https://github.com/acme/repo/blob/f00/a.ipynb');
  });

  it('gives no link for notebooks not from GitHub', () => {
    expect(
      githubLink({ notebook: '/work/examples/hello.ipynb', commitSha: null, ref: null }),
    ).toBeNull();
    expect(githubLink({ notebook: 'gs://bucket/a.ipynb', commitSha: null, ref: null })).toBeNull();
    expect(
      githubLink({ notebook: 'https://example.com/a.ipynb', commitSha: null, ref: null }),
    ).toBeNull();
  });

  it('builds store links and breadcrumbs', () => {
    expect(browseHref('runs/x/output.ipynb')).toBe('/notebook?path=runs%2Fx%2Foutput.ipynb');
    expect(browseHref('runs/x/run log.txt')).toBe('/v1/browse/runs/x/run%20log.txt');
    expect(breadcrumbs('runs/abc/')).toEqual([
      { name: 'store', path: '' },
      { name: 'runs', path: 'runs/' },
      { name: 'abc', path: 'runs/abc/' },
    ]);
  });
});

describe('event stream', () => {
  function manualTimers() {
    const pending: Array<{ fn: () => void; ms: number }> = [];
    return {
      pending,
      timers: { set: (fn: () => void, ms: number) => pending.push({ fn, ms }), clear: () => {} },
    };
  }

  it('delivers parsed events, skipping data that is not JSON', () => {
    FakeEventSource.reset();
    const got: unknown[] = [];
    const stop = subscribe((url) => new FakeEventSource(url), '/v1/events', {
      events: ['run'],
      onEvent: (_n, d) => got.push(d),
    });
    const es = FakeEventSource.last('/v1/events');
    es.open();
    es.emit('run', { id: 'a' });
    for (const listener of es.listeners.get('run') ?? [])
      listener(new MessageEvent('run', { data: 'not json' }));
    expect(got).toEqual([{ id: 'a' }]);
    stop();
    expect(es.closed).toBe(true);
  });

  it('reopens a stream the browser gave up on after a doubling back-off, and says it reconnected', () => {
    FakeEventSource.reset();
    const { pending, timers } = manualTimers();
    const opens: boolean[] = [];
    const states: string[] = [];
    subscribe(
      (url) => new FakeEventSource(url),
      '/v1/runs/x/events',
      {
        events: ['log'],
        onEvent: () => {},
        onOpen: (re) => opens.push(re),
        onState: (s) => states.push(s),
        resumeUrl: (id) => `/v1/runs/x/events?lastEventId=${id}`,
      },
      timers,
    );
    const first = FakeEventSource.last('/v1/runs/x/events');
    first.open();
    first.emit('log', { text: 'hi' }, '7');
    first.drop(); // the browser retries by itself: nothing to schedule
    expect(pending).toHaveLength(0);
    first.fail();
    first.fail(); // a second error from the same closed source is not a second failure
    expect(pending.map((p) => p.ms)).toEqual([1000]);
    pending.shift()?.fn();
    const second = FakeEventSource.last('/v1/runs/x/events');
    expect(second.url).toBe('/v1/runs/x/events?lastEventId=7');
    second.fail();
    expect(pending.map((p) => p.ms)).toEqual([2000]);
    pending.shift()?.fn();
    FakeEventSource.last('/v1/runs/x/events').open();
    expect(opens).toEqual([false, true]);
    expect(states).toEqual([
      'connecting',
      'live',
      'reconnecting',
      'reconnecting',
      'reconnecting',
      'live',
    ]);
  });

  it('stops for good at the end event', () => {
    FakeEventSource.reset();
    const { pending, timers } = manualTimers();
    subscribe(
      (url) => new FakeEventSource(url),
      '/v1/runs/x/events',
      { events: ['status'], endEvent: 'end', onEvent: () => {} },
      timers,
    );
    const es = FakeEventSource.last('/v1/runs/x/events');
    es.open();
    es.emit('end', { status: 'succeeded' });
    expect(es.closed).toBe(true);
    es.onerror?.call(es, new Event('error'));
    expect(pending).toHaveLength(0);
    expect(FakeEventSource.instances).toHaveLength(1);
  });
});

describe('field problems and server errors', () => {
  const inspect = {
    parameters: [
      { name: 'count', type: 'int', default: '1', help: '' },
      { name: 'rate', type: 'float', default: '0.5', help: '' },
      { name: 'ids', type: 'dict[str, int]', default: '{}', help: '' },
      { name: 'pair', type: 'tuple[int, str]', default: '(1, "a")', help: '' },
      { name: 'maybe', type: 'Optional[float]', default: 'None', help: '' },
    ],
    schema: {
      type: 'object',
      properties: {
        count: { type: 'integer', default: 1 },
        rate: { type: 'number', default: 0.5 },
        ids: { type: 'object', additionalProperties: { type: 'integer' }, default: {} },
        pair: {
          type: 'array',
          prefixItems: [{ type: 'integer' }, { type: 'string' }],
          items: false,
          default: [1, 'a'],
        },
        maybe: { type: ['number', 'null'], default: null },
      },
    },
  };

  it('reports every field that does not parse, and none that is unchanged', () => {
    const fields = buildFields(inspect);
    expect(fieldProblems(fields, {})).toEqual({});
    expect(
      fieldProblems(fields, {
        count: 'x',
        rate: 'abc',
        ids: '{"a": "b"}',
        pair: '["a", 1]',
        maybe: 'none',
      }),
    ).toEqual({
      count: 'count must be a whole number',
      rate: 'rate must be a number (like 0.5, 3 or 1e-3), not "abc"',
      ids: 'ids must be a whole number (at ["a"])',
      pair: 'pair must be a whole number (at [0])',
      maybe: 'maybe must be a number (like 0.5, 3 or 1e-3), not "none"',
    });
    expect(fieldProblems(fields, { pair: '[1, "a", 2]' })).toEqual({
      pair: 'pair must have 2 items',
    });
    expect(fieldProblems(fields, { maybe: '' })).toEqual({});
  });

  it("puts the API's 422 details on their fields", () => {
    expect(
      serverFieldErrors([
        {
          field: 'parameters.rate',
          code: 'invalid_value',
          message: 'parameter "rate" must be number',
        },
        { field: 'parameters.rate', code: 'invalid_value', message: 'second' },
        { field: 'labels', message: 'not a parameter' },
        'junk',
      ]),
    ).toEqual({ rate: 'parameter "rate" must be number' });
    expect(serverFieldErrors(undefined)).toEqual({});
  });
});

describe('failures in words', () => {
  it('summarises a failed, timed-out or cancelled run for its row', () => {
    expect(
      failureSummary({
        status: 'failed',
        cancelRequested: false,
        error: {
          class: 'cell_error',
          ename: 'KeyError',
          evalue: "'region'\nmore",
          cellIndex: 7,
          cellNumber: 5,
        },
      }),
    ).toEqual({
      title: 'Cell error',
      line: "KeyError: 'region' (cell 5)",
      full: "Cell error (cell 5)\nKeyError: 'region'\nmore",
    });
    expect(
      failureSummary({
        status: 'timed_out',
        cancelRequested: false,
        error: {
          class: 'timeout',
          ename: 'DeadlineExceeded',
          evalue: 'The run exceeded its deadline of 4.968991905999999 s',
          cellIndex: null,
        },
      })?.line,
    ).toBe('DeadlineExceeded: The run exceeded its deadline of 5.0 s');
    expect(failureSummary({ status: 'succeeded', cancelRequested: false, error: null })).toBeNull();
    expect(failureSummary({ status: 'cancelled', cancelRequested: true, error: null })?.title).toBe(
      'Cancelled',
    );
    expect(
      failureSummary({
        status: 'cancelled',
        cancelRequested: true,
        error: {
          class: 'cancelled',
          ename: 'Cancelled',
          evalue: 'The run was cancelled',
          cellIndex: 4,
          cellNumber: 3,
        },
      }),
    ).toEqual({
      title: 'Cancelled',
      line: 'while cell 3 was running',
      full: 'Cancelled, while cell 3 was running',
    });
  });

  it('formats machine durations in messages for people', () => {
    expect(humanizeSeconds('deadline of 4.968991905999999 s')).toBe('deadline of 5.0 s');
    expect(humanizeSeconds('after 3725 seconds, 12 s later')).toBe('after 1h 02m, 12 s later');
    expect(humanizeSeconds('no numbers')).toBe('no numbers');
  });

  it('reads a label filter and names what is wrong with a bad one', () => {
    expect(parseLabelFilter('team=data env=prod')).toEqual({
      labels: { team: 'data', env: 'prod' },
    });
    expect(parseLabelFilter('team').error).toMatch(/"team" needs a value/);
    expect(parseLabelFilter('=x').error).toMatch(/no key/);
    expect(parseLabelFilter('key!=x').error).toMatch(/"key!" is not valid/);
    expect(parseLabelFilter('a=1 a=2').error).toMatch(/given twice/);
  });

  it('says what the new-run form is missing', () => {
    const base = {
      notebook: 'nb.ipynb',
      inspecting: false,
      inspectError: null,
      inspected: true,
      problems: 0,
      labelError: undefined,
    };
    expect(missingForSubmit({ ...base, notebook: '' })).toBe('Pick a notebook first');
    expect(missingForSubmit({ ...base, inspecting: true })).toMatch(/Loading/);
    expect(missingForSubmit({ ...base, inspectError: 'nope' })).toMatch(/could not be read/);
    expect(missingForSubmit({ ...base, problems: 2 })).toBe('Fix the 2 fields marked in red');
    expect(missingForSubmit({ ...base, labelError: 'x' })).toBe('Fix the labels');
    expect(missingForSubmit(base)).toBeNull();
    expect(githubUri('acme/repo', '/nb/a.ipynb')).toBe('github://acme/repo/nb/a.ipynb');
    expect(githubUri('https://github.com/acme/repo.git', 'a.ipynb')).toBe(
      'github://acme/repo/a.ipynb',
    );
    expect(githubUri('acme', 'a.ipynb')).toBe('');
  });
});

describe('label keys as the API takes them', () => {
  it('accepts prefixed keys and refuses what the API refuses', () => {
    expect(parseLabelFilter('nes/submitted-by=ci airflow.apache.org/dag-id=daily').error).toBe(
      undefined,
    );
    expect(parseLabelFilter('-bad=x').error).toMatch(/not valid/);
    expect(parseLabelFilter('Upper.Case/x=1').error).toMatch(/not valid/);
    expect(parseLabelFilter(`${'k'.repeat(64)}=1`).error).toMatch(/not valid/);
  });
});

describe('who started a run', () => {
  it('reads the submitter, the Airflow task instance and a rerun from the labels', () => {
    const trigger = triggerOf({
      sweepId: null,
      labels: {
        'nes/submitted-by': 'airflow-prod',
        'airflow.dag_id': 'daily_report',
        'airflow.task_id': 'load',
        'airflow.run_id': 'scheduled__2026-11-01T00:00:00+00:00',
        'airflow.map_index': '-1',
      },
    });
    expect(trigger.airflow).toEqual({
      dag: 'daily_report',
      task: 'load',
      runId: 'scheduled__2026-11-01T00:00:00+00:00',
      how: 'scheduled',
    });
    expect(triggerText(trigger)).toBe('Airflow daily_report › load (scheduled) · by airflow-prod');
    expect(
      triggerText(
        triggerOf({ sweepId: null, labels: { 'nes/submitted-by': 'ana', 'nes/rerun-of': 'r1' } }),
      ),
    ).toBe('rerun · by ana');
    expect(triggerText(triggerOf({ sweepId: null, labels: {} }))).toBe('');
  });
});

describe('sweep form', () => {
  const fields = buildFields({
    parameters: [
      { name: 'day', type: 'str', default: '"2026-01-01"', help: '' },
      { name: 'n', type: 'int', default: '1', help: '' },
      { name: 'mode', type: 'Literal', default: '"a"', help: '' },
    ],
    schema: {
      type: 'object',
      properties: {
        day: { type: 'string', default: '2026-01-01' },
        n: { type: 'integer', default: 1 },
        mode: { enum: ['a', 'b'], default: 'a' },
      },
    },
  });
  const input = {
    mode: 'list' as const,
    parameter: 'n',
    values: '',
    start: '',
    end: '',
    maxConcurrency: '',
  };

  it('plans one run per value, each checked like its field', () => {
    expect(planSweep({ ...input, values: '1\n2\n\n3', maxConcurrency: '2' }, fields)).toEqual({
      ok: true,
      runs: 3,
      body: { list: [{ n: 1 }, { n: 2 }, { n: 3 }], maxConcurrency: 2 },
    });
    expect(planSweep({ ...input, values: '1\nx' }, fields)).toEqual({
      ok: false,
      problem: 'Line 2: n must be a whole number',
    });
    expect(planSweep({ ...input, parameter: 'mode', values: 'a\nb' }, fields)).toMatchObject({
      ok: true,
      body: { list: [{ mode: 'a' }, { mode: 'b' }] },
    });
    expect(planSweep({ ...input, parameter: 'mode', values: 'c' }, fields)).toMatchObject({
      ok: false,
    });
    expect(planSweep({ ...input, values: '1', maxConcurrency: '0' }, fields)).toMatchObject({
      ok: false,
      problem: /concurrency/,
    });
  });

  it('plans a backfill over days, both ends included', () => {
    expect(
      planSweep(
        { ...input, mode: 'dates', parameter: 'day', start: '2026-01-30', end: '2026-02-02' },
        fields,
      ),
    ).toEqual({
      ok: true,
      runs: 4,
      body: { dateRange: { parameter: 'day', start: '2026-01-30', end: '2026-02-02' } },
    });
    expect(
      planSweep(
        { ...input, mode: 'dates', parameter: 'day', start: '2026-02-02', end: '2026-01-30' },
        fields,
      ),
    ).toEqual({ ok: false, problem: 'The last day is before the first' });
    expect(daysBetween('2026-01-01', '2028-12-31')).toBe(1096);
    expect(
      planSweep(
        { ...input, mode: 'dates', parameter: 'day', start: '2026-01-01', end: '2028-12-31' },
        fields,
      ),
    ).toMatchObject({ ok: false, problem: /at most 1000 runs/ });
  });
});
