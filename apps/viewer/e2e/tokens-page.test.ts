/**
 * The tokens page in a real Chromium against the real service: an admin creates a token (its
 * secret shown once, and it works against the API), sees it listed without the secret, and
 * revokes it (the API refuses it at once). A session signed in with a read-only token has no
 * Tokens link and is refused the page; revoking that token ends the session on its next request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type Harness, startHarness } from './harness.ts';

let harness: Harness;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  harness = await startHarness({});
  page = await harness.page();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});
after(() => harness?.close());

async function withBearer(secret: string, path: string): Promise<number> {
  const res = await fetch(`${harness.service.url}${path}`, {
    headers: { authorization: `Bearer ${secret}` },
  });
  return res.status;
}

describe('tokens page', () => {
  test('an admin creates a token, sees its secret once, and revokes it', async () => {
    await page.goto(harness.signInUrl('/'));
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Tokens' })
      .click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    // The service's own admin token is listed, without its secret.
    await page.getByText('(service admin token)').waitFor();
    assert.ok(!(await page.content()).includes(harness.service.adminToken));

    const form = page.getByRole('form', { name: 'New token' });
    await form.getByLabel('Name').fill('ci pipeline');
    await form.getByRole('checkbox', { name: /submit/ }).check();
    await form.getByLabel('Expires').selectOption({ label: '30 days' });
    await form.getByRole('button', { name: 'Create token' }).click();
    const secretField = page.getByRole('textbox', { name: 'Secret' });
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    assert.match(secret, /^nes_[\w-]{40,}$/);
    await page.getByText('it is shown this once').waitFor();
    await harness.screenshot(page, 'tokens-created');

    // The secret works, with the scopes and expiry chosen.
    const me = await fetch(`${harness.service.url}/v1/whoami`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    const token = (await me.json()) as {
      id: string;
      name: string;
      scopes: string[];
      expiresAt: string;
    };
    assert.equal(token.name, 'ci pipeline');
    assert.deepEqual(token.scopes.sort(), ['read', 'submit']);
    const days = (Date.parse(token.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    // Once dismissed, the secret is gone from the page for good.
    await page.getByRole('button', { name: 'Done' }).click();
    const row = page.getByRole('row', { name: 'Token ci pipeline' });
    await row.getByText('active').waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is still on the page');
    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(secret));

    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Yes, revoke ci pipeline' }).click();
    await row.getByText('revoked').waitFor();
    await harness.screenshot(page, 'tokens-revoked');
    assert.equal(await withBearer(secret, '/v1/runs'), 401);
    assert.deepEqual(pageErrors, []);
  });

  test('a read-only session has no Tokens link, is refused the page, and ends with its token', async () => {
    const { status, body } = await harness.api<{ id: string; secret: string }>(
      'POST',
      '/v1/tokens',
      { name: 'dashboard', scopes: ['read'] },
    );
    assert.equal(status, 201);
    await page.goto(`${harness.service.url}/?token=${encodeURIComponent(body.secret)}`);
    await page.getByRole('link', { name: 'Runs' }).waitFor();
    // The header learns the scopes from the API; the runs page has loaded by then.
    await page.waitForLoadState('networkidle');
    assert.equal(
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Tokens' })
        .count(),
      0,
    );
    await page.goto(`${harness.service.url}/tokens`);
    await page.getByText(/lacks the "admin" scope/).waitFor();

    // Revoked by an admin: the very next request of this session is refused.
    assert.equal((await harness.api('POST', `/v1/tokens/${body.id}/revoke`)).status, 200);
    await page.goto(`${harness.service.url}/`);
    await page.getByRole('heading', { name: 'Sign in to NES' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
