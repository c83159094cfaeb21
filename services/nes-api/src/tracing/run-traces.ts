/**
 * One OpenTelemetry trace per run, exported over OTLP/HTTP when an endpoint is configured
 * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`).
 *
 * The trace is written when the run finishes, from what the service already records with
 * timestamps: the run's status events (submit, claim, launch, end) and the output notebook's
 * papermill metadata (when the notebook started executing and each cell's start and end). So it
 * needs nothing from the runner or the executor, and looks the same for local and Kubernetes
 * runs:
 *
 *   run (submitted -> finished)
 *   ├─ queued        submitted -> claimed (starting)
 *   ├─ launch        claimed -> the runner began (papermill's notebook start_time)
 *   ├─ kernel start  the runner began -> the first cell started
 *   ├─ cell N        each code cell that ran (author's numbering), with its status
 *   └─ save          the last cell ended -> the run finished (final save, records)
 */

import { type ObjectStore, RunArtifacts } from '@nes/stores';
import { context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { RunEventBus } from '../events-bus.ts';
import { type Run, TERMINAL_STATUSES } from '../runs/run-model.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { LogFields } from '../service-log.ts';

/** Output notebooks larger than this are not read for cell spans (the run's spans still go). */
const MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024;

export function tracesEndpoint(env: NodeJS.ProcessEnv): string | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : null;
}

export interface RunTraces {
  /** Exports what is buffered and stops. */
  close(): Promise<void>;
}

interface CellTiming {
  number: number;
  index: number;
  start: number;
  end: number;
  status: string;
}

/** papermill writes times without a zone ("2026-12-06T10:00:00.123456"): they are UTC. */
function papermillTime(value: unknown): number | null {
  if (typeof value !== 'string' || value === '') return null;
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isFinite(ms) ? ms : null;
}

/** When the runner began executing the notebook (papermill's notebook start_time). */
export function notebookStart(notebook: unknown): number | null {
  const record = (notebook as { metadata?: { papermill?: { start_time?: unknown } } } | null)
    ?.metadata?.papermill;
  return papermillTime(record?.start_time);
}

export function cellTimings(notebook: unknown): CellTiming[] {
  const cells = (notebook as { cells?: unknown[] } | null)?.cells;
  if (!Array.isArray(cells)) return [];
  const timings: CellTiming[] = [];
  let number = 0;
  cells.forEach((cell, index) => {
    const c = cell as { cell_type?: string; metadata?: Record<string, unknown> };
    if (c.cell_type !== 'code') return;
    const tags = (c.metadata?.tags as unknown[] | undefined) ?? [];
    const injected = tags.includes('injected-parameters');
    if (!injected) number += 1;
    const record = (c.metadata?.papermill ?? {}) as Record<string, unknown>;
    const start = papermillTime(record.start_time);
    const end = papermillTime(record.end_time);
    if (start === null || end === null) return;
    timings.push({
      number: injected ? 0 : number,
      index,
      start,
      end,
      status: String(record.status ?? 'completed'),
    });
  });
  return timings;
}

export function startRunTraces(options: {
  endpoint: string;
  store: RunStore;
  artifacts: ObjectStore;
  bus: RunEventBus;
  log?: (message: string, fields?: LogFields) => void;
  /** Exporter flush delay (tests: short). */
  scheduledDelayMillis?: number;
}): RunTraces {
  const exporter = new OTLPTraceExporter({ url: options.endpoint });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'nes' }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: options.scheduledDelayMillis ?? 2000,
      }),
    ],
  });
  const tracer = provider.getTracer('nes');
  const traced = new Set<string>();
  const unsubscribe = options.bus.subscribeAll((message) => {
    if (message.type !== 'run' || !TERMINAL_STATUSES.includes(message.run.status)) return;
    if (traced.has(message.run.id)) return;
    if (traced.size > 10_000) traced.clear();
    traced.add(message.run.id);
    void traceRun(tracer, message.run, options).catch((error: unknown) =>
      options.log?.(`tracing: run ${message.run.id}: ${String(error)}`, { runId: message.run.id }),
    );
  });
  return {
    close: async () => {
      unsubscribe();
      await provider.shutdown();
    },
  };
}

async function traceRun(
  tracer: Tracer,
  run: Run,
  deps: { store: RunStore; artifacts: ObjectStore },
): Promise<void> {
  const events = await deps.store.listEvents(run.id);
  const at = (status: string) =>
    events.find((e) => e.type === 'status' && (e.data as { status?: string }).status === status)
      ?.time;
  const submitted = Date.parse(run.createdAt);
  const finished = Date.parse(run.finishedAt ?? new Date().toISOString());
  const starting = at('starting') ? Date.parse(at('starting') as string) : null;
  const running = at('running') ? Date.parse(at('running') as string) : null;
  const notebook = run.startedAt ? await readNotebook(deps.artifacts, run) : null;
  const cells = cellTimings(notebook);
  // The runner's own clock says when execution began; the status event may be stored later.
  const began = notebookStart(notebook) ?? running;

  const root = tracer.startSpan('run', {
    startTime: submitted,
    attributes: {
      'nes.run.id': run.id,
      'nes.notebook': run.notebook,
      'nes.status': run.status,
      ...(run.commitSha ? { 'nes.commit_sha': run.commitSha } : {}),
      ...(run.error
        ? { 'nes.failure_class': run.error.class, 'nes.error.ename': run.error.ename }
        : {}),
    },
  });
  const parent = trace.setSpan(context.active(), root);
  const child = (name: string, start: number, end: number, attributes = {}): Span => {
    const span = tracer.startSpan(name, { startTime: start, attributes }, parent);
    span.end(Math.max(start, end));
    return span;
  };
  if (starting !== null) child('queued', submitted, starting);
  if (starting !== null && began !== null) child('launch', starting, began);
  const first = cells[0];
  if (began !== null && first)
    child('kernel start', Math.max(began, starting ?? began), first.start);
  for (const cell of cells) {
    const span = tracer.startSpan(
      cell.number === 0 ? 'cell (injected parameters)' : `cell ${cell.number}`,
      {
        startTime: cell.start,
        attributes: { 'nes.cell.index': cell.index, 'nes.cell.status': cell.status },
      },
      parent,
    );
    if (cell.status === 'failed') span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(cell.end);
  }
  const last = cells.at(-1);
  if (last) child('save', last.end, finished);
  if (run.status !== 'succeeded') {
    root.setStatus({ code: SpanStatusCode.ERROR, message: run.error?.evalue ?? run.status });
  }
  root.end(finished);
}

async function readNotebook(artifacts: ObjectStore, run: Run): Promise<unknown> {
  const key = run.outputUri?.startsWith(artifacts.uri)
    ? run.outputUri.slice(artifacts.uri.length)
    : new RunArtifacts(artifacts, run.id).keys.output;
  try {
    const info = await artifacts.stat(key);
    if (info === null || (info.size ?? 0) > MAX_NOTEBOOK_BYTES) return null;
    return JSON.parse(Buffer.from(await artifacts.get(key)).toString('utf8'));
  } catch {
    return null;
  }
}
