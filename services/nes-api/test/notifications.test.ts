/**
 * Notifications through the real service (PGlite, local executor, real kernels) to a real HTTP
 * receiver: signed webhook and Slack deliveries with event ids, the delivery log and redelivery,
 * a receiver down then up, targets refused by the address guard; and the signing, back-off and
 * URL rules on their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { notebookLabel } from '../src/metrics.ts';
import { retryDelayMs } from '../src/notifications/deliverer.ts';
import { freshnessNotification } from '../src/notifications/freshness.ts';
import { signatureHeader, verifySignature } from '../src/notifications/signing.ts';
import { targetPolicy, targetProblem } from '../src/notifications/target-url.ts';
import { type StartedService, startService } from '../src/service.ts';
import { Receiver, until } from './notification-receiver.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { Api } from './service-support.ts';

describe('notification rules', () => {
  test('signatures: HMAC-SHA256 over "t.body", checked with a tolerance, tampering refused', () => {
    const body = '{"id":"run-x-failed"}';
    const now = 1_800_000_000;
    const header = signatureHeader('whsec_test', body, now);
    assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/);
    assert.equal(verifySignature('whsec_test', body, header, now + 10), true);
    assert.equal(verifySignature('whsec_test', `${body} `, header, now), false, 'body changed');
    assert.equal(verifySignature('other', body, header, now), false, 'wrong secret');
    assert.equal(verifySignature('whsec_test', body, header, now + 301), false, 'too old');
    assert.equal(verifySignature('whsec_test', body, header.replace('t=18', 't=17'), now), false);
  });

  test('a schedule falling behind is one freshness_missed event per stale episode; catching up is none', () => {
    const stale = {
      type: 'schedule.stale' as const,
      scheduleId: 'sch1',
      scheduleName: 'daily',
      expectedLogicalDate: '2026-12-05T00:00:00.000Z',
      latestSucceededLogicalDate: '2026-12-04T00:00:00.000Z',
      lateSeconds: 4000,
      slaSeconds: 3600,
      at: '2026-12-06T01:06:40.000Z',
    };
    const event = freshnessNotification(stale);
    assert.equal(event?.type, 'freshness_missed');
    assert.equal(event?.id, 'freshness-sch1-2026-12-05T00:00:00.000Z');
    assert.deepEqual(event?.subject, { scheduleId: 'sch1' });
    assert.match(String(event?.data.summary), /daily missed its freshness SLA: 4000 s late/);
    assert.equal(freshnessNotification({ ...stale, type: 'schedule.fresh' }), null);
  });

  test("metrics label a notebook only when it is allow-listed (exactly, or by a prefix with '*')", () => {
    const allowed = ['github://acme/etl/daily.ipynb', 'github://acme/reports/*'];
    assert.equal(
      notebookLabel('github://acme/etl/daily.ipynb', allowed),
      'github://acme/etl/daily.ipynb',
    );
    assert.equal(
      notebookLabel('github://acme/reports/q1.ipynb', allowed),
      'github://acme/reports/q1.ipynb',
    );
    assert.equal(notebookLabel('github://acme/etl/daily.ipynb?x', allowed), 'other');
    assert.equal(notebookLabel('/home/u/nb.ipynb', []), 'other');
  });

  test('back-off is exponential with full jitter, capped', () => {
    assert.equal(
      retryDelayMs(1, 1000, 60_000, () => 1),
      1000,
    );
    assert.equal(
      retryDelayMs(4, 1000, 60_000, () => 1),
      8000,
    );
    assert.equal(
      retryDelayMs(20, 1000, 60_000, () => 1),
      60_000,
    );
    assert.equal(
      retryDelayMs(20, 1000, 60_000, () => 0),
      500,
      'never below half the base',
    );
    const spread = new Set(Array.from({ length: 50 }, () => retryDelayMs(6, 1000, 60_000)));
    assert.ok(spread.size > 10, 'jittered');
  });

  test('targets: loopback, link-local (metadata), private and odd schemes are refused unless allowed', () => {
    const strict = targetPolicy(undefined);
    assert.equal(targetProblem('https://hooks.example.com/nes', strict), null);
    assert.match(
      targetProblem('http://127.0.0.1:9/x', strict) ?? '',
      /127\.0\.0\.1 is a loopback address/,
    );
    assert.match(targetProblem('http://169.254.169.254/latest', strict) ?? '', /linkLocal/);
    assert.match(targetProblem('http://[::1]/', strict) ?? '', /loopback/);
    assert.match(targetProblem('http://10.1.2.3/', strict) ?? '', /private/);
    assert.match(targetProblem('http://2130706433/', strict) ?? '', /loopback/);
    assert.match(targetProblem('file:///etc/passwd', strict) ?? '', /file: URLs cannot/);
    assert.match(targetProblem('https://u:p@hooks.example.com/', strict) ?? '', /user name/);
    assert.match(targetProblem('not a url', strict) ?? '', /is not a URL/);
    assert.equal(targetProblem('http://127.0.0.1:9/x', targetPolicy('127.0.0.1')), null);
  });
});

const ws = workspace();
const ok = writeNotebook(ws.notebooks, 'ok.ipynb', [
  'rows = 3',
  "import nes\nnes.record('rows_loaded', rows)",
]);
const broken = writeNotebook(ws.notebooks, 'broken.ipynb', [
  'x = 1',
  "raise ValueError('bad <input> & more')",
]);

interface SubscriptionAnswer {
  subscription: { id: string; target: { kind: string; url: string } } & Record<string, unknown>;
  secret: string | null;
}
interface DeliveryBody {
  id: string;
  eventId: string;
  eventType: string;
  runId: string | null;
  status: string;
  attempts: number;
  lastStatus: number | null;
  log?: Array<{ attempt: number; statusCode: number | null; error: string | null }>;
}

describe('notifications through the service', () => {
  let service: StartedService;
  let api: Api;
  const hooks = new Receiver();
  const slack = new Receiver();

  before(async () => {
    await hooks.start();
    await slack.start();
    service = await startService({
      env: {
        NES_DATA_DIR: `${ws.root}/data`,
        NES_PORT: '0',
        NES_NOTEBOOK_ROOTS: ws.notebooks,
        NES_NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
        NES_NOTIFY_BACKOFF_MS: '100',
        NES_METRICS_NOTEBOOKS: ok,
      },
      log: () => undefined,
      executor: { warmKernels: { python3: 1 } },
      notifications: { pollMs: 100 },
    });
    api = new Api(service.url, service.adminToken);
  });
  after(async () => {
    await service?.close(5000);
    await hooks.down();
    await slack.down();
  });

  const subscribe = async (body: Record<string, unknown>) => {
    const created = await api.request<SubscriptionAnswer>(
      'POST',
      '/v1/notifications/subscriptions',
      body,
    );
    assert.equal(created.status, 201, created.text);
    return created.body;
  };
  const deliveries = async (query: string) =>
    (
      await api.request<{ deliveries: DeliveryBody[] }>(
        'GET',
        `/v1/notifications/deliveries?${query}`,
      )
    ).body.deliveries;

  test('signed webhook and Slack deliveries, each with its event id; the log and redelivery', async () => {
    const webhook = await subscribe({
      name: 'team hook',
      events: ['failed', 'succeeded'],
      labels: { team: 'data' },
      target: { kind: 'webhook', url: `${hooks.url}/nes` },
    });
    assert.match(webhook.secret ?? '', /^whsec_/, 'the secret is shown once');
    hooks.secret = webhook.secret ?? undefined;
    const shown = await api.request<Record<string, unknown>>(
      'GET',
      `/v1/notifications/subscriptions/${webhook.subscription.id}`,
    );
    assert.equal('secret' in shown.body, false, 'and never again');
    const chat = await subscribe({
      name: 'slack',
      events: ['failed'],
      notebook: broken,
      target: { kind: 'slack', url: `${slack.url}/services/T/B/X` },
    });
    assert.equal(chat.secret, null);

    const good = await api.submit({ notebook: ok, labels: { team: 'data' } });
    const bad = await api.submit({ notebook: broken, labels: { team: 'data' } });
    const other = await api.submit({ notebook: ok, labels: { team: 'web' } });
    for (const run of [good, bad, other]) await api.waitTerminal(run.id, 120_000);

    await until('two webhook deliveries', () => hooks.received.length >= 2);
    await until('one Slack message', () => slack.received.length >= 1);
    const ids = hooks.received.map((r) => r.eventId).sort();
    assert.deepEqual(ids, [`run-${bad.id}-failed`, `run-${good.id}-succeeded`].sort());
    assert.ok(
      hooks.received.every((r) => r.signed === true),
      'every delivery verifies',
    );
    const success = hooks.received.find((r) => r.eventId === `run-${good.id}-succeeded`);
    assert.equal(success?.headers['x-nes-event'], 'succeeded');
    assert.equal(success?.json.type, 'succeeded');
    assert.equal((success?.json.run as { id: string } | undefined)?.id, good.id);
    assert.deepEqual(success?.json.results, { rows_loaded: 3 });
    const failure = hooks.received.find((r) => r.eventId === `run-${bad.id}-failed`);
    const failedRun = failure?.json.run as { error: { ename: string } } | undefined;
    assert.equal(failedRun?.error.ename, 'ValueError');
    assert.equal(slack.received.length, 1);
    const text = String(slack.received[0]?.json.text);
    assert.match(
      text,
      new RegExp(`^:x: <${service.url}/runs/${bad.id}\\|broken.ipynb> run ${bad.id} failed`),
    );
    assert.match(text, /bad &lt;input&gt; &amp; more/, "Slack's mrkdwn is escaped");
    assert.equal(slack.received[0]?.headers['x-nes-signature'], undefined);

    // The log: delivered, with the receiver's status code per attempt.
    const log = await deliveries(`subscriptionId=${webhook.subscription.id}`);
    assert.equal(log.length, 2);
    assert.ok(log.every((d) => d.status === 'delivered' && d.lastStatus === 200));
    const one = await api.request<DeliveryBody>(
      'GET',
      `/v1/notifications/deliveries/${log[0]?.id}`,
    );
    assert.deepEqual(
      one.body.log?.map((a) => a.statusCode),
      [200],
    );

    // Redelivery sends the same event again, under the same event id.
    const again = await api.request<DeliveryBody>(
      'POST',
      `/v1/notifications/deliveries/${log[0]?.id}/redeliver`,
    );
    assert.equal(again.status, 200);
    await until('the redelivery', () => hooks.received.length === 3);
    assert.equal(hooks.received[2]?.eventId, log[0]?.eventId);
    assert.equal(hooks.received[2]?.signed, true);
  });

  test('a receiver down, then failing, then up: retried with back-off until delivered', async () => {
    const down = new Receiver();
    await down.start();
    const port = down.port;
    const sub = await subscribe({
      name: 'flaky',
      events: ['succeeded'],
      labels: { flaky: 'yes' },
      target: { kind: 'webhook', url: `${down.url}/hook` },
    });
    down.secret = sub.secret ?? undefined;
    await down.down();
    const run = await api.submit({ notebook: ok, labels: { flaky: 'yes' } });
    await api.waitTerminal(run.id, 120_000);
    const refused = await until('attempts against the closed port', async () => {
      const [d] = await deliveries(`subscriptionId=${sub.subscription.id}`);
      return d && d.attempts >= 2 ? d : null;
    });
    assert.equal(refused.status, 'pending');
    assert.equal(refused.lastStatus, null);
    // Up, but answering 503 for a while.
    down.status = 503;
    await down.start(port);
    await until('a 503 answered', () => down.received.length >= 1);
    down.status = 200;
    const delivered = await until('the delivery', async () => {
      const [d] = await deliveries(`subscriptionId=${sub.subscription.id}`);
      return d?.status === 'delivered' ? d : null;
    });
    const detail = await api.request<DeliveryBody>(
      'GET',
      `/v1/notifications/deliveries/${delivered.id}`,
    );
    const codes = detail.body.log?.map((a) => a.statusCode) ?? [];
    assert.equal(codes.at(-1), 200);
    assert.ok(codes.includes(503), JSON.stringify(detail.body.log));
    assert.ok(
      detail.body.log?.some(
        (a) => a.statusCode === null && /cannot connect|ECONNREFUSED/.test(a.error ?? ''),
      ),
    );
    assert.ok(down.received.every((r) => r.eventId === `run-${run.id}-succeeded` && r.signed));
    await down.down();
  });

  test('metrics: outcomes by allow-listed notebook, durations, queue depth, deliveries', async () => {
    const scrape = await api.request('GET', '/metrics');
    assert.equal(scrape.status, 200);
    const text = scrape.text;
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    const okLabel = ok.replaceAll('/', '\\/').replaceAll('.', '\\.');
    assert.ok(
      value(
        new RegExp(
          `nes_run_outcomes_total\\{notebook="${okLabel}",status="succeeded",failure_class="none"\\} (\\d+)`,
        ),
      ) >= 2,
      'the allow-listed notebook is its own label',
    );
    assert.ok(
      value(
        /nes_run_outcomes_total\{notebook="other",status="failed",failure_class="cell_error"\} (\d+)/,
      ) >= 1,
      'any other notebook is "other"',
    );
    assert.doesNotMatch(text, /notebook="[^"]*broken\.ipynb"/);
    assert.match(
      text,
      /nes_run_duration_seconds_bucket\{le="30",notebook="other",status="failed"\}/,
    );
    assert.match(text, /^nes_queue_depth \d+$/m);
    assert.match(text, /^nes_notification_outbox_pending \d+$/m);
    assert.ok(
      value(/nes_notification_deliveries_total\{target="webhook",outcome="delivered"\} (\d+)/) >= 3,
    );
    assert.ok(
      value(/nes_notification_deliveries_total\{target="webhook",outcome="retry"\} (\d+)/) >= 1,
    );
    assert.ok(
      value(/nes_notification_deliveries_total\{target="slack",outcome="delivered"\} (\d+)/) >= 1,
    );
  });

  test('bad subscriptions are refused with what is wrong', async () => {
    const metadata = await api.request('POST', '/v1/notifications/subscriptions', {
      name: 'metadata',
      events: ['failed'],
      target: { kind: 'webhook', url: 'http://169.254.169.254/latest/meta-data' },
    });
    assert.equal(metadata.status, 422);
    assert.match(
      metadata.text,
      /169\.254\.169\.254 is a linkLocal address; NES delivers notifications only to public addresses/,
    );
    const event = await api.request('POST', '/v1/notifications/subscriptions', {
      name: 'x',
      events: ['exploded'],
      target: { kind: 'webhook', url: 'https://hooks.example.com/' },
    });
    assert.equal(event.status, 400);
    const anonymous = await fetch(`${api.url}/v1/notifications/subscriptions`);
    assert.equal(anonymous.status, 401);
  });
});
