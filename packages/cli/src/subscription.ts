/**
 * `nes subscription ACTION [ID]`: notification subscriptions and their delivery log (admin).
 * `create` prints a webhook's signing secret alone on stdout (so `SECRET=$(nes subscription
 * create ...)` works) and says on stderr that it is shown this once; nothing else ever shows it.
 */
import {
  type Delivery,
  type NesClient,
  NOTIFICATION_EVENT_TYPES,
  type NotificationEventType,
  type Subscription,
  subscriptionSelection,
} from '@nes/client';
import type { Argv } from 'yargs';
import { EXIT_SUCCEEDED, usageError } from './exit.ts';
import { table } from './format.ts';
import type { Io } from './main.ts';
import { labels, list, positiveInt, str } from './option-values.ts';

export const SUBSCRIPTION_ACTIONS = [
  'create',
  'list',
  'get',
  'delete',
  'deliveries',
  'delivery',
  'redeliver',
] as const;
const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export function subscriptionOptions(y: Argv): Argv {
  return y
    .positional('action', { type: 'string', choices: SUBSCRIPTION_ACTIONS })
    .positional('id', {
      type: 'string',
      describe: 'get/delete/deliveries: a subscription id; delivery/redeliver: a delivery id',
    })
    .option('name', { type: 'string', describe: 'create: what the subscription is for' })
    .option('event', {
      type: 'string',
      describe: `create: ${NOTIFICATION_EVENT_TYPES.join(', ')} (repeatable or comma-separated)`,
    })
    .option('webhook', { type: 'string', describe: 'create: a URL to POST signed JSON to' })
    .option('slack', { type: 'string', describe: 'create: a Slack incoming-webhook URL' })
    .option('notebook', { type: 'string', describe: 'create: only runs of this notebook' })
    .option('label', { type: 'string', describe: 'create: only runs with this k=v. Repeatable.' })
    .option('sweep', { type: 'string', describe: 'create: only runs of this sweep' })
    .option('schedule', { type: 'string', describe: 'create: only runs of this schedule (id)' })
    .option('run', { type: 'string', describe: 'deliveries: only those about this run' })
    .option('status', {
      type: 'string',
      choices: DELIVERY_STATUSES,
      describe: 'deliveries: only pending, delivered or failed ones',
    })
    .option('limit', { type: 'string', describe: 'deliveries: at most this many (1-500)' });
}

export async function subscription(
  client: NesClient,
  a: Record<string, unknown>,
  io: Io,
): Promise<number> {
  const json = Boolean(a.json);
  const out = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);
  const action = String(a.action);
  const id = (what: string) => {
    const value = str(a.id) ?? '';
    if (value === '') throw usageError(`nes subscription ${action} needs ${what}`);
    return value;
  };
  switch (action) {
    case 'create': {
      const created = await client.createSubscription(createRequest(a));
      const s = created.subscription;
      if (json) {
        out(created);
      } else {
        note(`Created subscription ${s.id} "${s.name}": ${describe(s)}.`);
        if (created.secret !== null) {
          note(
            'Its signing secret follows; it is shown this once. Receivers check X-NES-Signature: t=..,v1=HMAC-SHA256(secret, "t.body") (docs/notifications.md):',
          );
          io.stdout.write(`${created.secret}\n`);
        }
      }
      return EXIT_SUCCEEDED;
    }
    case 'list': {
      const all = await client.listSubscriptions();
      if (json) out(all);
      else if (all.length === 0) note('no subscriptions');
      else
        io.stdout.write(
          table(
            ['ID', 'NAME', 'EVENTS', 'RUNS', 'TARGET', 'CREATED'],
            all.map((s) => [
              s.id,
              s.name,
              s.events.join(','),
              subscriptionSelection(s),
              `${s.target.kind} ${s.target.url}`,
              s.createdAt,
            ]),
          ),
        );
      return EXIT_SUCCEEDED;
    }
    case 'get': {
      const s = await client.getSubscription(id('the subscription id (nes subscription list)'));
      if (json) out(s);
      else
        io.stdout.write(
          `${[
            `${s.id}  ${s.name}`,
            `events:  ${s.events.join(', ')}`,
            `runs:    ${subscriptionSelection(s)}`,
            `target:  ${s.target.kind} ${s.target.url}`,
            `created: ${s.createdAt}${s.enabled ? '' : ' (disabled)'}`,
          ].join('\n')}\n`,
        );
      return EXIT_SUCCEEDED;
    }
    case 'delete': {
      const subscriptionId = id('the subscription id (nes subscription list)');
      await client.deleteSubscription(subscriptionId);
      if (json) out({ id: subscriptionId, deleted: true });
      else note(`${subscriptionId}: deleted, with its deliveries`);
      return EXIT_SUCCEEDED;
    }
    case 'deliveries': {
      const status = str(a.status) as Delivery['status'] | undefined;
      const subscriptionId = str(a.id);
      const runId = str(a.run);
      const deliveries = await client.listDeliveries({
        ...(subscriptionId ? { subscriptionId } : {}),
        ...(runId ? { runId } : {}),
        ...(status ? { status } : {}),
        ...(a.limit !== undefined ? { limit: positiveInt(a.limit, '--limit') } : {}),
      });
      if (json) out(deliveries);
      else if (deliveries.length === 0) note('no deliveries');
      else io.stdout.write(deliveriesTable(deliveries));
      return EXIT_SUCCEEDED;
    }
    case 'delivery': {
      const d = await client.getDelivery(id('the delivery id (nes subscription deliveries)'));
      if (json) out(d);
      else io.stdout.write(deliveryText(d));
      return EXIT_SUCCEEDED;
    }
    case 'redeliver': {
      const d = await client.redeliver(id('the delivery id (nes subscription deliveries)'));
      if (json) out(d);
      else note(`${d.id}: queued again (event ${d.eventId}, the same id the receiver saw)`);
      return EXIT_SUCCEEDED;
    }
  }
  throw usageError(
    `nes subscription: unknown action ${action} (${SUBSCRIPTION_ACTIONS.join(', ')})`,
  );
}

function createRequest(a: Record<string, unknown>) {
  const name = (str(a.name) ?? '').trim();
  if (name === '') throw usageError('nes subscription create needs --name (what it is for)');
  const events = list(a.event)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (events.length === 0) {
    throw usageError(
      `nes subscription create needs --event (${NOTIFICATION_EVENT_TYPES.join(', ')})`,
    );
  }
  for (const event of events) {
    if (!NOTIFICATION_EVENT_TYPES.includes(event as NotificationEventType)) {
      throw usageError(`--event ${event}: expected ${NOTIFICATION_EVENT_TYPES.join(', ')}`);
    }
  }
  const webhook = str(a.webhook);
  const slack = str(a.slack);
  if ((webhook === undefined) === (slack === undefined)) {
    throw usageError('nes subscription create needs one target: --webhook URL or --slack URL');
  }
  const notebook = str(a.notebook);
  const sweepId = str(a.sweep);
  const scheduleId = str(a.schedule);
  const labelSelector = labels(a.label);
  return {
    name,
    events: [...new Set(events)] as NotificationEventType[],
    target:
      webhook !== undefined
        ? { kind: 'webhook' as const, url: webhook }
        : { kind: 'slack' as const, url: slack as string },
    ...(notebook ? { notebook } : {}),
    ...(labelSelector ? { labels: labelSelector } : {}),
    ...(sweepId ? { sweepId } : {}),
    ...(scheduleId ? { scheduleId } : {}),
  };
}

/** Which runs a subscription is about, in one phrase. */
function describe(s: Subscription): string {
  return `${s.events.join(', ')} of ${subscriptionSelection(s)} to ${s.target.kind} ${s.target.url}`;
}

function deliveriesTable(deliveries: Delivery[]): string {
  return table(
    ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'RUN', 'SUBSCRIPTION', 'CREATED'],
    deliveries.map((d) => [
      d.id,
      d.eventType,
      d.status,
      String(d.attempts),
      lastOutcome(d.lastStatus, d.lastError),
      d.runId ?? '-',
      d.subscriptionId,
      d.createdAt,
    ]),
  );
}

function lastOutcome(status: number | null, error: string | null): string {
  if (status !== null) return String(status);
  return error ? 'no answer' : '-';
}

function deliveryText(d: Delivery): string {
  const head = [
    `${d.id}  ${d.eventType}  ${d.status}`,
    `event:        ${d.eventId}`,
    `subscription: ${d.subscriptionId}`,
    `run:          ${d.runId ?? '-'}`,
    `created:      ${d.createdAt}`,
    d.deliveredAt ? `delivered:    ${d.deliveredAt}` : null,
    d.status === 'pending' && d.nextAttemptAt ? `next attempt: ${d.nextAttemptAt}` : null,
  ].filter((line) => line !== null);
  const attempts = d.log ?? [];
  const log =
    attempts.length === 0
      ? 'no attempts yet\n'
      : table(
          ['ATTEMPT', 'TIME', 'STATUS', 'MS', 'ERROR'],
          attempts.map((t) => [
            String(t.attempt),
            t.time,
            t.statusCode === null ? '-' : String(t.statusCode),
            String(t.durationMs),
            t.error ?? '',
          ]),
        );
  return `${head.join('\n')}\n\n${log}`;
}
