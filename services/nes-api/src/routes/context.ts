/** What every route plugin receives, and the run object as the API serves it. */
import type { Run as ApiRun } from '@nes/client';
import type { ResolvedSource } from '@nes/sources';
import type { AppServices, SourceResolver } from '../app-services.ts';
import type { NesConfig } from '../config.ts';
import { notFound } from '../errors.ts';
import type { ApiMetrics } from '../metrics.ts';
import type { Run } from '../runs/run-model.ts';
import type { RunStore } from '../runs/run-store.ts';
import type { SubmitAdmission } from './admission.ts';

export interface RouteContext {
  config: NesConfig;
  store: RunStore;
  services: AppServices;
  resolve: SourceResolver;
  metrics: ApiMetrics;
  heartbeatMs: number;
  /** Bounds submits in flight and the queue (429 with Retry-After past them). */
  admission: SubmitAdmission;
}

/** The run as the API serves it is the HTTP API's run (@nes/client). */
export type { ApiRun };

// JSON.rawJSON (Node 21+) is not in the TypeScript lib this repository targets.
const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

export function toApiRun(run: Run, publicUrl: string): ApiRun {
  const id = encodeURIComponent(run.id);
  return {
    ...run,
    parameters: jsonSafe(run.parameters) as Record<string, unknown>,
    links: {
      self: `${publicUrl}/v1/runs/${id}`,
      notebook: `${publicUrl}/v1/runs/${id}/notebook`,
      results: `${publicUrl}/v1/runs/${id}/results`,
      viewer: `${publicUrl}/runs/${id}`,
    },
  };
}

/**
 * Parameters as JSON the way they were submitted: big integers exact (JSON.stringify throws on
 * bigint), +-Infinity as 1e400 (submitted as such), FloatValue as `1.0` (its toJSON). An ordered
 * dict (a Map, for keys like "1") becomes a plain object here: a JavaScript object cannot keep
 * such keys in order, so the run object lists them first; the stored parameters, the injected
 * cell, the worker and the Job keep the submitted order.
 */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return rawJson(value.toString());
  if (typeof value === 'number' && !Number.isFinite(value) && !Number.isNaN(value)) {
    return rawJson(value > 0 ? '1e400' : '-1e400');
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v)]));
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

/** A run's notebook fetched at its recorded commit (else its ref, else as it is now). */
export function resolveRunNotebook(ctx: RouteContext, run: Run): Promise<ResolvedSource> {
  return ctx.resolve(run.notebook, {
    ...ctx.services.sourceOptions,
    ref: run.commitSha ?? run.ref ?? undefined,
  });
}

export async function getRunOr404(store: RunStore, id: string): Promise<Run> {
  const run = await store.getRun(id);
  if (run === null) throw notFound('run', id);
  return run;
}
