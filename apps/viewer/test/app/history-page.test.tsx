/** The notebook history page, and a numeric result's trend on the run page. */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { codeCell, fakeFetch, json, makeRun, notebookOf } from './fixtures.ts';
import { renderApp } from './render.tsx';

const NB = 'github://acme/analytics/reports/daily.ipynb';

describe('notebook history', () => {
  it('shows runs per day, success rate, durations, failures, last success and commits', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/history': () =>
        json({
          notebook: NB,
          labels: { env: 'prod' },
          since: '2026-11-06T00:00:00.000Z',
          totals: { succeeded: 8, failed: 2 },
          successRate: 0.8,
          durationSeconds: { p50: 12, p95: 95 },
          days: [
            { day: '2026-12-05', counts: { succeeded: 3, failed: 1 }, p50Seconds: 11 },
            { day: '2026-12-06', counts: { succeeded: 5, failed: 1 }, p50Seconds: 13 },
          ],
          failureClasses: [{ class: 'cell_error', count: 2 }],
          lastSuccess: { runId: 'r-9', finishedAt: '2026-12-06T09:00:00.000Z', ageSeconds: 7200 },
          commits: [
            {
              commitSha: '0123456789abcdef0123456789abcdef01234567',
              runs: 10,
              succeeded: 8,
              firstAt: '2026-12-05T00:00:00.000Z',
              lastAt: '2026-12-06T09:00:00.000Z',
            },
          ],
          recent: [
            {
              id: 'r-9',
              status: 'succeeded',
              createdAt: '2026-12-06T08:59:00.000Z',
              durationSeconds: 12,
            },
            {
              id: 'r-8',
              status: 'succeeded',
              createdAt: '2026-12-06T07:59:00.000Z',
              durationSeconds: 14,
            },
          ],
        }),
    });
    renderApp(`/history?notebook=${encodeURIComponent(NB)}&label=env=prod`, fetch);
    const summary = await screen.findByLabelText('Summary', undefined, { timeout: 15_000 });
    expect(summary.textContent).toContain('80.0%');
    expect(summary.textContent).toContain('12 s / 1 min 35 s'.slice(0, 4));
    expect(within(summary).getByRole('link', { name: '2 h ago' }).getAttribute('href')).toBe(
      '/runs/r-9',
    );
    expect(screen.getByRole('list', { name: 'Runs per day' }).textContent).toContain(
      '5 succeeded, 1 failed',
    );
    expect(screen.getByRole('table', { name: 'Failure classes' }).textContent).toContain(
      'cell_error2',
    );
    expect(screen.getByRole('table', { name: 'Commits' }).textContent).toContain(
      '10 runs, 8 succeeded',
    );
    expect(
      screen.getByRole('link', { name: 'Compare the last two successes' }).getAttribute('href'),
    ).toBe('/compare?a=r-8&b=r-9');
    const asked = requests.find((r) => r.path.startsWith('/v1/history'));
    expect(asked?.path).toContain('label=env%3Dprod');
  });

  it('shows which cell got slower between the last two successes, and between runs picked', async () => {
    const timed = (id: string, source: string, duration: number) =>
      codeCell(id, source, { metadata: { papermill: { duration, status: 'completed' } } });
    const recent = [
      { id: 'r-9', status: 'succeeded', createdAt: '2026-12-06T08:59:00.000Z', durationSeconds: 9 },
      { id: 'r-8', status: 'failed', createdAt: '2026-12-06T07:59:00.000Z', durationSeconds: 2 },
      { id: 'r-7', status: 'succeeded', createdAt: '2026-12-06T06:59:00.000Z', durationSeconds: 4 },
      {
        id: 'r-6',
        status: 'running',
        createdAt: '2026-12-06T09:30:00.000Z',
        durationSeconds: null,
      },
    ];
    const { fetch, requests } = fakeFetch({
      'GET /v1/history': () =>
        json({
          notebook: NB,
          labels: {},
          since: '2026-11-06T00:00:00.000Z',
          totals: { succeeded: 2, failed: 1, running: 1 },
          successRate: 2 / 3,
          durationSeconds: { p50: 6, p95: 9 },
          days: [],
          failureClasses: [],
          lastSuccess: null,
          commits: [],
          recent,
        }),
      'GET /v1/runs/r-7/notebook': () =>
        json(notebookOf([timed('load', 'df = load()', 1), timed('fit', 'model.fit(df)', 3)])),
      'GET /v1/runs/r-9/notebook': () =>
        json(notebookOf([timed('load', 'df = load()', 1.02), timed('fit', 'model.fit(df)', 7.5)])),
      'GET /v1/runs/r-8/notebook': () =>
        json(notebookOf([timed('load', 'df = load()', 2), timed('fit', 'model.fit(df)', 0.1)])),
    });
    renderApp(`/history?notebook=${encodeURIComponent(NB)}`, fetch);
    const table = await screen.findByRole('table', { name: 'Cell durations' }, { timeout: 15_000 });
    const rows = within(table).getAllByRole('row').slice(1);
    // The slowest change first: the fit cell, 3 s to 7.5 s.
    expect(rows[0]?.getAttribute('aria-label')).toBe('Cell 2 (slower)');
    expect(rows[0]?.textContent).toContain('model.fit(df)');
    expect(rows[0]?.textContent).toContain('+4.5 s (×2.5)');
    expect(rows[1]?.getAttribute('aria-label')).toBe('Cell 1');
    expect(screen.getByText('1 cell got slower (10% and 100 ms or more).')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Compare these runs' }).getAttribute('href')).toBe(
      '/compare?a=r-7&b=r-9',
    );
    // A running run is not offered; another pair can be picked.
    const earlier = screen.getByLabelText('Earlier run') as HTMLSelectElement;
    expect([...earlier.options].map((o) => o.value)).toEqual(['r-9', 'r-8', 'r-7']);
    fireEvent.change(earlier, { target: { value: 'r-8' } });
    await waitFor(
      () =>
        expect(screen.getByRole('table', { name: 'Cell durations' }).textContent).toContain(
          '+7.4 s (×75.0)',
        ),
      { timeout: 15_000 },
    );
    expect(
      within(screen.getByRole('table', { name: 'Cell durations' }))
        .getAllByRole('row')[1]
        ?.getAttribute('aria-label'),
    ).toBe('Cell 2 (slower)');
    expect(requests.some((r) => r.path === '/v1/runs/r-8/notebook')).toBe(true);
  });

  it("draws a numeric result's trend on the run page, each point a link to its run", async () => {
    const run = makeRun({
      id: 'r-3',
      status: 'succeeded',
      labels: { env: 'prod', 'nes/submitted-by': 'x' },
    });
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs/r-3': () => json(run),
      'GET /v1/runs/r-3/notebook': () => json(notebookOf([])),
      'GET /v1/runs/r-3/results': () =>
        json({
          runId: 'r-3',
          status: 'succeeded',
          complete: true,
          values: { rows: 30 },
          results: [{ name: 'rows', kind: 'value', value: 30, cellIndex: 0, outputIndex: 0 }],
          exit: null,
          dropped: [],
          links: { run: '', notebook: '' },
        }),
      'GET /v1/history/results': () =>
        json({
          name: 'rows',
          points: [
            { runId: 'r-1', createdAt: '2026-12-04T00:00:00.000Z', value: 10 },
            { runId: 'r-2', createdAt: '2026-12-05T00:00:00.000Z', value: 20 },
            { runId: 'r-3', createdAt: '2026-12-06T00:00:00.000Z', value: 30 },
          ],
        }),
    });
    renderApp('/runs/r-3', fetch);
    // The run page is loaded lazily: give a busy machine time.
    await screen.findByRole('table', { name: 'Results' }, { timeout: 15_000 });
    const chart = await waitFor(() => {
      const svg = document.querySelector('svg.result-trend');
      if (!svg)
        throw new Error(`no chart: ${screen.getByRole('table', { name: 'Results' }).outerHTML}`);
      return svg;
    });
    expect(chart.getAttribute('aria-label')).toBe('rows over the last 3 runs: from 10 to 30');
    const links = Array.from(chart.querySelectorAll('a')).map((a) => a.getAttribute('href'));
    expect(links).toEqual(['/runs/r-1', '/runs/r-2', '/runs/r-3']);
    await waitFor(() => {
      const asked = requests.find((r) => r.path.startsWith('/v1/history/results'));
      expect(asked?.path).toContain('label=env%3Dprod');
      expect(asked?.path).not.toContain('submitted-by');
    });
  });
});
