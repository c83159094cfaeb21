/**
 * The notifications page in a real Chromium against the real service and a real webhook receiver
 * (signatures checked with the secret the page showed): an admin subscribes a webhook to failed
 * runs, a run fails, the receiver refuses until the outbox gives up, the delivery log shows the
 * receiver's status codes and each attempt, Redeliver sends the same event id again (now 200),
 * and Delete removes the subscription.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Receiver } from '../../../services/nes-api/test/notification-receiver.ts';
import { type Harness, notebookJson, startHarness, waitForStatus } from './harness.ts';

/** A loaded machine takes its time to run a kernel and retry deliveries: wait on what shows. */
const SLOW = { timeout: 120_000 };

let harness: Harness;
let page: Page;
const pageErrors: string[] = [];
const receiver = new Receiver();

before(async () => {
  await receiver.start();
  harness = await startHarness(
    { 'broken.ipynb': notebookJson(['raise ValueError("boom")']) },
    {
      env: {
        NES_NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
        NES_NOTIFY_BACKOFF_MS: '50',
        // Given up on after a second of refusals: the log then holds a failed delivery.
        NES_NOTIFY_RETRY_SECONDS: '1',
      },
    },
  );
  page = await harness.page();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});
after(async () => {
  await harness?.close();
  await receiver.down();
});

interface DeliveryBody {
  id: string;
  eventId: string;
  status: string;
  attempts: number;
}

async function deliveries(): Promise<DeliveryBody[]> {
  const { body } = await harness.api<{ deliveries: DeliveryBody[] }>(
    'GET',
    '/v1/notifications/deliveries',
  );
  return body.deliveries;
}

describe('notifications page', () => {
  test('subscribe with the secret shown once, see status codes in the log, redeliver, delete', async () => {
    receiver.status = 503;
    await page.goto(harness.signInUrl('/'));
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Notifications' })
      .click();
    await page.getByRole('heading', { name: 'Notifications' }).waitFor();
    await page.getByText('No subscriptions yet.').waitFor();

    const form = page.getByRole('form', { name: 'New subscription' });
    await form.getByLabel('Name').fill('broken runs');
    await form.getByLabel('URL').fill(`${receiver.url}/hook`);
    await form.getByRole('checkbox', { name: 'timed out' }).uncheck();
    await form.getByLabel(/labels/).fill('team=data');
    await form.getByRole('button', { name: 'Create subscription' }).click();
    const secretField = page.getByRole('textbox', { name: 'Secret' });
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    assert.match(secret, /^whsec_\w+/);
    await page.getByText('it is shown this once').waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
    const subscription = page.getByRole('row', { name: 'Subscription broken runs' });
    await subscription.getByText('team=data').waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is still on the page');
    receiver.secret = secret;

    // A failed run the subscription selects; the receiver refuses it until the outbox gives up.
    const { status, body } = await harness.api<{ id: string }>('POST', '/v1/runs', {
      notebook: harness.notebook('broken.ipynb'),
      labels: { team: 'data' },
    });
    assert.equal(status, 201);
    await waitForStatus(harness, body.id, ['failed'], 120_000);
    const giveUp = Date.now() + 120_000;
    let failed: DeliveryBody | undefined;
    while (!failed) {
      failed = (await deliveries()).find((d) => d.status === 'failed');
      assert.ok(Date.now() < giveUp, 'the delivery never failed');
      if (!failed) await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const log = page.getByRole('region', { name: 'Delivery log' });
    await log.getByRole('button', { name: 'Refresh' }).click();
    const row = log.getByRole('row', { name: `Delivery ${failed.id}` });
    // Columns: event, status, attempts, last answer (ids are random: never matched as text).
    const cell = (column: number, text: RegExp) =>
      row.locator('td').nth(column).filter({ hasText: text });
    await cell(3, /^503: /).waitFor(SLOW);
    await cell(1, /^failed$/).waitFor();
    await cell(0, new RegExp(`${failed.eventId}$`)).waitFor();
    await row.getByRole('button', { name: 'Attempts' }).click();
    const attempts = page.getByRole('table', { name: `Attempts of delivery ${failed.id}` });
    await attempts.waitFor();
    assert.equal(await attempts.getByRole('row').count(), failed.attempts + 1);
    await harness.screenshot(page, 'notifications-failed');

    receiver.status = 200;
    await row.getByRole('button', { name: 'Redeliver' }).click();
    // The log reads itself again while the delivery is pending, until it is delivered.
    await cell(1, /^delivered$/).waitFor(SLOW);
    await cell(3, /^200$/).waitFor();
    await harness.screenshot(page, 'notifications-redelivered');
    const about = receiver.received.filter((r) => r.eventId === failed.eventId);
    assert.equal(about.length, failed.attempts + 1, 'every attempt reached the receiver');
    assert.ok(about.every((r) => r.signed === true && r.path === '/hook'));
    assert.equal(about.at(-1)?.json.type, 'failed');

    await subscription.getByRole('button', { name: 'Delete' }).click();
    await subscription.getByRole('button', { name: 'Yes, delete broken runs' }).click();
    await page.getByText('No subscriptions yet.').waitFor();
    const left = await harness.api<{ subscriptions: unknown[] }>(
      'GET',
      '/v1/notifications/subscriptions',
    );
    assert.deepEqual(left.body.subscriptions, []);
    assert.deepEqual(pageErrors, []);
  });
});
