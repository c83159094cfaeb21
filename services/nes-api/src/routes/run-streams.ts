/**
 * Live views: one run's events (SSE, replayable by Last-Event-ID), the run list's changes (SSE),
 * and a run's log (plain text, optionally followed). The store is the truth: a bus notification
 * only says "re-read from the last sequence number seen"; heartbeats re-read too, which catches
 * changes made by another replica.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { RunArtifacts } from '@nes/stores';
import { Type } from 'typebox';
import { StreamTokenWatch } from '../auth/stream-token-watch.ts';
import { ApiError } from '../errors.ts';
import { type RunEventRecord, TERMINAL_STATUSES } from '../runs/run-model.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import { LabelSelectorsSchema, labelsFromSelectors } from '../schemas/labels.ts';
import { RunIdParams } from '../schemas/run.ts';
import { getRunOr404, type RouteContext, toApiRun } from './context.ts';
import { openSse, serialTask, writeBounded } from './sse.ts';

const StreamQuery = Type.Object({
  token: Type.Optional(Type.String({ description: 'For EventSource, which cannot send headers' })),
  lastEventId: Type.Optional(Type.Integer({ minimum: 0, description: 'Same as Last-Event-ID' })),
});

const sseResponse = {
  200: Type.String({ description: 'text/event-stream' }),
  400: ErrorSchema,
  404: ErrorSchema,
  ...authErrors,
};

export const runStreamRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { store, services } = ctx;
  // Open streams end when the app closes (they would otherwise hold the server open).
  const open = new Set<() => void>();
  // A stream ends with its token (revoked or expired), not only when it is read to its end.
  const tokens = new StreamTokenWatch(store, ctx.heartbeatMs);
  app.addHook('preClose', async () => {
    tokens.stop();
    for (const close of open) close();
  });
  /**
   * Ties an open stream to the app and to its token (either ending ends it), and runs `tick`
   * every heartbeat until the stream closes; then releases all of it and calls `release`.
   */
  const keepOpen = (live: {
    end: () => void;
    onClose: (listener: () => void) => void;
    tokenId: string | undefined;
    tick: () => void;
    release: () => void;
  }) => {
    const heartbeat = setInterval(live.tick, ctx.heartbeatMs);
    open.add(live.end);
    const unwatch = tokens.add(live.tokenId, live.end);
    live.onClose(() => {
      open.delete(live.end);
      unwatch();
      live.release();
      clearInterval(heartbeat);
    });
  };

  app.get(
    '/v1/runs/:id/events',
    {
      config: { scope: 'read', queryToken: true },
      schema: {
        summary:
          "A run's events (SSE): run snapshot, then status/progress/log events; ends after a terminal status",
        tags: ['runs'],
        params: RunIdParams,
        querystring: StreamQuery,
        response: sseResponse,
      },
    },
    async (request, reply) => {
      const run = await getRunOr404(store, request.params.id);
      let lastSeq = lastEventId(request.headers['last-event-id'], request.query.lastEventId);
      const stream = openSse(reply, ctx.config.streamBufferBytes);
      stream.send('run', toApiRun(run, ctx.config.publicUrl));
      const pump = serialTask(
        async () => {
          if (stream.closed) return;
          for (const event of await store.listEvents(run.id, lastSeq)) sendEvent(event);
          const current = await store.getRun(run.id);
          if (current !== null && TERMINAL_STATUSES.includes(current.status)) {
            for (const event of await store.listEvents(run.id, lastSeq)) sendEvent(event);
            stream.send('end', { status: current.status });
            stream.close();
          }
        },
        (error) => {
          request.log.error({ err: error }, 'event stream failed');
          stream.close();
        },
      );
      const sendEvent = (event: RunEventRecord) => {
        if (event.seq <= lastSeq) return;
        lastSeq = event.seq;
        stream.send(event.type, { ...event.data, seq: event.seq, time: event.time }, event.seq);
      };
      const unsubscribe = services.bus.subscribeRun(run.id, (message) => {
        if (message.type === 'run') stream.send('run', toApiRun(message.run, ctx.config.publicUrl));
        pump();
      });
      keepOpen({
        end: () => stream.close(),
        onClose: (listener) => stream.onClose(listener),
        tokenId: request.token?.id,
        tick: () => {
          stream.comment('heartbeat');
          pump();
        },
        release: unsubscribe,
      });
      pump();
    },
  );

  app.get(
    '/v1/events',
    {
      config: { scope: 'read', queryToken: true },
      schema: {
        summary: 'Changes to any run (SSE "run" events carrying the run object)',
        tags: ['runs'],
        querystring: Type.Object({
          token: Type.Optional(Type.String()),
          label: Type.Optional(LabelSelectorsSchema),
        }),
        response: sseResponse,
      },
    },
    async (request, reply) => {
      const labels = Object.entries(labelsFromSelectors(request.query.label));
      const stream = openSse(reply, ctx.config.streamBufferBytes);
      const unsubscribe = services.bus.subscribeAll((message) => {
        if (message.type !== 'run') return;
        if (!labels.every(([k, v]) => message.run.labels[k] === v)) return;
        stream.send('run', toApiRun(message.run, ctx.config.publicUrl));
      });
      keepOpen({
        end: () => stream.close(),
        onClose: (listener) => stream.onClose(listener),
        tokenId: request.token?.id,
        tick: () => stream.comment('heartbeat'),
        release: unsubscribe,
      });
    },
  );

  app.get(
    '/v1/runs/:id/logs',
    {
      config: { scope: 'read', queryToken: true },
      schema: {
        summary: "A run's log as text; follow=true streams until the run ends",
        tags: ['runs'],
        params: RunIdParams,
        querystring: Type.Object({
          follow: Type.Optional(Type.Boolean({ default: false })),
          token: Type.Optional(Type.String()),
        }),
        response: { 200: Type.String(), 404: ErrorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const run = await getRunOr404(store, request.params.id);
      const events = (await store.listEvents(run.id)).filter((e) => e.type === 'log');
      if (!request.query.follow) {
        reply.type('text/plain; charset=utf-8');
        if (events.length === 0 && TERMINAL_STATUSES.includes(run.status)) {
          return storedLog(ctx, run.id);
        }
        return events.map(logLine).join('');
      }
      reply.hijack();
      reply.raw.writeHead(200, {
        ...Object.fromEntries(Object.entries(reply.getHeaders()).map(([k, v]) => [k, String(v)])),
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      // Headers now, not with the first log line: a queued run may print nothing for a while.
      reply.raw.flushHeaders();
      let lastSeq = 0;
      let closed = false;
      const write = (text: string) => {
        if (!writeBounded(reply.raw, text, ctx.config.streamBufferBytes)) closed = true;
      };
      const pump = serialTask(
        async () => {
          if (closed) return;
          for (const event of await store.listEvents(run.id, lastSeq)) {
            lastSeq = event.seq;
            if (event.type === 'log') write(logLine(event));
          }
          const current = await store.getRun(run.id);
          if (current !== null && TERMINAL_STATUSES.includes(current.status)) {
            for (const event of await store.listEvents(run.id, lastSeq)) {
              lastSeq = event.seq;
              if (event.type === 'log') write(logLine(event));
            }
            reply.raw.end();
          }
        },
        (error) => {
          request.log.error({ err: error }, 'log stream failed');
          reply.raw.end();
        },
      );
      const unsubscribe = services.bus.subscribeRun(run.id, () => pump());
      keepOpen({
        end: () => reply.raw.end(),
        onClose: (listener) => reply.raw.on('close', listener),
        tokenId: request.token?.id,
        tick: pump,
        release: () => {
          closed = true;
          unsubscribe();
        },
      });
      pump();
    },
  );
};

function lastEventId(header: unknown, query: number | undefined): number {
  if (query !== undefined) return query;
  if (header === undefined) return 0;
  if (typeof header !== 'string' || !/^\d+$/.test(header.trim())) {
    throw new ApiError(
      400,
      'invalid_last_event_id',
      'Last-Event-ID must be an event sequence number',
    );
  }
  return Number(header.trim());
}

function logLine(event: RunEventRecord): string {
  const text = typeof event.data.text === 'string' ? event.data.text : JSON.stringify(event.data);
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function storedLog(ctx: RouteContext, runId: string): Promise<string> {
  try {
    const artifacts = new RunArtifacts(ctx.services.artifacts, runId);
    return (await ctx.services.artifacts.get(artifacts.keys.log)).toString('utf8');
  } catch {
    return '';
  }
}
