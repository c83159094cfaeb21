/**
 * A notebook fetched as text and parsed by the renderer. For a live run it is read again when
 * `tick` changes (progress, status), at most once per `minIntervalMs` and never two reads at
 * once: the output is autosaved about once a second, so reading faster only shows the same bytes.
 */
import { useEffect, useRef, useState } from 'react';
import { type NotebookJson, parseNotebook } from '../notebook/index.ts';
import { getText, useApi } from './api.tsx';

export interface LoadedNotebook {
  notebook: NotebookJson | undefined;
  error: unknown;
  loading: boolean;
}

interface State {
  path: string | null;
  notebook?: NotebookJson;
  error?: unknown;
  loading: boolean;
}

export function useNotebook(path: string | null, tick = 0, minIntervalMs = 1000): LoadedNotebook {
  const api = useApi();
  const [state, setState] = useState<State>({ path, loading: path !== null });
  const poke = useRef<() => void>(() => {});

  useEffect(() => {
    if (path === null) return;
    let stopped = false;
    let inFlight = false;
    let again = false;
    let last = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const controller = new AbortController();
    setState({ path, loading: true });
    const read = async () => {
      timer = null;
      inFlight = true;
      last = Date.now();
      try {
        const notebook = parseNotebook(await getText(api, path, controller.signal));
        if (!stopped) setState({ path, notebook, loading: false });
      } catch (error) {
        // A failed re-read keeps the notebook already shown.
        if (!stopped) setState((s) => (s.notebook ? s : { path, error, loading: false }));
      } finally {
        inFlight = false;
        if (again && !stopped) {
          again = false;
          schedule();
        }
      }
    };
    const schedule = () => {
      if (stopped || timer !== null) return;
      if (inFlight) {
        again = true;
        return;
      }
      timer = setTimeout(read, Math.max(0, last + minIntervalMs - Date.now()));
    };
    poke.current = schedule;
    schedule();
    return () => {
      stopped = true;
      controller.abort();
      if (timer !== null) clearTimeout(timer);
      poke.current = () => {};
    };
  }, [api, path, minIntervalMs]);

  // tick is the trigger to read again
  useEffect(() => {
    if (tick > 0) poke.current();
  }, [tick]);

  const current = state.path === path;
  return {
    notebook: current ? state.notebook : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : path !== null,
  };
}
