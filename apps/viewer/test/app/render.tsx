/** Renders the whole app at a URL with a fake API; returns the location history for assertions. */
import type { FetchLike } from '@nes/client';
import { render } from '@testing-library/react';
import { memoryLocation } from 'wouter/memory-location';
import { App } from '../../src/app/App.tsx';
import { testApi } from './fixtures.ts';

export function renderApp(url: string, fetch: FetchLike) {
  const [path, search = ''] = url.split('?');
  const location = memoryLocation({ path: path ?? '/', searchPath: search, record: true });
  const view = render(
    <App api={testApi(fetch)} router={{ hook: location.hook, searchHook: location.searchHook }} />,
  );
  return { ...view, location };
}
