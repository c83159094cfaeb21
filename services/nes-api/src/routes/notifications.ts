/**
 * Notifications (scope `admin`): subscriptions (which runs, which events, which target; a
 * webhook's signing secret is in the creating answer only), the delivery log (each delivery with
 * its attempts and the receiver's status codes) and redelivery.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError, notFound } from '../errors.ts';
import { NOTIFICATION_EVENTS } from '../notifications/model.ts';
import { publicSubscription } from '../notifications/outbox-store.ts';
import { newWebhookSecret } from '../notifications/signing.ts';
import { targetProblem } from '../notifications/target-url.ts';
import { authErrors, ErrorSchema, Nullable } from '../schemas/common.ts';
import { LabelsSchema } from '../schemas/labels.ts';
import type { RouteContext } from './context.ts';

const EventSchema = Type.Union(
  [
    Type.Literal('failed'),
    Type.Literal('succeeded'),
    Type.Literal('cancelled'),
    Type.Literal('timed_out'),
    Type.Literal('sweep_finished'),
    Type.Literal('freshness_missed'),
  ],
  { description: NOTIFICATION_EVENTS.join(', ') },
);

const TargetSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('webhook'), Type.Literal('slack')], {
      description: 'webhook: signed JSON; slack: a Slack incoming-webhook message',
    }),
    url: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  { additionalProperties: false },
);

const subscriptionFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  events: Type.Array(EventSchema, { minItems: 1, uniqueItems: true }),
  notebook: Nullable(Type.String({ description: 'Only runs of this notebook (as submitted)' })),
  labels: Type.Record(Type.String(), Type.String(), {
    description: 'Only runs carrying all of these labels',
  }),
  sweepId: Nullable(Type.String()),
  scheduleId: Nullable(Type.String()),
  target: TargetSchema,
};

export const SubscriptionSchema = Type.Object(
  {
    id: Type.String(),
    ...subscriptionFields,
    enabled: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const CreatedSubscriptionSchema = Type.Object({
  subscription: SubscriptionSchema,
  secret: Nullable(
    Type.String({
      description:
        'The webhook signing secret (X-NES-Signature: t=..,v1=HMAC-SHA256(secret, "t.body")). Shown in this answer only.',
    }),
  ),
});

export const CreateBody = Type.Object(
  {
    name: subscriptionFields.name,
    events: subscriptionFields.events,
    notebook: Type.Optional(Type.String({ minLength: 1 })),
    labels: Type.Optional(LabelsSchema),
    sweepId: Type.Optional(Type.String({ minLength: 1 })),
    scheduleId: Type.Optional(Type.String({ minLength: 1 })),
    target: TargetSchema,
  },
  { additionalProperties: false },
);

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  time: Type.String({ format: 'date-time' }),
  statusCode: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  durationMs: Type.Integer(),
});

export const DeliverySchema = Type.Object({
  id: Type.String(),
  eventId: Type.String({ description: 'The same in every attempt and redelivery' }),
  eventType: EventSchema,
  subscriptionId: Type.String(),
  runId: Nullable(Type.String()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String({ format: 'date-time' })),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Nullable(Type.String({ format: 'date-time' })),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  log: Type.Optional(Type.Array(AttemptSchema)),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const notificationRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const notifications = ctx.services.notifications;
  if (!notifications) return;
  const { outbox, policy } = notifications;
  const admin = { scope: 'admin' as const };

  app.post(
    '/v1/notifications/subscriptions',
    {
      config: admin,
      schema: {
        summary: 'Subscribe a webhook or Slack to run events',
        tags: ['notifications'],
        body: CreateBody,
        response: {
          201: CreatedSubscriptionSchema,
          400: ErrorSchema,
          422: ErrorSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const problem = targetProblem(body.target.url, policy);
      if (problem !== null) {
        throw new ApiError(422, 'invalid_target', `target.url: ${problem}`, {
          field: 'target.url',
        });
      }
      const secret = body.target.kind === 'webhook' ? newWebhookSecret() : null;
      const stored = await outbox.createSubscription({
        name: body.name,
        events: body.events,
        notebook: body.notebook ?? null,
        labels: body.labels ?? {},
        sweepId: body.sweepId ?? null,
        scheduleId: body.scheduleId ?? null,
        target: body.target,
        secret,
      });
      return reply.status(201).send({ subscription: publicSubscription(stored), secret });
    },
  );

  app.get(
    '/v1/notifications/subscriptions',
    {
      config: admin,
      schema: {
        summary: 'List subscriptions',
        tags: ['notifications'],
        response: {
          200: Type.Object({ subscriptions: Type.Array(SubscriptionSchema) }),
          ...authErrors,
        },
      },
    },
    async () => ({ subscriptions: (await outbox.listSubscriptions()).map(publicSubscription) }),
  );

  app.get(
    '/v1/notifications/subscriptions/:id',
    {
      config: admin,
      schema: {
        summary: 'Get a subscription',
        tags: ['notifications'],
        params: IdParams,
        response: { 200: SubscriptionSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const stored = await outbox.getSubscription(request.params.id);
      if (!stored) throw notFound('subscription', request.params.id);
      return publicSubscription(stored);
    },
  );

  app.delete(
    '/v1/notifications/subscriptions/:id',
    {
      config: admin,
      schema: {
        summary: 'Delete a subscription and its deliveries',
        tags: ['notifications'],
        params: IdParams,
        response: { 204: Type.Null(), 404: ErrorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      if (!(await outbox.deleteSubscription(request.params.id))) {
        throw notFound('subscription', request.params.id);
      }
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/notifications/deliveries',
    {
      config: admin,
      schema: {
        summary: 'The delivery log, newest first',
        tags: ['notifications'],
        querystring: Type.Object({
          subscriptionId: Type.Optional(Type.String()),
          runId: Type.Optional(Type.String()),
          status: Type.Optional(
            Type.Union([
              Type.Literal('pending'),
              Type.Literal('delivered'),
              Type.Literal('failed'),
            ]),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema) }), ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      return {
        deliveries: await outbox.listDeliveries({
          ...(q.subscriptionId ? { subscriptionId: q.subscriptionId } : {}),
          ...(q.runId ? { runId: q.runId } : {}),
          ...(q.status ? { status: q.status } : {}),
          limit: q.limit ?? 100,
        }),
      };
    },
  );

  app.get(
    '/v1/notifications/deliveries/:id',
    {
      config: admin,
      schema: {
        summary: 'A delivery and its attempts (status codes, errors)',
        tags: ['notifications'],
        params: IdParams,
        response: { 200: DeliverySchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const delivery = await outbox.getDelivery(request.params.id);
      if (!delivery) throw notFound('delivery', request.params.id);
      return delivery;
    },
  );

  app.post(
    '/v1/notifications/deliveries/:id/redeliver',
    {
      config: admin,
      schema: {
        summary: 'Send a delivery again (same event id)',
        tags: ['notifications'],
        params: IdParams,
        response: { 200: DeliverySchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const delivery = await outbox.redeliver(request.params.id);
      if (!delivery) throw notFound('delivery', request.params.id);
      notifications.wake();
      return delivery;
    },
  );
};
