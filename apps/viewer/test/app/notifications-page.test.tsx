/**
 * The notifications page and the header's Notifications link: admins only; create a subscription
 * (the webhook secret shown once), the delivery log with status codes and each attempt, redeliver,
 * delete after a confirmation; a bad label selector is refused before anything is sent.
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiError, FakeEventSource, fakeFetch, json, READ_TOKEN } from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => FakeEventSource.reset());

const ADMIN = { ...READ_TOKEN, id: 'tok_admin', name: 'admin', scopes: ['admin'], service: true };
const nav = () => screen.getByRole('navigation', { name: 'Main' });

const SUBSCRIPTION = {
  id: 'sub_1',
  name: 'etl failures',
  events: ['failed', 'timed_out'],
  notebook: null,
  labels: { team: 'data' },
  sweepId: null,
  scheduleId: null,
  target: { kind: 'webhook', url: 'https://hooks.example.com/nes' },
  enabled: true,
  createdAt: '2026-12-01T10:00:00.000Z',
};

const FAILED_DELIVERY = {
  id: '7',
  eventId: 'run-r_abc-failed',
  eventType: 'failed',
  subscriptionId: 'sub_1',
  runId: 'r_abc',
  status: 'failed',
  attempts: 2,
  nextAttemptAt: null,
  createdAt: '2026-12-01T11:00:00.000Z',
  deliveredAt: null,
  lastStatus: 503,
  lastError: null,
};

describe('notifications', () => {
  it('the header links to the notifications page for admins only', async () => {
    const admin = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/runs': () => json({ runs: [], nextCursor: null }),
    });
    const view = renderApp('/', admin.fetch);
    expect(
      await within(nav()).findByRole('link', { name: 'Notifications' }, { timeout: 15_000 }),
    ).toBeTruthy();
    view.unmount();
    const reader = fakeFetch({ 'GET /v1/runs': () => json({ runs: [], nextCursor: null }) });
    renderApp('/', reader.fetch);
    await screen.findByText(/No runs/i);
    expect(within(nav()).queryByRole('link', { name: 'Notifications' })).toBeNull();
  });

  it('creates a webhook subscription and shows its secret once', async () => {
    let subscriptions: unknown[] = [];
    const { fetch, requests } = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/notifications/subscriptions': () => json({ subscriptions }),
      'GET /v1/notifications/deliveries': () => json({ deliveries: [] }),
      'POST /v1/notifications/subscriptions': (request) => {
        const created = { ...SUBSCRIPTION, ...(request.body as object) };
        subscriptions = [created];
        return json({ subscription: created, secret: 'whsec_the-new-secret' }, 201);
      },
    });
    renderApp('/notifications', fetch);
    // The page is loaded on first visit (a lazy chunk): slow on a loaded machine.
    await screen.findByText('No subscriptions yet.', undefined, { timeout: 15_000 });
    const form = screen.getByRole('form', { name: 'New subscription' });
    fireEvent.click(within(form).getByRole('button', { name: 'Create subscription' }));
    expect((await within(form).findByRole('alert')).textContent).toMatch(/name/);
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'etl failures' } });
    fireEvent.change(within(form).getByLabelText('URL'), {
      target: { value: 'https://hooks.example.com/nes' },
    });
    fireEvent.change(within(form).getByLabelText(/labels/), { target: { value: 'team' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Create subscription' }));
    expect((await within(form).findByRole('alert')).textContent).toMatch(/"team" needs a value/);
    expect(requests.some((r) => r.method === 'POST')).toBe(false);

    fireEvent.change(within(form).getByLabelText(/labels/), { target: { value: 'team=data' } });
    fireEvent.change(within(form).getByLabelText(/schedule/), { target: { value: 'sch_daily' } });
    fireEvent.click(within(form).getByRole('checkbox', { name: 'succeeded' }));
    fireEvent.click(within(form).getByRole('checkbox', { name: 'timed out' }));
    fireEvent.click(within(form).getByRole('button', { name: 'Create subscription' }));
    const secret = (await screen.findByRole('textbox', { name: 'Secret' })) as HTMLInputElement;
    expect(secret.value).toBe('whsec_the-new-secret');
    expect(screen.getByText('it is shown this once')).toBeTruthy();
    const sent = requests.find((r) => r.method === 'POST')?.body;
    expect(sent).toEqual({
      name: 'etl failures',
      events: ['failed', 'succeeded'],
      target: { kind: 'webhook', url: 'https://hooks.example.com/nes' },
      labels: { team: 'data' },
      scheduleId: 'sch_daily',
    });
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('textbox', { name: 'Secret' })).toBeNull());
    expect(document.body.textContent).not.toContain('whsec_the-new-secret');
    const row = await screen.findByRole('row', { name: 'Subscription etl failures' });
    expect(row.textContent).toContain('team=data');
    expect(row.textContent).toContain('schedule sch_daily');
    expect(row.textContent).toContain('https://hooks.example.com/nes');
  });

  it('the delivery log shows status codes and attempts; redeliver; delete after a confirmation', async () => {
    let delivery: Record<string, unknown> = FAILED_DELIVERY;
    let subscriptions = [SUBSCRIPTION];
    const { fetch, requests } = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/notifications/subscriptions': () => json({ subscriptions }),
      'GET /v1/notifications/deliveries': () => json({ deliveries: [delivery] }),
      'GET /v1/notifications/deliveries/7': () =>
        json({
          ...delivery,
          log: [
            {
              attempt: 1,
              time: '2026-12-01T11:00:01Z',
              statusCode: 503,
              error: null,
              durationMs: 12,
            },
            {
              attempt: 2,
              time: '2026-12-01T11:00:05Z',
              statusCode: null,
              error: 'connect ECONNREFUSED',
              durationMs: 3,
            },
          ],
        }),
      'POST /v1/notifications/deliveries/7/redeliver': () => {
        delivery = { ...FAILED_DELIVERY, status: 'delivered', attempts: 3, lastStatus: 200 };
        return json(delivery);
      },
      'DELETE /v1/notifications/subscriptions/sub_1': () => {
        subscriptions = [];
        return new Response(null, { status: 204 });
      },
    });
    renderApp('/notifications', fetch);
    const log = await screen.findByRole('table', { name: 'Deliveries' }, { timeout: 15_000 });
    const row = await within(log).findByRole('row', { name: 'Delivery 7' });
    expect(row.textContent).toContain('503');
    expect(row.textContent).toContain('run-r_abc-failed');
    expect(within(row).getByRole('link').getAttribute('href')).toBe('/runs/r_abc');
    fireEvent.click(within(row).getByRole('button', { name: 'Attempts' }));
    const attempts = await screen.findByRole('table', { name: 'Attempts of delivery 7' });
    expect(attempts.textContent).toContain('503');
    expect(attempts.textContent).toContain('no answer');
    expect(attempts.textContent).toContain('connect ECONNREFUSED');

    fireEvent.click(within(row).getByRole('button', { name: 'Redeliver' }));
    await waitFor(() =>
      expect(screen.getByRole('row', { name: 'Delivery 7' }).textContent).toContain('delivered'),
    );
    expect(screen.getByRole('row', { name: 'Delivery 7' }).textContent).toContain('200');
    expect(
      requests.filter((r) => r.path === '/v1/notifications/deliveries/7/redeliver'),
    ).toHaveLength(1);

    // The log narrows to one subscription.
    const sub = screen.getByRole('row', { name: 'Subscription etl failures' });
    fireEvent.click(within(sub).getByRole('button', { name: 'Deliveries' }));
    await waitFor(() =>
      expect(
        requests.some((r) => r.path === '/v1/notifications/deliveries?subscriptionId=sub_1'),
      ).toBe(true),
    );
    fireEvent.click(within(sub).getByRole('button', { name: 'Delete' }));
    fireEvent.click(within(sub).getByRole('button', { name: 'Yes, delete etl failures' }));
    await screen.findByText('No subscriptions yet.');
    expect(
      requests.some(
        (r) => r.method === 'DELETE' && r.path === '/v1/notifications/subscriptions/sub_1',
      ),
    ).toBe(true);
  });

  it('a refused target is shown where it was typed, and without the admin scope the page says what is missing', async () => {
    const admin = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/notifications/subscriptions': () => json({ subscriptions: [] }),
      'GET /v1/notifications/deliveries': () => json({ deliveries: [] }),
      'POST /v1/notifications/subscriptions': () =>
        apiError(422, 'invalid_target', 'target.url: 169.254.169.254 is a link-local address'),
    });
    const view = renderApp('/notifications', admin.fetch);
    const form = await screen.findByRole('form', { name: 'New subscription' }, { timeout: 15_000 });
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'x' } });
    fireEvent.change(within(form).getByLabelText('URL'), {
      target: { value: 'http://169.254.169.254/' },
    });
    fireEvent.click(within(form).getByRole('button', { name: 'Create subscription' }));
    expect((await within(form).findByRole('alert')).textContent).toMatch(/link-local/);
    expect(screen.queryByRole('textbox', { name: 'Secret' })).toBeNull();
    view.unmount();

    const { fetch } = fakeFetch({
      'GET /v1/notifications/subscriptions': () =>
        apiError(403, 'forbidden', 'this token lacks the "admin" scope'),
    });
    renderApp('/notifications', fetch);
    expect(
      await screen.findByText(/lacks the "admin" scope/, undefined, { timeout: 15_000 }),
    ).toBeTruthy();
  });
});
