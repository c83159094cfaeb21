/** A live run's notebook is re-read on progress, never more than once a second, never twice at once. */
import { act, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiProvider } from '../../src/app/api.tsx';
import { useNotebook } from '../../src/app/use-notebook.ts';
import { codeCell, fakeFetch, json, notebookOf, testApi } from './fixtures.ts';

function Probe(props: { tick: number; onCells(n: number | undefined): void }) {
  const nb = useNotebook('/v1/runs/x/notebook', props.tick);
  props.onCells(nb.notebook?.cells.length);
  return null;
}

/** Lets timers due now run, and the promises they start settle. */
async function advance(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

describe('live notebook reads', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('coalesces progress ticks into one read per second', async () => {
    let reads = 0;
    const { fetch } = fakeFetch({
      'GET /v1/runs/x/notebook': () => {
        reads += 1;
        return json(
          notebookOf(Array.from({ length: reads }, (_, i) => codeCell(`c${i}`, `x = ${i}`))),
        );
      },
    });
    const api = testApi(fetch);
    const seen: Array<number | undefined> = [];
    const view = (tick: number) => (
      <ApiProvider api={api}>
        <Probe tick={tick} onCells={(n) => seen.push(n)} />
      </ApiProvider>
    );
    const { rerender } = render(view(0));
    await advance(0);
    expect(reads).toBe(1);
    expect(seen.at(-1)).toBe(1);
    // five progress events within the second: one more read, when the second is up
    for (let tick = 1; tick <= 5; tick++) {
      rerender(view(tick));
      await advance(100);
    }
    expect(reads).toBe(1);
    await advance(500);
    expect(reads).toBe(2);
    expect(seen.at(-1)).toBe(2);
    // quiet: no more reads
    await advance(5000);
    expect(reads).toBe(2);
  });

  it('keeps the notebook it has when a re-read fails', async () => {
    let reads = 0;
    const { fetch } = fakeFetch({
      'GET /v1/runs/x/notebook': () => {
        reads += 1;
        return reads === 1
          ? json(notebookOf([codeCell('a', '1')]))
          : json({ error: { code: 'internal', message: 'store unavailable' } }, 503);
      },
    });
    const api = testApi(fetch);
    const seen: Array<number | undefined> = [];
    const view = (tick: number) => (
      <ApiProvider api={api}>
        <Probe tick={tick} onCells={(n) => seen.push(n)} />
      </ApiProvider>
    );
    const { rerender } = render(view(0));
    await advance(0);
    rerender(view(1));
    await advance(1500);
    expect(reads).toBe(2);
    expect(seen.at(-1)).toBe(1);
  });
});
