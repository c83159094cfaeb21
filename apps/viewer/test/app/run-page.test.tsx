/** The run page: live events, timeline, log, failure, cancel, rerun; and the other pages. */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  apiError,
  codeCell,
  FakeEventSource,
  fakeFetch,
  json,
  makeRun,
  mdCell,
  notebookOf,
} from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => FakeEventSource.reset());

const notebook = notebookOf([
  mdCell('m1', '# Daily report'),
  codeCell('c1', 'name = "NES"', {
    execution_count: 1,
    metadata: { papermill: { status: 'completed', duration: 0.5 } },
  }),
  codeCell('c2', 'print(name)', {
    execution_count: 2,
    metadata: { papermill: { status: 'completed', duration: 2 } },
    outputs: [{ output_type: 'stream', name: 'stdout', text: 'NES\n' }],
  }),
  codeCell('c3', 'raise ValueError("bad input")', {
    metadata: { papermill: { status: 'pending' } },
  }),
]);

describe('run page', () => {
  it('follows a running run: progress, status timeline, log lines and the live notebook', async () => {
    const run = makeRun({
      id: 'live-1',
      status: 'running',
      createdAt: '2026-11-22T10:00:00.000Z',
      startedAt: '2026-11-22T10:00:02.000Z',
      finishedAt: null,
      progress: { cellsDone: 1, cellsTotal: 3, currentCell: 2 },
    });
    let notebookReads = 0;
    const { fetch } = fakeFetch({
      'GET /v1/runs/live-1': () => json(run),
      'GET /v1/runs/live-1/notebook': () => {
        notebookReads += 1;
        return json(notebook);
      },
    });
    renderApp('/runs/live-1', fetch);
    expect(await screen.findByRole('heading', { level: 1, name: 'daily.ipynb' })).toBeTruthy();
    expect(screen.getByText('1/3 cells')).toBeTruthy();
    const es = FakeEventSource.last('/v1/runs/live-1/events');
    es.open();
    es.emit(
      'status',
      { status: 'starting', from: 'queued', seq: 2, time: '2026-11-22T10:00:01.000Z' },
      '2',
    );
    es.emit(
      'log',
      {
        text: 'hello from the kernel\nsecond line\n',
        stream: 'stdout',
        time: '2026-11-22T10:00:03.000Z',
      },
      '3',
    );
    es.emit('progress', { cellsDone: 2, cellsTotal: 3, currentCell: 3, seq: 4 }, '4');
    const log = await screen.findByRole('log', { name: 'Log lines' });
    await waitFor(() => expect(log.textContent).toContain('second line'));
    expect(log.textContent).toContain('hello from the kernel');
    expect(screen.getByText('2/3 cells')).toBeTruthy();
    const timeline = screen.getByRole('list', { name: 'Status timeline' });
    const steps = within(timeline).getAllByRole('listitem');
    expect(
      steps.map((li) => li.className.match(/step-(done|current|pending|skipped)/)?.[1]),
    ).toEqual(['done', 'done', 'current', 'pending']);
    expect(steps[1]?.textContent).toContain('1.0 s'); // starting lasted from 10:00:01 to 10:00:02
    await waitFor(() => expect(notebookReads).toBeGreaterThan(0));
    await screen.findByRole('region', { name: 'Notebook (live)' });
    expect(screen.getByRole('button', { name: 'Cancel run' })).toBeTruthy();
    // cell durations from the notebook's papermill metadata
    expect(await screen.findByRole('button', { name: 'Cell 2: 2.0 s' })).toBeTruthy();
  });

  it('cancels after confirmation', async () => {
    const run = makeRun({
      id: 'c-1',
      status: 'queued',
      startedAt: null,
      finishedAt: null,
      outputUri: null,
    });
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs/c-1': () => json(run),
      'POST /v1/runs/c-1/cancel': () =>
        json({
          ...run,
          status: 'cancelled',
          finishedAt: '2026-11-22T10:00:03Z',
          cancelRequested: true,
        }),
    });
    renderApp('/runs/c-1', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel run' }));
    expect(requests.some((r) => r.method === 'POST')).toBe(false);
    const dialog = screen.getByRole('dialog', { name: 'Cancel run' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Yes, cancel the run' }));
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Cancel run' })).toBeNull());
    expect(requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual([
      '/v1/runs/c-1/cancel',
    ]);
    const heading = screen.getByRole('heading', { level: 1 }).parentElement as HTMLElement;
    expect(within(heading).getByText('Cancelled')).toBeTruthy();
    expect(
      screen.getByText('The run ended before it started: there is no output notebook.'),
    ).toBeTruthy();
  });

  it('says who cancelled a run, from its cancel_requested event, and not as a failure', async () => {
    const run = makeRun({
      id: 'k-1',
      status: 'cancelled',
      error: {
        class: 'cancelled',
        ename: 'Cancelled',
        evalue: 'The run was cancelled',
        cellIndex: null,
      },
    });
    const { fetch } = fakeFetch({
      'GET /v1/runs/k-1': () => json(run),
      'GET /v1/runs/k-1/notebook': () => json(notebook),
    });
    renderApp('/runs/k-1', fetch);
    const ended = await screen.findByRole('status', { name: 'How the run ended' });
    const es = FakeEventSource.last('/v1/runs/k-1/events');
    es.open();
    es.emit('cancel_requested', { by: 'ana', seq: 5, time: '2026-11-22T10:00:04Z' });
    await waitFor(() => expect(ended.textContent).toContain('Cancelled by ana at '));
    expect(screen.queryByRole('alert', { name: 'Failure' })).toBeNull();
  });

  it('shows the failure and jumps to the failing cell', async () => {
    const run = makeRun({
      id: 'f-1',
      status: 'failed',
      error: { class: 'cell_error', ename: 'ValueError', evalue: 'bad input', cellIndex: 3 },
    });
    const { fetch } = fakeFetch({
      'GET /v1/runs/f-1': () => json(run),
      'GET /v1/runs/f-1/notebook': () => json(notebook),
      'GET /v1/runs/f-1/logs': () =>
        new Response('stored log line\n\x1b[31mred <b>not bold</b>\x1b[0m\n', {
          headers: { 'content-type': 'text/plain' },
        }),
    });
    renderApp('/runs/f-1', fetch);
    const failure = await screen.findByRole('alert', { name: 'Failure' });
    expect(failure.textContent).toContain('cell_error');
    expect(failure.textContent).toContain('ValueError: bad input');
    // One numbering: the third code cell is "cell 3" in the banner and on the cell itself.
    await waitFor(() => expect(failure.textContent).toContain('A cell raised an error in cell 3'));
    const jump = within(failure).getByRole('button', { name: 'Go to cell 3' });
    await waitFor(() => expect((jump as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(jump);
    await waitFor(() =>
      expect(document.querySelector('[data-cell-index="3"]')?.className).toMatch(/focused/),
    );
    // Keyboard: k to the previous code cell, e back to the error.
    const focused = () =>
      document.querySelector('.nes-cell-focused')?.getAttribute('data-cell-index');
    fireEvent.keyDown(window, { key: 'k' });
    await waitFor(() => expect(focused()).toBe('2'));
    fireEvent.keyDown(window, { key: 'e' });
    await waitFor(() => expect(focused()).toBe('3'));
    const es = FakeEventSource.last('/v1/runs/f-1/events');
    es.open();
    es.emit('end', { status: 'failed' });
    const log = await screen.findByRole('log', { name: 'Log lines' });
    await waitFor(() => expect(log.textContent).toContain('stored log line'));
    // ANSI colours are shown as colours, the rest escaped: no raw escape, no markup from the log
    await waitFor(() => expect(log.textContent).toContain('red <b>not bold</b>'));
    expect(log.textContent).not.toContain('\x1b');
    expect(log.textContent).not.toContain('[31m');
    expect(log.querySelector('b')).toBeNull();
    expect(screen.getByRole('region', { name: 'Log' }).querySelector('h2')?.textContent).toMatch(
      /Log\s+2 lines$/,
    );
    const red = Array.from(log.querySelectorAll('.log-text span')).find((span) =>
      span.textContent?.startsWith('red'),
    );
    expect(red?.getAttribute('style')).toMatch(/color:\s*rgb\(187,\s*0,\s*0\)/);
    const github = screen.getByRole('link', { name: 'View on GitHub' });
    expect(github.getAttribute('href')).toBe(
      'https://github.com/acme/analytics/blob/0123456789abcdef0123456789abcdef01234567/reports/daily.ipynb',
    );
    expect(screen.getByRole('link', { name: 'Download .ipynb' }).getAttribute('href')).toBe(
      '/v1/runs/f-1/notebook',
    );
  });

  it("lists a finished run's results: values as JSON text, displays and the exit as jumps to their cell", async () => {
    const run = makeRun({ id: 'r-1', status: 'succeeded' });
    const { fetch } = fakeFetch({
      'GET /v1/runs/r-1': () => json(run),
      'GET /v1/runs/r-1/notebook': () => json(notebook),
      'GET /v1/runs/r-1/results': () =>
        json({
          runId: 'r-1',
          status: 'succeeded',
          complete: true,
          values: { rows: 1234, note: '<b>not markup</b>' },
          results: [
            { name: 'rows', kind: 'value', value: 1234, cellIndex: 1, outputIndex: 0 },
            {
              name: 'note',
              kind: 'value',
              value: '<b>not markup</b>',
              cellIndex: 1,
              outputIndex: 1,
            },
            {
              name: 'chart',
              kind: 'display',
              mimeTypes: ['image/png'],
              cellIndex: 2,
              outputIndex: 0,
            },
          ],
          exit: { value: { reason: 'done' }, cellIndex: 2 },
          dropped: [],
          links: { run: '/v1/runs/r-1', notebook: '/v1/runs/r-1/notebook' },
        }),
    });
    renderApp('/runs/r-1', fetch);
    const table = await screen.findByRole('table', { name: 'Results' });
    const rows = within(table).getAllByRole('row');
    expect(rows.map((row) => row.textContent)).toEqual([
      'rows1234',
      'note"<b>not markup</b>"',
      'chartdisplay in cell 2',
    ]);
    expect(table.querySelector('b')).toBeNull();
    const region = screen.getByRole('region', { name: 'Results' });
    expect(region.textContent).toContain('Ended early by nes.exit in cell 2: {"reason":"done"}');
    fireEvent.click(within(table).getByRole('button', { name: 'display in cell 2' }));
    await waitFor(() =>
      expect(document.querySelector('[data-cell-index="2"]')?.className).toMatch(/focused/),
    );
  });

  it('reruns with parameters prefilled from the run, sending only the changes', async () => {
    const run = makeRun({ id: 'r-1', parameters: { name: 'NES', count: 3 } });
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs/r-1': () => json(run),
      'GET /v1/runs/r-1/notebook': () => json(notebook),
      'POST /v1/inspect': () =>
        json({
          notebook: run.notebook,
          ref: run.commitSha,
          commitSha: run.commitSha,
          kernel: 'python3',
          language: 'python',
          parameters: [
            { name: 'name', type: 'str', default: '"world"', help: '' },
            { name: 'count', type: 'int', default: '1', help: '' },
          ],
          warnings: [],
          schema: {
            type: 'object',
            properties: {
              name: { type: 'string', default: 'world' },
              count: { type: 'integer', default: 1 },
            },
          },
        }),
      'POST /v1/runs/r-1/rerun': () => json(makeRun({ id: 'r-2', status: 'queued' }), 201),
    });
    const { location } = renderApp('/runs/r-1', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'Rerun' }));
    const form = await screen.findByRole('form', { name: 'Rerun with parameters' });
    const count = (await within(form).findByRole('textbox', { name: /count/ })) as HTMLInputElement;
    expect(count.value).toBe('3');
    expect((within(form).getByRole('textbox', { name: /name/ }) as HTMLInputElement).value).toBe(
      'NES',
    );
    expect(requests.find((r) => r.path === '/v1/inspect')?.body).toEqual({
      notebook: run.notebook,
      ref: run.commitSha,
      kernel: 'python3',
    });
    fireEvent.change(count, { target: { value: '4' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Start rerun' }));
    await waitFor(() => expect(location.history.at(-1)).toBe('/runs/r-2'));
    expect(requests.find((r) => r.path === '/v1/runs/r-1/rerun')?.body).toEqual({
      parameters: { count: 4 },
    });
  });

  it('says when a run does not exist', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs/nope': () => apiError(404, 'not_found', 'run nope not found'),
    });
    renderApp('/runs/nope', fetch);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('run nope not found');
    expect(alert.textContent).toContain('Not found');
  });
});

describe('browse, notebook and compare pages', () => {
  it('lists a store folder with breadcrumbs; notebooks open rendered, other files download', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/browse/runs/abc/': () =>
        json({
          path: 'runs/abc/',
          directories: [{ name: 'context', path: 'runs/abc/context/' }],
          files: [
            {
              name: 'output.ipynb',
              path: 'runs/abc/output.ipynb',
              size: 2048,
              updated: '2026-11-22T10:00:00.000Z',
              contentType: 'application/x-ipynb+json',
            },
            {
              name: 'run.log',
              path: 'runs/abc/run.log',
              size: 10,
              updated: '2026-11-22T10:00:00.000Z',
              contentType: 'text/plain',
            },
          ],
        }),
    });
    renderApp('/browse/runs/abc/', fetch);
    const table = await screen.findByRole('table', { name: 'Folder contents' });
    expect(within(table).getByRole('link', { name: 'context/' }).getAttribute('href')).toBe(
      '/browse/runs/abc/context/',
    );
    expect(within(table).getByRole('link', { name: 'output.ipynb' }).getAttribute('href')).toBe(
      '/notebook?path=runs%2Fabc%2Foutput.ipynb',
    );
    expect(within(table).getByRole('link', { name: 'run.log' }).getAttribute('href')).toBe(
      '/v1/browse/runs/abc/run.log',
    );
    expect(within(table).getByText('2.0 KB')).toBeTruthy();
    const crumbs = screen.getByRole('navigation', { name: 'Breadcrumb' });
    expect(within(crumbs).getByRole('link', { name: 'runs' }).getAttribute('href')).toBe(
      '/browse/runs/',
    );
    expect(requests[0]?.path).toBe('/v1/browse/runs/abc/');
  });

  it('renders a store notebook, and explains a bad one', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/browse/runs/abc/output.ipynb': () => json(notebook),
      'GET /v1/browse/runs/abc/broken.ipynb': () =>
        new Response('{"cells": 3', { headers: { 'content-type': 'application/json' } }),
    });
    const first = renderApp('/notebook?path=runs/abc/output.ipynb', fetch);
    expect(await screen.findByRole('region', { name: 'output.ipynb' })).toBeTruthy();
    first.unmount();
    renderApp('/notebook?path=runs/abc/broken.ipynb', fetch);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('runs/abc/broken.ipynb');
  });

  it('compares two runs: parameter differences and changed cells side by side', async () => {
    const a = makeRun({ id: 'run-a', parameters: { name: 'NES', count: 3 } });
    const b = makeRun({
      id: 'run-b',
      parameters: { name: 'NES', count: 5 },
      status: 'failed',
      error: { class: 'cell_error', ename: 'ValueError', evalue: 'x', cellIndex: 2 },
    });
    const other = notebookOf([
      notebook.cells[0] as never,
      notebook.cells[1] as never,
      codeCell('c2', 'print(name)', {
        execution_count: 2,
        outputs: [{ output_type: 'stream', name: 'stdout', text: 'other\n' }],
      }),
      notebook.cells[3] as never,
    ]);
    const { fetch } = fakeFetch({
      'GET /v1/runs/run-a': () => json(a),
      'GET /v1/runs/run-b': () => json(b),
      'GET /v1/runs/run-a/notebook': () => json(notebook),
      'GET /v1/runs/run-b/notebook': () => json(other),
    });
    renderApp('/compare?a=run-a&b=run-b', fetch);
    const table = await screen.findByRole('table', { name: 'Parameter differences' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => [r.textContent, r.getAttribute('data-changed')])).toEqual([
      ['count (differs)35', 'true'],
      ['name"NES""NES"', null],
    ]);
    const cells = await screen.findByRole('region', { name: 'Cells' });
    await waitFor(() => expect(cells.textContent).toContain('1 of 4 differ'));
    const folds = within(cells).getAllByRole('button', { name: /unchanged cell/ });
    expect(folds.map((f) => f.textContent)).toEqual(['▸ 2 unchanged cells', '▸ 1 unchanged cell']);
    fireEvent.click(folds[0] as HTMLElement);
    expect(folds[0]?.getAttribute('aria-expanded')).toBe('true');
  });

  it('asks for two runs when the compare URL lacks them', async () => {
    const { fetch } = fakeFetch({});
    const { location } = renderApp('/compare', fetch);
    const form = await screen.findByRole('form', { name: 'Choose runs to compare' });
    fireEvent.change(within(form).getByRole('textbox', { name: 'Run A' }), {
      target: { value: 'x' },
    });
    fireEvent.change(within(form).getByRole('textbox', { name: 'Run B' }), {
      target: { value: 'y' },
    });
    fireEvent.click(within(form).getByRole('button', { name: 'Compare' }));
    expect(location.history.at(-1)).toBe('/compare?a=x&b=y');
  });

  it('has a not-found page and a header with navigation', async () => {
    renderApp('/nowhere', fakeFetch({}).fetch);
    expect((await screen.findByRole('alert')).textContent).toContain('Page not found');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('link')
        .map((l) => l.textContent),
    ).toEqual(['Runs', 'Schedules', 'Output store', 'Compare']);
    expect(screen.getByRole('link', { name: 'NES home' })).toBeTruthy();
  });
});
