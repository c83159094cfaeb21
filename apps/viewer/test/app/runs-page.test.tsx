/** The runs list: first page, live merge of events, filters, sweeps, compare selection, new run. */
import type { Run } from '@nes/client';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiError, FakeEventSource, fakeFetch, json, makeRun } from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => FakeEventSource.reset());

function listing(runs: Run[], nextCursor: string | null = null) {
  return () => json({ runs, nextCursor });
}

describe('runs page', () => {
  it('lists runs with status, notebook, ref, parameters and labels', async () => {
    const run = makeRun({
      id: '01JDX7Q3ZK8M2V4N6P8R0T2W4Y',
      status: 'failed',
      labels: { team: 'data' },
    });
    const { fetch, requests } = fakeFetch({ 'GET /v1/runs': listing([run]) });
    renderApp('/', fetch);
    // The link names the run by its id's tail: the head of a ULID is its creation time.
    const row = (await screen.findByRole('link', { name: 'daily.ipynb, run 8R0T2W4Y' })).closest(
      'tr',
    ) as HTMLElement;
    expect(within(row).getByText('8R0T2W4Y').getAttribute('title')).toBe(
      '01JDX7Q3ZK8M2V4N6P8R0T2W4Y',
    );
    expect(within(row).getByText('Failed')).toBeTruthy();
    expect(within(row).getAllByText('@0123456').length).toBeGreaterThan(0);
    // the columns, and the line they fold into on narrow screens
    expect(within(row).getAllByText('name="NES" count=3').length).toBeGreaterThan(0);
    expect(within(row).getAllByText('team').length).toBeGreaterThan(0);
    expect(screen.getByRole('link', { name: /^daily\.ipynb, run / }).getAttribute('href')).toBe(
      '/runs/01JDX7Q3ZK8M2V4N6P8R0T2W4Y',
    );
    expect(requests[0]?.path).toBe('/v1/runs?limit=50');
    expect(FakeEventSource.last('/v1/events').url).toBe('/v1/events');
  });

  it('merges run events from /v1/events: new runs appear and known runs update', async () => {
    const run = makeRun({
      id: 'r-running',
      status: 'running',
      finishedAt: null,
      progress: { cellsDone: 1, cellsTotal: 4, currentCell: 2 },
    });
    const { fetch } = fakeFetch({ 'GET /v1/runs': listing([run]) });
    renderApp('/', fetch);
    await screen.findByText('1/4');
    const es = FakeEventSource.last('/v1/events');
    es.open();
    es.emit('run', { ...run, progress: { cellsDone: 3, cellsTotal: 4, currentCell: 3 } });
    es.emit(
      'run',
      makeRun({
        id: 'r-new',
        notebook: 'github://acme/x/new.ipynb',
        status: 'queued',
        createdAt: '2026-11-22T12:00:00Z',
      }),
    );
    await screen.findByText('3/4');
    await screen.findByRole('link', { name: /^new\.ipynb, run / });
    const links = screen.getAllByRole('link', { name: /\.ipynb, run / }).map((a) => a.textContent);
    expect(links).toEqual(['new.ipynb, run r-new', 'daily.ipynb, run -running']);
    es.emit('run', { ...run, status: 'succeeded', finishedAt: '2026-11-22T10:00:09Z' });
    await waitFor(() => expect(screen.queryByText('3/4')).toBeNull());
    const row = screen
      .getByRole('link', { name: /^daily\.ipynb, run / })
      .closest('tr') as HTMLElement;
    expect(within(row).getByText('Succeeded')).toBeTruthy();
  });

  it('re-reads the first page after the event stream reconnects', async () => {
    let calls = 0;
    const late = makeRun({
      id: 'r-late',
      notebook: 'github://acme/x/late.ipynb',
      createdAt: '2026-11-22T13:00:00Z',
    });
    const { fetch } = fakeFetch({
      'GET /v1/runs': () => {
        calls += 1;
        return json({
          runs: calls === 1 ? [makeRun({ id: 'r-first' })] : [late],
          nextCursor: null,
        });
      },
    });
    renderApp('/', fetch);
    await screen.findByRole('link', { name: /^daily\.ipynb, run / });
    const es = FakeEventSource.last('/v1/events');
    es.open();
    es.drop();
    es.open();
    await screen.findByRole('link', { name: /^late\.ipynb, run / });
    expect(calls).toBe(2);
  });

  it('sends status and label filters to the API and keeps them in the URL', async () => {
    const { fetch, requests } = fakeFetch({ 'GET /v1/runs': listing([]) });
    const { location } = renderApp('/', fetch);
    await screen.findByText(/No runs yet/);
    fireEvent.click(screen.getByRole('button', { name: 'Failed' }));
    await waitFor(() => expect(requests.at(-1)?.path).toBe('/v1/runs?status=failed&limit=50'));
    fireEvent.change(screen.getByRole('textbox', { name: 'Filter by label' }), {
      target: { value: 'team=data' },
    });
    await waitFor(() =>
      expect(requests.at(-1)?.path).toBe('/v1/runs?status=failed&label=team%3Ddata&limit=50'),
    );
    expect(location.history.at(-1)).toContain('status=failed');
    expect(FakeEventSource.last('/v1/events').url).toBe('/v1/events?label=team%3Ddata');
    await screen.findByText('No runs match these filters.');
  });

  it('filters by search text without asking the API again', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': listing([
        makeRun({ id: 'r-eu', parameters: { region: 'eu' } }),
        makeRun({ id: 'r-us', notebook: 'github://a/b/us.ipynb', parameters: { region: 'us' } }),
      ]),
    });
    renderApp('/', fetch);
    await screen.findByRole('link', { name: /^us\.ipynb, run / });
    fireEvent.change(screen.getByRole('searchbox', { name: 'Search runs' }), {
      target: { value: '"eu"' },
    });
    await waitFor(() =>
      expect(screen.queryByRole('link', { name: /^us\.ipynb, run / })).toBeNull(),
    );
    expect(screen.getByRole('link', { name: /^daily\.ipynb, run / })).toBeTruthy();
    expect(requests).toHaveLength(1);
  });

  it('folds a sweep into one row with counts, and expands it', async () => {
    const runs = [
      makeRun({
        id: 's-1',
        sweepId: 'sweep-1234abcd',
        status: 'succeeded',
        notebook: 'github://a/b/sweep.ipynb',
      }),
      makeRun({
        id: 's-2',
        sweepId: 'sweep-1234abcd',
        status: 'failed',
        notebook: 'github://a/b/sweep.ipynb',
      }),
      makeRun({
        id: 's-3',
        sweepId: 'sweep-1234abcd',
        status: 'succeeded',
        notebook: 'github://a/b/sweep.ipynb',
      }),
    ];
    const { fetch } = fakeFetch({ 'GET /v1/runs': listing(runs) });
    renderApp('/', fetch);
    const toggle = await screen.findByRole('button', { name: /Sweep 1234abcd/ });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(screen.queryByRole('link', { name: /^sweep\.ipynb, run / })).toBeNull();
    const row = toggle.closest('tr') as HTMLElement;
    expect(row.textContent).toContain('3 runs');
    expect(within(row).getByTitle('Succeeded').textContent).toContain('2');
    expect(within(row).getByTitle('Failed').textContent).toContain('1');
    fireEvent.click(toggle);
    expect(screen.getAllByRole('link', { name: /^sweep\.ipynb, run / })).toHaveLength(3);
  });

  it('compares two selected runs', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': listing([makeRun({ id: 'left' }), makeRun({ id: 'right' })]),
    });
    const { location } = renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('checkbox', { name: 'Select run left' }));
    expect(screen.queryByRole('button', { name: 'Compare selected' })).toBeNull();
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select run right' }));
    fireEvent.click(screen.getByRole('button', { name: 'Compare selected' }));
    expect(location.history.at(-1)).toBe('/compare?a=left&b=right');
  });

  it('cancels the selected active runs after a confirmation, and reruns several', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': listing([
        makeRun({ id: 'busy', status: 'running' }),
        makeRun({ id: 'done', status: 'succeeded' }),
      ]),
      'POST /v1/runs/busy/cancel': () => json(makeRun({ id: 'busy', status: 'cancelled' })),
      'POST /v1/runs/busy/rerun': () => json(makeRun({ id: 'busy-2' }), 201),
      'POST /v1/runs/done/rerun': () => json(makeRun({ id: 'done-2' }), 201),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('checkbox', { name: 'Select run busy' }));
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select run done' }));
    const bar = screen.getByRole('toolbar', { name: 'Selected runs' });
    fireEvent.click(within(bar).getByRole('button', { name: 'Cancel 1 active' }));
    // Nothing happens before the confirmation, and its safe answer has the focus.
    expect(requests.some((r) => r.method === 'POST')).toBe(false);
    expect(document.activeElement?.textContent).toBe('No');
    fireEvent.click(within(bar).getByRole('button', { name: 'Yes, cancel 1 active' }));
    await within(bar).findByText('Cancelled 1 of 1');
    fireEvent.click(within(bar).getByRole('button', { name: 'Rerun 2' }));
    fireEvent.click(within(bar).getByRole('button', { name: 'Yes, rerun 2' }));
    await within(bar).findByText('Started 2 of 2');
    expect(
      requests
        .filter((r) => r.method === 'POST')
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/v1/runs/busy/cancel', '/v1/runs/busy/rerun', '/v1/runs/done/rerun']);
  });

  it("reruns only a sweep's failed runs", async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': listing([
        makeRun({ id: 's1', status: 'failed', sweepId: 'sw' }),
        makeRun({ id: 's2', status: 'succeeded', sweepId: 'sw' }),
        makeRun({ id: 's3', status: 'timed_out', sweepId: 'sw' }),
      ]),
      'POST /v1/runs/s1/rerun': () => json(makeRun({ id: 's1b' }), 201),
      'POST /v1/runs/s3/rerun': () => json(makeRun({ id: 's3b' }), 201),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'Rerun the 2 failed' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, rerun the 2 failed' }));
    await screen.findByText('Started 2 of 2');
    expect(
      requests
        .filter((r) => r.method === 'POST')
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/v1/runs/s1/rerun', '/v1/runs/s3/rerun']);
  });

  it('keyboard: / searches, j and k move between runs, Enter opens one', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': listing([makeRun({ id: 'first' }), makeRun({ id: 'second' })]),
    });
    const { location } = renderApp('/', fetch);
    await screen.findByRole('checkbox', { name: 'Select run first' });
    fireEvent.keyDown(window, { key: '/' });
    expect(document.activeElement).toBe(screen.getByRole('searchbox', { name: 'Search runs' }));
    // typed into the search box, j is a letter, not a shortcut
    fireEvent.keyDown(document.activeElement as Element, { key: 'j' });
    expect(document.querySelector('tr.current')).toBeNull();
    (document.activeElement as HTMLElement).blur();
    const order = [...document.querySelectorAll('tr.run-row')].map((row) =>
      row.getAttribute('data-run-id'),
    );
    const currentRow = () => document.querySelector('tr.current')?.getAttribute('data-run-id');
    fireEvent.keyDown(window, { key: 'j' });
    fireEvent.keyDown(window, { key: 'j' });
    fireEvent.keyDown(window, { key: 'j' }); // stays on the last row
    await waitFor(() => expect(currentRow()).toBe(order[1]));
    fireEvent.keyDown(window, { key: 'k' });
    await waitFor(() => expect(currentRow()).toBe(order[0]));
    fireEvent.keyDown(window, { key: 'Enter' });
    expect(location.history.at(-1)).toBe(`/runs/${order[0]}`);
  });

  it('loads older runs with the cursor', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': (_r, url) =>
        url.searchParams.get('cursor') === 'c2'
          ? json({
              runs: [
                makeRun({
                  id: 'older',
                  notebook: 'github://a/b/older.ipynb',
                  createdAt: '2026-01-01T00:00:00Z',
                }),
              ],
              nextCursor: null,
            })
          : json({ runs: [makeRun({ id: 'newest' })], nextCursor: 'c2' }),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'Load older runs' }));
    await screen.findByRole('link', { name: /^older\.ipynb, run / });
    expect(requests.at(-1)?.path).toBe('/v1/runs?limit=50&cursor=c2');
    expect(screen.queryByRole('button', { name: 'Load older runs' })).toBeNull();
  });

  it('explains how to sign in on a 401', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': () => apiError(401, 'unauthorized', 'missing or invalid token'),
    });
    renderApp('/', fetch);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Sign in to NES');
    expect(alert.textContent).toContain('token URL the service printed');
    expect(screen.queryByRole('form', { name: 'Filter runs' })).toBeNull();
    // the event stream stops asking until the reader signs in
    expect(FakeEventSource.last('/v1/events').closed).toBe(true);
  });

  it("shows the API's error message and code", async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': () => apiError(400, 'invalid_query', 'status must be one of queued, …'),
    });
    renderApp('/', fetch);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('status must be one of queued, …');
    expect(alert.textContent).toContain('invalid_query');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeTruthy();
  });
});

describe('new run form', () => {
  const inspectResult = {
    notebook: 'github://acme/x/hello.ipynb',
    ref: 'main',
    commitSha: 'feedface00000000000000000000000000000000',
    kernel: 'python3',
    language: 'python',
    parameters: [
      { name: 'name', type: 'str', default: '"world"', help: 'Who to greet' },
      { name: 'count', type: 'int', default: '1', help: '' },
    ],
    warnings: [],
    schema: {
      type: 'object',
      properties: {
        name: { type: 'string', default: 'world', description: 'Who to greet' },
        count: { type: 'integer', default: 1 },
      },
      additionalProperties: false,
    },
  };

  const roots = () =>
    json({
      roots: [
        {
          root: '/srv/notebooks',
          truncated: false,
          notebooks: [
            {
              path: '/srv/notebooks/hello.ipynb',
              relative: 'hello.ipynb',
              size: 100,
              modifiedAt: '2026-11-22T10:00:00.000Z',
            },
            {
              path: '/srv/notebooks/team/other.ipynb',
              relative: 'team/other.ipynb',
              size: 100,
              modifiedAt: '2026-11-22T10:00:00.000Z',
            },
          ],
        },
      ],
    });

  it('picks a notebook from the folders, loads its parameters at once, checks fields as typed and opens the new run', async () => {
    const created = makeRun({ id: 'created-1', status: 'queued' });
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': listing([]),
      'GET /v1/notebook-roots': roots,
      'POST /v1/inspect': () => json(inspectResult),
      'POST /v1/runs': () => json(created, 201),
    });
    const { location } = renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'New run' }));
    const form = screen.getByRole('form', { name: 'New run' });
    // Nothing picked yet: the submit button says so instead of being silently greyed.
    expect(within(form).getByText('Pick a notebook first')).toBeTruthy();
    fireEvent.change(await within(form).findByRole('searchbox', { name: 'Filter notebooks' }), {
      target: { value: 'hel' },
    });
    expect(within(form).queryByRole('button', { name: 'team/other.ipynb' })).toBeNull();
    fireEvent.click(within(form).getByRole('button', { name: 'hello.ipynb' }));
    const count = await within(form).findByRole('textbox', { name: /count/ });
    expect((count as HTMLInputElement).value).toBe('1');
    expect((within(form).getByRole('textbox', { name: /name/ }) as HTMLInputElement).value).toBe(
      'world',
    );
    expect(form.textContent).toContain('Who to greet');
    expect(form.textContent).toContain('Runs on the python3 kernel (Python), at commit feedfac');
    expect(requests.find((r) => r.path === '/v1/inspect')?.body).toEqual({
      notebook: '/srv/notebooks/hello.ipynb',
    });
    fireEvent.change(count, { target: { value: 'many' } });
    // checked as typed, before any submit
    expect((await within(form).findByRole('alert')).textContent).toBe(
      'count must be a whole number',
    );
    expect(within(form).getByText('Fix the field marked in red')).toBeTruthy();
    fireEvent.click(within(form).getByRole('button', { name: 'Run notebook' }));
    expect(requests.some((r) => r.method === 'POST' && r.path === '/v1/runs')).toBe(false);
    fireEvent.change(count, { target: { value: '5' } });
    fireEvent.change(within(form).getByRole('textbox', { name: 'Labels' }), {
      target: { value: 'team=data' },
    });
    fireEvent.click(within(form).getByRole('button', { name: 'Run notebook' }));
    await waitFor(() => expect(location.history.at(-1)).toBe('/runs/created-1'));
    const submit = requests.find((r) => r.method === 'POST' && r.path === '/v1/runs');
    expect(submit?.body).toEqual({
      notebook: '/srv/notebooks/hello.ipynb',
      parameters: { count: 5 },
      labels: { team: 'data' },
    });
    expect(submit?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('builds a github:// notebook from a repository, path and ref', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': listing([]),
      'GET /v1/notebook-roots': roots,
      'POST /v1/inspect': () => json(inspectResult),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'New run' }));
    const form = screen.getByRole('form', { name: 'New run' });
    fireEvent.click(within(form).getByRole('tab', { name: 'GitHub' }));
    fireEvent.change(within(form).getByRole('textbox', { name: 'Repository' }), {
      target: { value: 'acme/x' },
    });
    fireEvent.change(
      within(form).getByRole('textbox', { name: 'Notebook path in the repository' }),
      {
        target: { value: 'hello.ipynb' },
      },
    );
    fireEvent.change(within(form).getByRole('textbox', { name: 'Branch, tag or commit' }), {
      target: { value: 'main' },
    });
    await within(form).findByRole('textbox', { name: /count/ }, { timeout: 3000 });
    expect(requests.filter((r) => r.path === '/v1/inspect').at(-1)?.body).toEqual({
      notebook: 'github://acme/x/hello.ipynb',
      ref: 'main',
    });
  });

  it("lands the API's 422 per-field errors on their fields", async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': listing([]),
      'GET /v1/notebook-roots': roots,
      'POST /v1/inspect': () => json(inspectResult),
      'POST /v1/runs': () =>
        apiError(422, 'invalid_parameters', 'parameter "name" must be shorter', [
          {
            field: 'parameters.name',
            code: 'invalid_value',
            message: 'parameter "name" must be shorter',
          },
        ]),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'New run' }));
    const form = screen.getByRole('form', { name: 'New run' });
    fireEvent.click(await within(form).findByRole('button', { name: 'hello.ipynb' }));
    const name = await within(form).findByRole('textbox', { name: /name/ });
    fireEvent.change(name, { target: { value: 'a very long name' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Run notebook' }));
    await waitFor(() =>
      expect(name.closest('.param-field')?.textContent).toContain(
        'parameter "name" must be shorter',
      ),
    );
    expect(name.getAttribute('aria-invalid')).toBe('true');
    // editing the field clears the server's complaint about it
    fireEvent.change(name, { target: { value: 'short' } });
    expect(name.closest('.param-field')?.textContent).not.toContain('must be shorter');
  });

  it("shows the API's refusal of a notebook", async () => {
    const { fetch } = fakeFetch({
      'GET /v1/runs': listing([]),
      'GET /v1/notebook-roots': roots,
      'POST /v1/inspect': () =>
        apiError(422, 'source_not_found', 'github://acme/x/missing.ipynb: no such file at main'),
    });
    renderApp('/', fetch);
    fireEvent.click(await screen.findByRole('button', { name: 'New run' }));
    const form = screen.getByRole('form', { name: 'New run' });
    fireEvent.click(within(form).getByRole('tab', { name: 'Path or URI' }));
    fireEvent.change(within(form).getByRole('textbox', { name: 'Notebook' }), {
      target: { value: 'github://acme/x/missing.ipynb' },
    });
    expect((await within(form).findByRole('alert', {}, { timeout: 3000 })).textContent).toContain(
      'no such file at main',
    );
    expect(within(form).getByText('The notebook could not be read (see above)')).toBeTruthy();
  });
});
