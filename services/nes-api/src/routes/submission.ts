/**
 * Everything POST /v1/runs (and rerun) checks before a run is stored: parameter size, the source
 * resolved to a commit, the kernel, the parameters against the notebook's parameters cell; and
 * the idempotency key handling around the store's create.
 */
import { createHash } from 'node:crypto';
import type { SubmitRunRequest } from '@nes/client';
import {
  FloatValue,
  findTranslator,
  inspectParameters,
  type Notebook,
  notebookKernelName,
  notebookLanguage,
  parameterNameProblem,
  parametersJsonSchema,
  stringifyParametersJson,
  UnsupportedLanguageError,
} from '@nes/notebook';
import type { ResolvedSource } from '@nes/sources';
import Schema from 'typebox/schema';
import { ApiError } from '../errors.ts';
import type { Run, RunSpec } from '../runs/run-model.ts';
import { IdempotencyConflictError } from '../runs/run-store.ts';
import { MAX_LABELS } from '../schemas/labels.ts';
import type { RouteContext } from './context.ts';

export function checkParametersSize(ctx: RouteContext, parameters: Record<string, unknown>): void {
  const size = Buffer.byteLength(stringifyParametersJson(parameters));
  if (size > ctx.config.maxParametersBytes) {
    throw new ApiError(
      413,
      'parameters_too_large',
      `parameters take ${size} bytes as JSON; the limit is ${ctx.config.maxParametersBytes}`,
      { size, limit: ctx.config.maxParametersBytes },
    );
  }
}

/**
 * The label bound holds for what is stored: the labels the service sets itself (`added`, such as
 * nes/submitted-by) count, so a request may bring fewer than MAX_LABELS of its own. 422 when
 * `labels`, as they would be stored, are more.
 */
export function checkStoredLabels(labels: Record<string, string>, added: readonly string[]): void {
  const count = Object.keys(labels).length;
  if (count <= MAX_LABELS) return;
  const set = added.filter((key) => key in labels);
  throw new ApiError(
    422,
    'too_many_labels',
    `the run would hold ${count} labels; a run holds at most ${MAX_LABELS}, including the ${set.length === 1 ? 'label' : 'labels'} the service sets (${set.join(', ')}): send at most ${MAX_LABELS - set.length} of your own`,
    [{ field: 'labels', code: 'too_many_labels', count, limit: MAX_LABELS, setByService: set }],
  );
}

/** Validates a submit body and returns the spec to store; throws ApiError/SourceError (4xx). */
export async function prepareSpec(ctx: RouteContext, body: SubmitRunRequest): Promise<RunSpec> {
  const parameters = body.parameters ?? {};
  checkParametersSize(ctx, parameters);
  const { resolved, kernel } = await resolveNotebook(ctx, body);
  checkParameters(resolved.notebook, kernel, parameters, body.allowUnknownParameters ?? false);
  return {
    notebook: body.notebook,
    ref: resolved.record.ref ?? body.ref ?? null,
    commitSha: resolved.record.commitSha,
    parameters,
    kernel,
    labels: body.labels ?? {},
    timeoutSeconds: body.timeoutSeconds ?? null,
    resources: body.resources ?? null,
    image: body.image ?? null,
    queue: body.queue ?? 'default',
    sweepId: null,
  };
}

/** The notebook resolved at `ref`, and the kernel it runs with: `kernel` or its own (checked). */
export async function resolveNotebook(
  ctx: RouteContext,
  body: { notebook: string; ref?: string; kernel?: string },
): Promise<{ resolved: ResolvedSource; kernel: string }> {
  const resolved = await ctx.resolve(body.notebook, {
    ...ctx.services.sourceOptions,
    ref: body.ref,
  });
  const kernel = await checkKernel(
    ctx,
    body.kernel ?? notebookKernelName(resolved.notebook) ?? null,
  );
  return { resolved, kernel };
}

export async function checkKernel(ctx: RouteContext, kernel: string | null): Promise<string> {
  const available = await ctx.services.scheduler.kernels();
  if (kernel === null) {
    throw new ApiError(
      422,
      'kernel_required',
      'the notebook names no kernel (metadata.kernelspec.name); pass "kernel"',
      { available },
    );
  }
  if (!available.includes(kernel)) {
    throw new ApiError(
      422,
      'unknown_kernel',
      `kernel "${kernel}" is not available on this executor; available: ${available.join(', ') || 'none'}`,
      { kernel, available },
    );
  }
  return kernel;
}

export interface ParameterProblem {
  field: string;
  code: 'unknown_parameter' | 'invalid_value' | 'invalid_parameter_name';
  message: string;
}

/**
 * 422 naming each parameter whose name is not a variable name in the kernel's language: a name
 * is written into the injected cell verbatim, so anything else would run as code. Checked even
 * when unknown parameters are allowed and for languages NES cannot inspect.
 */
function checkParameterNames(
  notebook: Notebook,
  kernel: string,
  parameters: Record<string, unknown>,
): void {
  let translator: ReturnType<typeof findTranslator> | null = null;
  try {
    translator = findTranslator(kernel, notebookLanguage(notebook));
  } catch (error) {
    // No translator: only plain identifiers pass; the runner reports that it cannot inject.
    if (!(error instanceof UnsupportedLanguageError)) throw error;
  }
  const problems: ParameterProblem[] = [];
  for (const name of Object.keys(parameters)) {
    const message = parameterNameProblem(translator, name);
    if (message !== null) {
      problems.push({ field: `parameters.${name}`, code: 'invalid_parameter_name', message });
    }
  }
  const first = problems[0];
  if (first !== undefined) {
    throw new ApiError(422, 'invalid_parameter_name', first.message, problems);
  }
}

/** 422 naming each bad parameter. Values in languages NES cannot inspect are not checked. */
export function checkParameters(
  notebook: Notebook,
  kernel: string,
  parameters: Record<string, unknown>,
  allowUnknown: boolean,
): void {
  checkParameterNames(notebook, kernel, parameters);
  const info = inspectParameters(notebook, { kernelName: kernel });
  if (info.warnings.some((w) => w.startsWith('parameter inspection is not supported'))) return;
  const schema = parametersJsonSchema(info, { allowUnknown });
  const [ok, errors] = Schema.Errors(schema as Schema.XSchema, plainValues(parameters)) as [
    boolean,
    Array<{
      keyword: string;
      instancePath: string;
      params: Record<string, unknown>;
      message: string;
    }>,
  ];
  if (ok) return;
  const declared = info.parameters.map((p) => p.name);
  const problems: ParameterProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      for (const name of (error.params.additionalProperties as string[] | undefined) ?? []) {
        if (seen.has(name)) continue;
        seen.add(name);
        problems.push({
          field: `parameters.${name}`,
          code: 'unknown_parameter',
          message:
            declared.length === 0
              ? `unknown parameter "${name}": the notebook declares no parameters (set allowUnknownParameters to inject it anyway)`
              : `unknown parameter "${name}": the notebook declares ${declared.join(', ')} (set allowUnknownParameters to inject it anyway)`,
        });
      }
      continue;
    }
    const name = decodePointer(error.instancePath.split('/')[1] ?? '');
    if (name === '' || seen.has(name) || error.keyword === 'boolean') continue;
    seen.add(name);
    const declaredType = info.parameters.find((p) => p.name === name)?.type;
    problems.push({
      field: `parameters.${name}`,
      code: 'invalid_value',
      message: `parameter "${name}" ${error.message}${declaredType ? ` (declared as ${declaredType})` : ''}`,
    });
  }
  const first = problems[0];
  throw new ApiError(
    422,
    'invalid_parameters',
    first === undefined ? 'the parameters do not match the notebook' : first.message,
    problems,
  );
}

function decodePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

/**
 * FloatValue and bigint as plain numbers, for schema checks; +-Infinity (submitted as 1e400, a
 * float to Python) as the largest finite float, since JSON Schema numbers are finite.
 */
function plainValues(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value) && !Number.isNaN(value)) {
    return Math.sign(value) * Number.MAX_VALUE;
  }
  if (value instanceof FloatValue && !Number.isFinite(value.value)) return plainValues(value.value);
  if (value instanceof FloatValue) return value.value;
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plainValues);
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [String(k), plainValues(v)]));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValues(v)]));
  }
  return value;
}

/**
 * Key order does not matter, except in `parameters` (it is the injected cell's order); `1.0`
 * and `1` do matter (they inject differently).
 */
export function requestHash(body: unknown): string {
  const sorted =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? Object.fromEntries(
          Object.keys(body as Record<string, unknown>)
            .sort()
            .map((k) => {
              const v = (body as Record<string, unknown>)[k];
              return [k, k === 'parameters' ? v : sortKeys(v)];
            }),
        )
      : body;
  return createHash('sha256').update(stringifyParametersJson(sorted)).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function checkIdempotencyKey(header: unknown): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new ApiError(
      400,
      'invalid_idempotency_key',
      'Idempotency-Key must be 1 to 255 visible ASCII characters',
    );
  }
  return header;
}

/**
 * Creates a run once per idempotency key. Concurrent requests with one key in this process share
 * one validation and one create; the store's unique key covers other processes and later retries.
 */
export class Submitter {
  readonly #ctx: RouteContext;
  readonly #inFlight = new Map<string, { hash: string; promise: Promise<Run> }>();

  constructor(ctx: RouteContext) {
    this.#ctx = ctx;
  }

  async submit(
    key: string | null,
    hash: string,
    prepare: () => Promise<RunSpec>,
  ): Promise<{ run: Run; created: boolean }> {
    if (key === null) return this.#create(null, hash, prepare);
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      if (pending.hash !== hash) throw conflict(key);
      return { run: await pending.promise, created: false };
    }
    const promise = this.#create(key, hash, prepare);
    const shared = promise.then((result) => result.run);
    shared.catch(() => {});
    this.#inFlight.set(key, { hash, promise: shared });
    try {
      return await promise;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  async #create(
    key: string | null,
    hash: string,
    prepare: () => Promise<RunSpec>,
  ): Promise<{ run: Run; created: boolean }> {
    const spec = await prepare();
    let result: { run: Run; created: boolean };
    try {
      result = await this.#ctx.store.createRun(
        spec,
        key === null ? undefined : { key, requestHash: hash },
      );
    } catch (error) {
      if (
        error instanceof IdempotencyConflictError ||
        (error as { code?: unknown }).code === 'idempotency_conflict'
      ) {
        throw conflict(key ?? '');
      }
      throw error;
    }
    if (result.created) {
      this.#ctx.metrics.runsSubmitted.inc();
      this.#ctx.services.bus.publishRun(result.run);
      this.#ctx.services.scheduler.submitted(result.run);
    }
    return result;
  }
}

function conflict(key: string): ApiError {
  return new ApiError(
    409,
    'idempotency_conflict',
    `Idempotency-Key ${JSON.stringify(key)} was already used with a different request body`,
  );
}
