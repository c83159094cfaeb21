/**
 * One run, live: `GET /v1/runs/:id`, then its event stream (`GET /v1/runs/:id/events`, which
 * replays every stored event first): the run object as it changes, status events for the
 * timeline, and log lines (the newest `LOG_CAP` kept). A finished run whose log was stored as a
 * file instead of events gets it from `GET /v1/runs/:id/logs`.
 */
import type { Run, RunStatus } from '@nes/client';
import { useEffect, useState } from 'react';
import { useApi } from './api.tsx';
import { type StreamState, subscribe } from './lib/event-stream.ts';
import { isRun, newerRun } from './lib/run-list.ts';
import type { StatusEvent } from './lib/timeline.ts';

const LOG_CAP = 2000;

export interface LogLine {
  n: number;
  text: string;
  stream: string;
  time?: string;
}

export interface LiveRun {
  run: Run | undefined;
  error: unknown;
  statusEvents: StatusEvent[];
  logs: LogLine[];
  /** Lines dropped from the front to keep the cap. */
  logsDropped: number;
  stream: StreamState;
  /** Bumped on every progress or status change: when to re-read the notebook. */
  progressTick: number;
  /** Who asked to cancel the run, and when (its `cancel_requested` event). */
  cancelRequest: { by: string | null; time: string | null } | null;
  replace(run: Run): void;
}

export function useRun(id: string): LiveRun {
  const { client, openEvents } = useApi();
  const [run, setRun] = useState<Run | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [statusEvents, setStatusEvents] = useState<StatusEvent[]>([]);
  const [cancelRequest, setCancelRequest] = useState<LiveRun['cancelRequest']>(null);
  const [logs, setLogs] = useState<{ lines: LogLine[]; dropped: number; next: number }>({
    lines: [],
    dropped: 0,
    next: 1,
  });
  const [stream, setStream] = useState<StreamState>('connecting');
  const [progressTick, setProgressTick] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setRun(undefined);
    setError(null);
    setStatusEvents([]);
    setLogs({ lines: [], dropped: 0, next: 1 });
    let sawLog = false;
    let unsubscribe = () => {};
    const merge = (incoming: Run) =>
      setRun((current) => (current ? newerRun(current, incoming) : incoming));
    const appendLogs = (entries: Array<Omit<LogLine, 'n'>>) =>
      setLogs((state) => {
        let next = state.next;
        const lines = [...state.lines, ...entries.map((e) => ({ ...e, n: next++ }))];
        const over = Math.max(0, lines.length - LOG_CAP);
        return { lines: over ? lines.slice(over) : lines, dropped: state.dropped + over, next };
      });
    const storedLog = async () => {
      if (sawLog) return;
      try {
        let text = '';
        for await (const chunk of client.logs(id, { signal: controller.signal })) text += chunk;
        if (!sawLog && text)
          appendLogs(splitLines(text).map((line) => ({ text: line, stream: 'log' })));
      } catch {
        // the log is optional; the page shows what it has
      }
    };
    client.getRun(id, { signal: controller.signal }).then(
      (first) => {
        if (controller.signal.aborted) return;
        merge(first);
        unsubscribe = subscribe(openEvents, `/v1/runs/${encodeURIComponent(id)}/events`, {
          events: ['run', 'status', 'progress', 'log', 'cancel_requested'],
          endEvent: 'end',
          resumeUrl: (last) =>
            `/v1/runs/${encodeURIComponent(id)}/events?lastEventId=${encodeURIComponent(last)}`,
          onState: (state) => {
            setStream(state);
            if (state === 'closed') {
              setProgressTick((t) => t + 1);
              void storedLog();
            }
          },
          onEvent: (name, data) => {
            if (typeof data !== 'object' || data === null) return;
            const d = data as Record<string, unknown>;
            switch (name) {
              case 'run':
                if (isRun(d)) merge(d);
                return;
              case 'cancel_requested':
                setCancelRequest(
                  (current) =>
                    current ?? {
                      by: typeof d.by === 'string' ? d.by : null,
                      time: typeof d.time === 'string' ? d.time : null,
                    },
                );
                return;
              case 'status': {
                const status = d.status as RunStatus;
                if (typeof status !== 'string') return;
                setStatusEvents((events) => [
                  ...events,
                  { status, ...(typeof d.time === 'string' ? { time: d.time } : {}) },
                ]);
                if (isRun(d.run)) merge(d.run);
                else
                  setRun((current) =>
                    current ? newerRun(current, { ...current, status }) : current,
                  );
                setProgressTick((t) => t + 1);
                return;
              }
              case 'progress':
                setRun((current) =>
                  current && typeof d.cellsDone === 'number'
                    ? newerRun(current, {
                        ...current,
                        progress: {
                          cellsDone: d.cellsDone,
                          cellsTotal:
                            typeof d.cellsTotal === 'number'
                              ? d.cellsTotal
                              : current.progress.cellsTotal,
                          currentCell: typeof d.currentCell === 'number' ? d.currentCell : null,
                        },
                      })
                    : current,
                );
                setProgressTick((t) => t + 1);
                return;
              case 'log':
                sawLog = true;
                appendLogs(
                  splitLines(String(d.text ?? '')).map((text) => ({
                    text,
                    stream: typeof d.stream === 'string' ? d.stream : 'stdout',
                    ...(typeof d.time === 'string' ? { time: d.time } : {}),
                  })),
                );
                return;
            }
          },
        });
      },
      (err: unknown) => {
        if (!controller.signal.aborted) setError(err);
      },
    );
    return () => {
      controller.abort();
      unsubscribe();
    };
  }, [client, openEvents, id]);

  return {
    run,
    error,
    statusEvents,
    logs: logs.lines,
    logsDropped: logs.dropped,
    stream,
    progressTick,
    cancelRequest,
    replace: (next) => setRun((current) => (current ? newerRun(current, next) : next)),
  };
}

/** Log text into lines; a trailing newline does not make an empty line. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
