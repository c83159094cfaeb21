/** The tokens page and the header's Tokens link: shown to admins only; create, secret once, revoke. */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { apiError, FakeEventSource, fakeFetch, json, READ_TOKEN } from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => FakeEventSource.reset());

const ADMIN = { ...READ_TOKEN, id: 'tok_admin', name: 'admin', scopes: ['admin'], service: true };
const nav = () => screen.getByRole('navigation', { name: 'Main' });

describe('tokens', () => {
  it('the header links to the tokens page for admins only', async () => {
    const admin = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/runs': () => json({ runs: [], nextCursor: null }),
    });
    const view = renderApp('/', admin.fetch);
    expect(await within(nav()).findByRole('link', { name: 'Tokens' })).toBeTruthy();
    view.unmount();
    const reader = fakeFetch({ 'GET /v1/runs': () => json({ runs: [], nextCursor: null }) });
    renderApp('/', reader.fetch);
    await screen.findByText(/No runs/i);
    expect(within(nav()).queryByRole('link', { name: 'Tokens' })).toBeNull();
  });

  it('creates a token, shows its secret once, and revokes one after a confirmation', async () => {
    let tokens = [ADMIN];
    const { fetch, requests } = fakeFetch({
      'GET /v1/whoami': () => json(ADMIN),
      'GET /v1/tokens': () => json({ tokens }),
      'POST /v1/tokens': (request) => {
        const created = { ...READ_TOKEN, id: 'tok_new', ...(request.body as object) };
        tokens = [created, ...tokens];
        return json({ ...created, secret: 'nes_the-new-secret' }, 201);
      },
      'POST /v1/tokens/tok_new/revoke': () => {
        tokens = tokens.map((t) => (t.id === 'tok_new' ? { ...t, state: 'revoked' } : t));
        return json(tokens[0]);
      },
    });
    renderApp('/tokens', fetch);
    await screen.findByText('(service admin token)');
    const form = screen.getByRole('form', { name: 'New token' });
    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));
    expect(await within(form).findByRole('alert')).toBeTruthy(); // a name is needed
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'ci' } });
    fireEvent.click(within(form).getByRole('checkbox', { name: /submit/ }));
    fireEvent.change(within(form).getByLabelText('Expires'), { target: { value: '7' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Create token' }));
    const secret = (await screen.findByRole('textbox', { name: 'Secret' })) as HTMLInputElement;
    expect(secret.value).toBe('nes_the-new-secret');
    const sent = requests.find((r) => r.method === 'POST' && r.path === '/v1/tokens')?.body as {
      name: string;
      scopes: string[];
      expiresAt: string;
    };
    expect(sent.name).toBe('ci');
    expect(sent.scopes).toEqual(['read', 'submit']);
    expect(Math.round((Date.parse(sent.expiresAt) - Date.now()) / 86_400_000)).toBe(7);
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByRole('textbox', { name: 'Secret' })).toBeNull());
    expect(document.body.textContent).not.toContain('nes_the-new-secret');

    const row = await screen.findByRole('row', { name: 'Token ci' });
    fireEvent.click(within(row).getByRole('button', { name: 'Revoke' }));
    fireEvent.click(within(row).getByRole('button', { name: 'Yes, revoke ci' }));
    await within(row).findByText('revoked');
    expect(requests.some((r) => r.path === '/v1/tokens/tok_new/revoke')).toBe(true);
  });

  it('without the admin scope the page says what is missing', async () => {
    const { fetch } = fakeFetch({
      'GET /v1/tokens': () => apiError(403, 'forbidden', 'this token lacks the "admin" scope'),
    });
    renderApp('/tokens', fetch);
    expect(await screen.findByText(/lacks the "admin" scope/)).toBeTruthy();
  });
});
