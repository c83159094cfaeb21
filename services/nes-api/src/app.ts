/**
 * Builds the NES API as a fastify instance; never listens (the `nes serve` command does).
 * Plugins in order: validation and parsing, error handling, CORS, auth, OpenAPI, metrics, routes,
 * then the viewer's pages when the service serves them (`viewer/`).
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  registerAjvFormats,
  type TypeBoxTypeProvider,
  TypeBoxValidatorCompiler,
} from '@fastify/type-provider-typebox';
import { parseParametersJson } from '@nes/notebook';
import { resolveSource } from '@nes/sources';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AppServices } from './app-services.ts';
import { registerAuth, tokenVerifier } from './auth/auth.ts';
import { redactTokenParameters } from './auth/query-token.ts';
import type { NesConfig } from './config.ts';
import { ApiError, mapError } from './errors.ts';
import { createMetrics } from './metrics.ts';
import { SubmitAdmission } from './routes/admission.ts';
import { browseRoutes } from './routes/browse.ts';
import type { RouteContext } from './routes/context.ts';
import { githubHookRoutes } from './routes/github-hooks.ts';
import { healthRoutes } from './routes/health.ts';
import { historyRoutes } from './routes/history.ts';
import { inspectRoutes } from './routes/inspect.ts';
import { notebookRoutes } from './routes/notebooks.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { runNotebookRoutes } from './routes/run-notebooks.ts';
import { runResultRoutes } from './routes/run-results.ts';
import { runStreamRoutes } from './routes/run-streams.ts';
import { runRoutes } from './routes/runs.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { API_RESPONSE_HEADERS } from './routes/store-content.ts';
import { sweepRoutes } from './routes/sweeps.ts';
import { tokenRoutes } from './routes/tokens.ts';
import type { RunStore } from './runs/run-store.ts';
import { type ViewerOptions, viewerRoutes } from './viewer/viewer-routes.ts';

export interface BuildAppOptions {
  config: NesConfig;
  store: RunStore;
  services: AppServices;
  /** fastify's logger option; default off. The Authorization header is always redacted. */
  logger?: boolean | Record<string, unknown>;
  /** Heartbeat interval of event streams (comments, and a re-read of the store). Default 15 s. */
  heartbeatMs?: number;
  /** The viewer's pages, sign-in and session cookie; absent: the API alone (bearer tokens). */
  viewer?: ViewerOptions;
}

export type App = FastifyInstance;

export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { config, store, services } = options;
  const app = Fastify({
    logger: loggerOptions(options.logger),
    bodyLimit: config.bodyLimit,
    // A run's routes log with its id bound from the first line ("incoming request") to the last
    // ("request completed"), so its request lines are found with the service's own.
    childLoggerFactory: (logger, bindings, childOptions, rawRequest) => {
      const runId = runIdOfPath(rawRequest.url ?? '');
      return logger.child(runId === null ? bindings : { ...bindings, runId }, childOptions);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // TypeBox's own checker: bodies exactly as sent (no coercion, unknown fields refused);
  // querystrings, params and headers converted from text.
  registerAjvFormats();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  // JSON bodies keep what Python would see in parameters: `1.0` stays a float, big integers
  // stay exact, and a dict keeps its key order (parseParametersJson).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, plainOutsideParameters(parseParametersJson(text)));
    } catch (error) {
      done(
        new ApiError(
          400,
          'invalid_json',
          `the body is not valid JSON: ${(error as Error).message}`,
        ),
        undefined,
      );
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const mapped = mapError(error);
    if (mapped.internal) request.log.error({ err: error }, 'request failed');
    if (mapped.internal && process.env.DEBUG_NES) console.error(error);
    const retryAfter = (error as { details?: { retryAfterSeconds?: unknown } }).details
      ?.retryAfterSeconds;
    if (mapped.status === 429 && typeof retryAfter === 'number') {
      reply.header('retry-after', String(retryAfter));
    }
    reply.status(mapped.status).send(mapped.body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: {
        code: 'not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    });
  });

  await app.register(cors, {
    origin: config.viewerOrigin === null ? false : [config.viewerOrigin],
    credentials: false,
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID'],
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
  });

  // API answers are data, never documents: a browser that opens one directly (a link in a
  // notebook's markdown) must neither sniff it into HTML nor run anything from it.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/v1/')) reply.headers(API_RESPONSE_HEADERS);
  });

  // Before authentication: a refused submit must cost no database query.
  const admission = new SubmitAdmission(store, config);
  admission.register(app);
  const verify = tokenVerifier(store);
  registerAuth(app, verify, options.viewer?.sessions ?? null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'NES API',
        description:
          'Notebook Execution Service: run Jupyter notebooks from Git as parameterized jobs',
        version: '1',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const metrics = createMetrics(store, services.bus, {
    notebooks: config.metricsNotebooks,
    ...(services.notifications
      ? {
          notifications: {
            pendingCount: () => services.notifications?.outbox.pendingCount() ?? Promise.resolve(0),
            onAttempt: (listener) => services.notifications?.onAttempt(listener) ?? (() => {}),
          },
        }
      : {}),
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const context: RouteContext = {
    config,
    store,
    services,
    resolve: services.resolveSource ?? resolveSource,
    metrics,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    admission,
  };
  await app.register(healthRoutes, context);
  await app.register(runRoutes, context);
  await app.register(runStreamRoutes, context);
  await app.register(runNotebookRoutes, context);
  await app.register(runResultRoutes, context);
  await app.register(notificationRoutes, context);
  await app.register(historyRoutes, context);
  await app.register(inspectRoutes, context);
  await app.register(notebookRoutes, context);
  await app.register(browseRoutes, context);
  await app.register(sweepRoutes, context);
  await app.register(scheduleRoutes, context);
  await app.register(githubHookRoutes, context);
  await app.register(tokenRoutes, context);
  if (options.viewer !== undefined) await app.register(viewerRoutes, { ...options.viewer, verify });

  app.addHook('onClose', async () => metrics.close());
  return app;
}

/** fastify's logger with the Authorization header, cookies and `?token=` redacted. */
export function loggerOptions(logger: BuildAppOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  const base = logger === true ? {} : logger;
  return {
    ...base,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[REDACTED]' },
    serializers: {
      req(request: { method: string; url: string; ip?: string }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip };
      },
    },
  };
}

/** The run id of a `/v1/runs/{id}[/...]` request (the route's own parameter), else null. */
function runIdOfPath(url: string): string | null {
  const match = /^\/v1\/runs\/([^/?#]+)/.exec(url);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1] as string).slice(0, 100);
  } catch {
    return null;
  }
}

/** `?token=...` (event streams, sign-in), however its name is encoded, never reaches a log line. */
export function redactUrl(url: string): string {
  return redactTokenParameters(url);
}

/**
 * Only `parameters` keeps parseParametersJson's ordered dicts (Maps): elsewhere in a body (labels,
 * resources) key order means nothing and the schemas expect plain objects.
 */
function plainOutsideParameters(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const entries = body instanceof Map ? [...body] : Object.entries(body);
  return Object.fromEntries(
    entries.map(([key, value]) => [key, key === 'parameters' ? value : plainDicts(value)]),
  );
}

function plainDicts(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainDicts);
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [k, plainDicts(v)]));
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainDicts(v)]));
  }
  return value;
}
