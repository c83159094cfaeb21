/**
 * The live runs list: the first page of `GET /v1/runs` (status and label filters applied by the
 * API), then `GET /v1/events` merged in. Events are applied in batches (at most a few renders a
 * second however busy the service is); after a reconnect the first page is read again, since
 * `/v1/events` does not replay what was missed.
 */
import { NesApiError, type Run, type RunStatus } from '@nes/client';
import { useCallback, useEffect, useState } from 'react';
import { useApi } from './api.tsx';
import { type StreamState, subscribe } from './lib/event-stream.ts';
import { isRun, mergeRuns, type RunFilter } from './lib/run-list.ts';

export interface RunList {
  runs: Run[];
  loading: boolean;
  error: unknown;
  nextCursor: string | null;
  loadingMore: boolean;
  loadMore(): void;
  reload(): void;
  stream: StreamState;
}

const PAGE = 50;
const FLUSH_MS = 250;

export function useRunList(filter: Pick<RunFilter, 'statuses' | 'labels'>): RunList {
  const { client, openEvents } = useApi();
  const [runs, setRuns] = useState<Run[]>([]);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>('connecting');
  const [generation, setGeneration] = useState(0);
  // The API filters by status and labels; notebook and search are applied as you type.
  const serverKey = JSON.stringify([filter.statuses, filter.labels]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation is bumped by reload() to start over
  useEffect(() => {
    const [statuses, labels] = JSON.parse(serverKey) as [RunStatus[], Record<string, string>];
    const serverFilter: RunFilter = { statuses, labels, notebook: '', search: '' };
    const controller = new AbortController();
    let pending: Run[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const batch = pending;
      pending = [];
      setRuns((list) => mergeRuns(list, batch, serverFilter));
    };
    const readFirstPage = async (replace: boolean) => {
      try {
        const page = await client.listRuns(
          { status: statuses, labels, limit: PAGE },
          { signal: controller.signal },
        );
        const fresh = page.runs.filter(isRun);
        setRuns((list) => mergeRuns(replace ? [] : list, fresh, serverFilter));
        if (replace) setNextCursor(page.nextCursor);
        setError(null);
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err);
        // Signed out: the stream would only be refused too, until the reader signs in again.
        if (err instanceof NesApiError && err.status === 401) unsubscribe();
      } finally {
        if (!controller.signal.aborted) setLoading(false);
      }
    };
    setLoading(true);
    setRuns([]);
    let unsubscribe = () => {};
    void readFirstPage(true);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(labels)) query.append('label', `${k}=${v}`);
    const url = `/v1/events${query.size ? `?${query}` : ''}`;
    unsubscribe = subscribe(openEvents, url, {
      events: ['run'],
      onEvent: (_name, data) => {
        if (!isRun(data)) return;
        pending.push(data);
        timer ??= setTimeout(flush, FLUSH_MS);
      },
      onOpen: (reconnected) => {
        if (reconnected) void readFirstPage(false);
      },
      onState: setStream,
    });
    return () => {
      controller.abort();
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    };
  }, [client, openEvents, serverKey, generation]);

  const loadMore = useCallback(() => {
    if (!nextCursor || loadingMore) return;
    const [statuses, labels] = JSON.parse(serverKey) as [RunStatus[], Record<string, string>];
    setLoadingMore(true);
    client
      .listRuns({ status: statuses, labels, limit: PAGE, cursor: nextCursor })
      .then(
        (page) => {
          setRuns((list) =>
            mergeRuns(list, page.runs.filter(isRun), {
              statuses,
              labels,
              notebook: '',
              search: '',
            }),
          );
          setNextCursor(page.nextCursor);
        },
        (err: unknown) => setError(err),
      )
      .finally(() => setLoadingMore(false));
  }, [client, nextCursor, loadingMore, serverKey]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  return { runs, loading, error, nextCursor, loadingMore, loadMore, reload, stream };
}
