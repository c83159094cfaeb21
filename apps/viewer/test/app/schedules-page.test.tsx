/** The schedules pages: the list with pause/resume and run now; a schedule's calendar strip and upcoming ticks. */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeEventSource, fakeFetch, json } from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => FakeEventSource.reset());

const schedule = (overrides: Record<string, unknown> = {}) => ({
  id: 'sch_1',
  name: 'daily-sales',
  notebook: 'github://acme/reports/sales.ipynb',
  ref: 'main',
  kernel: null,
  parameters: { day: '{{ ds }}' },
  cron: '0 6 * * *',
  timezone: 'Europe/Berlin',
  startDate: '2026-11-01T00:00:00.000Z',
  endDate: null,
  catchup: 'all',
  maxActiveRuns: 1,
  timeoutSeconds: null,
  resources: null,
  image: null,
  labels: {},
  preconditions: [],
  preconditionTimeoutSeconds: 3600,
  pokeIntervalSeconds: 60,
  rerunOnPush: true,
  pushPathPrefix: null,
  freshnessSlaSeconds: 7200,
  paused: false,
  nextDueAt: '2099-11-04T05:00:00.000Z',
  nextLogicalDate: '2099-11-03T05:00:00.000Z',
  freshnessState: 'stale',
  createdBy: 'admin',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  upcoming: [
    { logicalDate: '2099-11-03T05:00:00.000Z', dueAt: '2099-11-04T05:00:00.000Z' },
    { logicalDate: '2099-11-04T05:00:00.000Z', dueAt: '2099-11-05T05:00:00.000Z' },
  ],
  links: { self: '/v1/schedules/sch_1', viewer: '/schedules/sch_1' },
  ...overrides,
});

const date = (day: string, state: string, runId: string | null) => ({
  logicalDate: `2026-11-${day}T05:00:00.000Z`,
  dataIntervalStart: `2026-11-${day}T05:00:00.000Z`,
  dataIntervalEnd: `2026-11-${day}T05:00:00.000Z`,
  state,
  trigger: runId ? 'scheduled' : null,
  attempt: runId ? 1 : 0,
  runId,
  runStatus: null,
  commitSha: runId ? '0123456789abcdef0123456789abcdef01234567' : null,
  sweepId: null,
  waitingSince: null,
  reason: state === 'failed' ? 'cell_error' : null,
});

describe('schedules', () => {
  it('lists schedules and pauses, resumes and triggers one', async () => {
    let paused = false;
    const { fetch, requests } = fakeFetch({
      'GET /v1/schedules': () => json({ schedules: [schedule({ paused })], nextCursor: null }),
      'POST /v1/schedules/sch_1/pause': () => {
        paused = true;
        return json(schedule({ paused }));
      },
      'POST /v1/schedules/sch_1/resume': () => {
        paused = false;
        return json(schedule({ paused }));
      },
      'POST /v1/schedules/sch_1/trigger': () => json(date('02', 'queued', null), 201),
    });
    renderApp('/schedules', fetch);
    const row = (await screen.findByRole('link', { name: 'daily-sales' })).closest(
      'tr',
    ) as HTMLElement;
    expect(within(row).getByText('stale')).toBeTruthy();
    // Each action once the previous one has settled (its buttons are disabled meanwhile).
    const settled = async (status: RegExp, next: string) => {
      await screen.findByText(status, {}, { timeout: 5000 });
      const button = await screen.findByRole('button', { name: next }, { timeout: 5000 });
      await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
      return button;
    };
    fireEvent.click(within(row).getByRole('button', { name: 'Pause' }));
    fireEvent.click(await settled(/^Paused$/, 'Resume'));
    fireEvent.click(await settled(/^Resumed$/, 'Run now'));
    await screen.findByText(/^Running 2026-11-02/, {}, { timeout: 5000 });
    const posted = requests.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(posted).toEqual([
      '/v1/schedules/sch_1/pause',
      '/v1/schedules/sch_1/resume',
      '/v1/schedules/sch_1/trigger',
    ]);
  }, 30_000);

  it("shows a schedule's calendar strip coloured by outcome and its upcoming ticks", async () => {
    const { fetch } = fakeFetch({
      'GET /v1/schedules/sch_1': () => json(schedule()),
      'GET /v1/schedules/sch_1/dates': () =>
        json({
          scheduleId: 'sch_1',
          from: '2026-11-01T05:00:00.000Z',
          to: '2026-11-04T05:00:00.000Z',
          truncated: false,
          dates: [
            date('01', 'succeeded', 'run-a'),
            date('02', 'failed', 'run-b'),
            date('03', 'missing', null),
            date('04', 'running', 'run-c'),
          ],
        }),
    });
    renderApp('/schedules/sch_1', fetch);
    const strip = await screen.findByRole('list', { name: /Logical dates/ }, { timeout: 5000 });
    const cells = within(strip).getAllByRole('listitem');
    expect(cells.map((c) => c.className)).toEqual([
      'date-cell state-succeeded',
      'date-cell state-failed',
      'date-cell state-missing',
      'date-cell state-running',
    ]);
    const failed = within(cells[1] as HTMLElement).getByRole('link');
    expect(failed.getAttribute('href')).toBe('/runs/run-b');
    expect(failed.getAttribute('aria-label')).toMatch(/failed at 0123456 \(cell_error\)/);
    expect(within(cells[2] as HTMLElement).queryByRole('link')).toBeNull();
    const upcoming = screen.getByRole('region', { name: 'Upcoming ticks' });
    expect(within(upcoming).getAllByRole('listitem')).toHaveLength(2);
  }, 30_000);
});
