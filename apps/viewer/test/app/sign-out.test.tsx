/** Sign-out from the header: the cookie is cleared by the server, then a full page load of `/`. */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeEventSource, fakeFetch, json, navigations } from './fixtures.ts';
import { renderApp } from './render.tsx';

beforeEach(() => {
  FakeEventSource.reset();
  navigations.length = 0;
});

describe('sign-out', () => {
  it('posts /sign-out, then reloads the runs page', async () => {
    const { fetch, requests } = fakeFetch({
      'GET /v1/runs': () => json({ runs: [], nextCursor: null }),
      'POST /sign-out': () => new Response(null, { status: 204 }),
    });
    renderApp('/runs/abc', fetch);
    const button = screen.getByRole('button', { name: 'Sign out' });
    fireEvent.click(button);
    await waitFor(() => expect(navigations).toEqual(['/']));
    expect(requests.filter((r) => r.path === '/sign-out').map((r) => r.method)).toEqual(['POST']);
    expect((button as HTMLButtonElement).disabled).toBe(true);
  });

  it('reloads even when the service cannot be reached', async () => {
    const fetch = async () => {
      throw new TypeError('network down');
    };
    renderApp('/browse/', fetch);
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await waitFor(() => expect(navigations).toEqual(['/']));
  });
});
