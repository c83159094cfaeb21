/**
 * `nes token` spawned for real against the real service (startService: PGlite, real HTTP), and
 * `nes serve` started with NES_ADMIN_TOKEN: its banner never prints that token.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type StartedService, startService } from '@nes/api';
import { startBanner } from '../src/serve.ts';

const BIN = fileURLToPath(new URL('../bin/nes.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'nes-cli-token-'));
let service: StartedService;

before(async () => {
  service = await startService({
    env: { NES_DATA_DIR: join(root, 'data'), NES_PORT: '0', NES_OUTPUT_PORT: '0' },
    log: () => undefined,
    executor: { warmKernels: {}, warmWorkers: 0 },
  });
});
after(async () => {
  await service?.close(0);
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

describe('nes token', () => {
  test('create prints the secret once on stdout; it works; list shows it without the secret; revoke ends it', async () => {
    const created = await nes([
      'token',
      'create',
      '--name',
      'airflow prod',
      '--scope',
      'submit',
      '--expires',
      '30d',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^nes_[\w-]{40,}$/);
    assert.equal(created.stdout, `${secret}\n`, 'stdout holds the secret alone');
    assert.match(created.stderr, /shown this once/);
    const id = /Created token (\S+) "airflow prod" \(submit; expires (\S+)\)/.exec(created.stderr);
    assert.ok(id, created.stderr);
    const days = (Date.parse(id[2] as string) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    // The secret authenticates with the scope it was given.
    assert.equal((await nes(['list'], secret)).code, 0);
    const whoami = await fetch(`${service.url}/v1/whoami`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    assert.equal(((await whoami.json()) as { name: string }).name, 'airflow prod');

    const list = await nes(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+NAME\s+SCOPES\s+STATE\s+CREATED\s+EXPIRES\s+LAST USED/);
    assert.ok(list.stdout.includes(id[1] as string) && list.stdout.includes('airflow prod'));
    assert.match(list.stdout, /admin \(service\)/);
    assert.ok(!list.stdout.includes(secret) && !list.stdout.includes(service.adminToken));
    const json = await nes(['token', 'list', '--json']);
    const tokens = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.ok(tokens.every((t) => !('secret' in t)));

    const revoked = await nes(['token', 'revoke', id[1] as string]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stderr, /"airflow prod": revoked at /);
    const refused = await nes(['list'], secret);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /rejected the token \(401/);
    // Revoked tokens are listed with --all only.
    assert.ok(!(await nes(['token', 'list'])).stdout.includes(id[1] as string));
    assert.match((await nes(['token', 'list', '--all'])).stdout, /airflow prod\s+submit\s+revoked/);
  });

  test('--json create holds the secret; bad input is a usage error that creates nothing', async () => {
    const created = await nes([
      'token',
      'create',
      '--name',
      'ci',
      '--scope',
      'read,submit',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as {
      secret: string;
      scopes: string[];
      expiresAt: null;
    };
    assert.deepEqual(token.scopes, ['read', 'submit']);
    assert.equal(token.expiresAt, null);
    assert.match(token.secret, /^nes_/);

    const before = (await fetch(`${service.url}/v1/tokens`, {
      headers: { authorization: `Bearer ${service.adminToken}` },
    }).then((r) => r.json())) as { tokens: unknown[] };
    for (const [args, message] of [
      [['token', 'create', '--scope', 'read'], /needs --name/],
      [
        ['token', 'create', '--name', 'x', '--scope', 'root'],
        /--scope root: expected read, submit, admin/,
      ],
      [
        ['token', 'create', '--name', 'x', '--expires', 'soon'],
        /--expires "soon": expected a duration/,
      ],
      [['token', 'create', '--name', 'x', '--expires', '2001-01-01'], /not in the future/],
      [['token', 'revoke'], /needs the token id/],
      [['token', 'remove', 'x'], /Invalid values|choices/i],
    ] as const) {
      const result = await nes([...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
    }
    const unknown = await nes(['token', 'revoke', 'tok_none']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /404/);
    const afterwards = (await fetch(`${service.url}/v1/tokens`, {
      headers: { authorization: `Bearer ${service.adminToken}` },
    }).then((r) => r.json())) as { tokens: unknown[] };
    assert.equal(afterwards.tokens.length, before.tokens.length);
  });

  test('a token without the admin scope is told which scope token commands need', async () => {
    const reader = JSON.parse(
      (await nes(['token', 'create', '--name', 'reader', '--json'])).stdout,
    ) as { secret: string };
    const refused = await nes(['token', 'list'], reader.secret);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /403 forbidden.*needs a token with the "admin" scope/);
  });
});

describe('nes serve', () => {
  test('the banner never prints an admin token that came from NES_ADMIN_TOKEN', async () => {
    const adminToken = 'nes_from-the-environment-0123456789';
    const dir = mkdtempSync(join(tmpdir(), 'nes-cli-serve-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir], {
      env: { ...process.env, NES_ADMIN_TOKEN: adminToken, NES_OUTPUT_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const giveUp = Date.now() + 120_000;
      while (!/Client: export/.test(output)) {
        assert.ok(Date.now() < giveUp, `nes serve did not start:\n${output}`);
        assert.equal(child.exitCode, null, `nes serve exited:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.match(output, /NES is running at http:\/\/127\.0\.0\.1:\d+/);
      assert.match(output, /admin token from NES_ADMIN_TOKEN \(not printed\)/);
      assert.match(output, /NES_TOKEN="\$NES_ADMIN_TOKEN"/);
      assert.ok(!output.includes(adminToken), `the banner printed the token:\n${output}`);
      const url = /NES is running at (\S+)/.exec(output)?.[1] as string;
      // The service does use it.
      const me = await fetch(`${url}/v1/whoami`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.equal(me.status, 200);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a generated admin token is printed, as Jupyter prints its token URL', () => {
    const banner = startBanner({
      url: 'http://127.0.0.1:8080',
      viewerUrl: 'http://127.0.0.1:8080/?token=nes_generated',
      adminToken: 'nes_generated',
      adminTokenSource: 'file',
      close: async () => undefined,
    });
    assert.match(banner, /\?token=nes_generated/);
    assert.match(banner, /NES_TOKEN=nes_generated/);
  });
});
