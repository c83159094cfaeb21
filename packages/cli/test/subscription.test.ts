/**
 * `nes subscription` spawned for real against the real service (startService: PGlite, real HTTP,
 * a real kernel) and a real webhook receiver that checks signatures: create (the secret printed
 * once, and it is the one that signs), list, get, the delivery log with the receiver's status
 * codes, redeliver (same event id), delete, and bad input that creates nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type StartedService, startService } from '@nes/api';
import { Receiver } from '../../../services/nes-api/test/notification-receiver.ts';

const BIN = fileURLToPath(new URL('../bin/nes.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'nes-cli-subscription-'));
const notebooks = join(root, 'notebooks');
const broken = join(notebooks, 'broken.ipynb');
const receiver = new Receiver();
let service: StartedService;

before(async () => {
  mkdirSync(notebooks, { recursive: true });
  writeFileSync(
    broken,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: [
        {
          cell_type: 'code',
          id: 'c0',
          metadata: {},
          source: 'raise ValueError("boom")',
          outputs: [],
          execution_count: null,
        },
      ],
    }),
  );
  await receiver.start();
  service = await startService({
    env: {
      NES_DATA_DIR: join(root, 'data'),
      NES_PORT: '0',
      NES_OUTPUT_PORT: '0',
      NES_NOTEBOOK_ROOTS: notebooks,
      NES_NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      NES_NOTIFY_BACKOFF_MS: '50',
      // Given up on after a second of refusals, so the log shows a failed delivery to redeliver.
      NES_NOTIFY_RETRY_SECONDS: '1',
    },
    log: () => undefined,
    executor: { warmKernels: { python3: 1 } },
    notifications: { pollMs: 100 },
  });
});
after(async () => {
  await service?.close(5000);
  await receiver.down();
  rmSync(root, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function nes(args: string[], token = service.adminToken): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NES_URL: service.url, NES_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function nesJson<T>(args: string[]): Promise<T> {
  const result = await nes([...args, '--json']);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Polls until `check` returns a value (no fixed sleeps; generous for a loaded machine). */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const giveUp = Date.now() + 120_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < giveUp, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface DeliveryJson {
  id: string;
  eventId: string;
  eventType: string;
  runId: string | null;
  status: string;
  attempts: number;
  lastStatus: number | null;
  log?: Array<{ attempt: number; statusCode: number | null }>;
}

describe('nes subscription', () => {
  test('create prints the secret once; the log shows status codes; redeliver; delete', async () => {
    receiver.status = 503;
    const created = await nes([
      'subscription',
      'create',
      '--name',
      'data team hook',
      '--event',
      'failed,succeeded',
      '--label',
      'team=data',
      '--webhook',
      `${receiver.url}/hook`,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^whsec_\w+/);
    assert.equal(created.stdout, `${secret}\n`, 'stdout holds the secret alone');
    assert.match(created.stderr, /shown this once/);
    const id =
      /Created subscription (\S+) "data team hook": failed, succeeded of team=data to webhook /.exec(
        created.stderr,
      )?.[1];
    assert.ok(id, created.stderr);
    receiver.secret = secret;

    const listed = await nes(['subscriptions', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+NAME\s+EVENTS\s+RUNS\s+TARGET\s+CREATED/);
    assert.match(
      listed.stdout,
      new RegExp(
        `${id}\\s+data team hook\\s+failed,succeeded\\s+team=data\\s+webhook http://127\\.0\\.0\\.1`,
      ),
    );
    const shown = await nes(['subscription', 'get', id]);
    assert.match(
      shown.stdout,
      /events:\s+failed, succeeded\nruns:\s+team=data\ntarget:\s+webhook /,
    );
    const everything = [
      listed.stdout,
      shown.stdout,
      JSON.stringify(await nesJson(['subscription', 'list'])),
      JSON.stringify(await nesJson(['subscription', 'get', id])),
    ].join('\n');
    assert.ok(!everything.includes(secret), 'the secret is never shown again');

    // A failed run the subscription selects: the receiver refuses it until the outbox gives up.
    const submitted = await fetch(`${service.url}/v1/runs`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${service.adminToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ notebook: broken, labels: { team: 'data' } }),
    });
    assert.equal(submitted.status, 201, await submitted.clone().text());
    const runId = ((await submitted.json()) as { id: string }).id;
    const gaveUp = await until('the delivery to fail', async () => {
      const [d] = await nesJson<DeliveryJson[]>(['subscription', 'deliveries', id]);
      return d?.status === 'failed' ? d : undefined;
    });
    assert.equal(gaveUp.eventType, 'failed');
    assert.equal(gaveUp.runId, runId);
    assert.equal(gaveUp.lastStatus, 503);
    assert.ok(gaveUp.attempts >= 1);

    const log = await nes(['subscription', 'deliveries', '--run', runId]);
    assert.match(
      log.stdout,
      /^ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST\s+RUN\s+SUBSCRIPTION\s+CREATED/,
    );
    assert.match(
      log.stdout,
      new RegExp(`${gaveUp.id}\\s+failed\\s+failed\\s+\\d+\\s+503\\s+${runId}\\s+${id}`),
    );
    const one = await nes(['subscription', 'delivery', gaveUp.id]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`event:\\s+${gaveUp.eventId}`));
    assert.match(one.stdout, /ATTEMPT\s+TIME\s+STATUS\s+MS\s+ERROR\n1\s+\S+\s+503\s/);

    receiver.status = 200;
    const again = await nes(['subscription', 'redeliver', gaveUp.id]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`queued again \\(event ${gaveUp.eventId}`));
    const delivered = await until('the redelivery', async () => {
      const d = await nesJson<DeliveryJson>(['subscription', 'delivery', gaveUp.id]);
      return d.status === 'delivered' ? d : undefined;
    });
    assert.equal(delivered.lastStatus, 200);
    assert.equal(delivered.log?.at(-1)?.statusCode, 200);
    // Every attempt carried the same event id, signed with the secret printed at creation.
    const about = receiver.received.filter((r) => r.eventId === gaveUp.eventId);
    assert.equal(about.length, delivered.attempts);
    assert.ok(about.every((r) => r.signed === true && r.path === '/hook'));
    assert.equal(receiver.received.filter((r) => r.eventId !== gaveUp.eventId).length, 0);
    assert.match(
      (await nes(['subscription', 'delivery', gaveUp.id])).stdout,
      /delivered:\s+\S+[\s\S]*\n\d+\s+\S+\s+200\s/,
    );

    const deleted = await nes(['subscription', 'delete', id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stderr, /deleted, with its deliveries/);
    assert.deepEqual(await nesJson(['subscription', 'list']), []);
    const gone = await nes(['subscription', 'get', id]);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /404/);
  });

  test('bad input is a usage error or a refusal that names the problem and creates nothing', async () => {
    const before = await nesJson<unknown[]>(['subscription', 'list']);
    const url = `${receiver.url}/x`;
    for (const [args, message] of [
      [['subscription', 'create', '--event', 'failed', '--webhook', url], /needs --name/],
      [
        ['subscription', 'create', '--name', 'x', '--webhook', url],
        /needs --event \(failed, succeeded/,
      ],
      [
        ['subscription', 'create', '--name', 'x', '--event', 'exploded', '--webhook', url],
        /--event exploded: expected failed, succeeded, cancelled, timed_out, sweep_finished, freshness_missed/,
      ],
      [
        ['subscription', 'create', '--name', 'x', '--event', 'failed'],
        /one target: --webhook URL or --slack URL/,
      ],
      [
        [
          'subscription',
          'create',
          '--name',
          'x',
          '--event',
          'failed',
          '--webhook',
          url,
          '--slack',
          url,
        ],
        /one target/,
      ],
      [
        [
          'subscription',
          'create',
          '--name',
          'x',
          '--event',
          'failed',
          '--webhook',
          'http://169.254.169.254/latest',
        ],
        /target\.url: /,
      ],
      [
        [
          'subscription',
          'create',
          '--name',
          'x',
          '--event',
          'failed',
          '--webhook',
          url,
          '--label',
          'nokey',
        ],
        /--label nokey: expected KEY=VALUE/,
      ],
      [['subscription', 'delete'], /needs the subscription id/],
      [['subscription', 'redeliver'], /needs the delivery id/],
      [
        ['subscription', 'deliveries', '--limit', '0'],
        /--limit 0: expected a whole number above 0/,
      ],
      [['subscription', 'deliveries', '--status', 'lost'], /Invalid values|choices/i],
      [['subscription', 'mute', 'x'], /Invalid values|choices/i],
    ] as const) {
      const result = await nes([...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
    }
    assert.deepEqual(await nesJson(['subscription', 'list']), before);
    const slack = await nesJson<{ secret: string | null; subscription: { id: string } }>([
      'subscription',
      'create',
      '--name',
      'chat',
      '--event',
      'sweep_finished',
      '--slack',
      `${receiver.url}/services/T/B/X`,
    ]);
    assert.equal(slack.secret, null, 'a Slack target has no signing secret');
    assert.equal((await nes(['subscription', 'delete', slack.subscription.id])).code, 0);
  });

  test('a token without the admin scope is told which scope subscription commands need', async () => {
    const reader = (await fetch(`${service.url}/v1/tokens`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${service.adminToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'reader', scopes: ['read'] }),
    }).then((r) => r.json())) as { secret: string };
    const refused = await nes(['subscription', 'list'], reader.secret);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /403 forbidden.*needs a token with the "admin" scope/);
  });
});
