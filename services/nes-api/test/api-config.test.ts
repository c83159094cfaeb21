/** Configuration from NES_* variables and flags; tokens kept out of logs. */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { redactUrl } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startHarness } from './api-harness.ts';

describe('loadConfig', () => {
  test('defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, resolve('.nes'));
    assert.equal(config.store, resolve('.nes', 'store'));
    assert.equal(config.executor, 'local');
    assert.equal(config.databaseUrl, null);
    assert.equal(config.viewerOrigin, null);
    assert.equal(config.publicUrl, 'http://127.0.0.1:8080');
    assert.deepEqual(config.sandbox.forkKernels, { enabled: true, preload: ['numpy'] });
  });

  test('forked kernels: off, a preload list, none', () => {
    assert.equal(loadConfig({ NES_FORK_KERNELS: 'off' }).sandbox.forkKernels.enabled, false);
    const list = loadConfig({ NES_FORK_PRELOAD: 'numpy, matplotlib.figure ,pandas' });
    assert.deepEqual(list.sandbox.forkKernels.preload, ['numpy', 'matplotlib.figure', 'pandas']);
    assert.deepEqual(loadConfig({ NES_FORK_PRELOAD: 'none' }).sandbox.forkKernels.preload, []);
  });

  test('variables, flags over variables, token file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nes-config-'));
    await writeFile(join(dir, 'gh'), '  ghp_fromfile \n');
    const config = loadConfig(
      {
        NES_PORT: '9000',
        NES_HOST: '0.0.0.0',
        NES_NOTEBOOK_ROOTS: `${dir}:/srv/nb:`,
        NES_DATABASE_URL: 'postgres://u@db/nes',
        NES_STORE: 'gs://bucket/prefix',
        NES_EXECUTOR: 'kubernetes',
        NES_GITHUB_TOKEN_FILE: join(dir, 'gh'),
        NES_VIEWER_ORIGIN: 'https://viewer.example.com/app/',
        NES_ADMIN_TOKEN: 'a-long-enough-admin-token',
      },
      { PORT: '9001' },
    );
    assert.equal(config.port, 9001);
    assert.deepEqual(config.notebookRoots, [dir, '/srv/nb']);
    assert.equal(config.githubToken, 'ghp_fromfile');
    assert.equal(config.viewerOrigin, 'https://viewer.example.com');
    assert.equal(config.publicUrl, 'http://localhost:9001');
    assert.equal(config.executor, 'kubernetes');
  });

  test('a bad value names its variable', () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ NES_PORT: 'eighty' }, 'NES_PORT'],
      [{ NES_PORT: '70000' }, 'NES_PORT'],
      [{ NES_EXECUTOR: 'docker' }, 'NES_EXECUTOR'],
      [{ NES_DATABASE_URL: 'mysql://x' }, 'NES_DATABASE_URL'],
      [{ NES_VIEWER_ORIGIN: 'not a url' }, 'NES_VIEWER_ORIGIN'],
      [{ NES_GITHUB_API_URL: 'ftp://x' }, 'NES_GITHUB_API_URL'],
      [{ NES_ADMIN_TOKEN: 'short' }, 'NES_ADMIN_TOKEN'],
      [{ NES_GITHUB_TOKEN_FILE: '/nonexistent/token' }, 'NES_GITHUB_TOKEN_FILE'],
      [{ NES_FORK_KERNELS: 'yes' }, 'NES_FORK_KERNELS'],
      [{ NES_FORK_PRELOAD: 'numpy,os; import evil' }, 'NES_FORK_PRELOAD'],
    ];
    for (const [env, variable] of bad) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === variable &&
          error.message.startsWith(variable),
        variable,
      );
    }
    assert.throws(() => loadConfig({}, { PORT: 'x' }), /--port/);
  });
});

describe('logging', () => {
  test('the Authorization header and ?token= never reach a log line', async (t) => {
    assert.equal(
      redactUrl('/v1/events?a=1&token=secret&b=2'),
      '/v1/events?a=1&token=[REDACTED]&b=2',
    );
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const h = await startHarness({ logger: { level: 'trace', stream: sink } });
    t.after(() => h.close());
    await h.app.inject({ method: 'GET', url: '/v1/runs', headers: h.auth(h.tokens.admin) });
    await h.app.inject({ method: 'GET', url: `/v1/runs/nope/events?token=${h.tokens.read}` });
    await h.app.inject({
      method: 'GET',
      url: '/v1/runs',
      headers: { authorization: 'Bearer wrong-secret-value' },
    });
    const log = lines.join('');
    assert.ok(log.includes('/v1/runs'), 'requests are logged');
    for (const secret of [h.tokens.admin, h.tokens.read, 'wrong-secret-value']) {
      assert.ok(!log.includes(secret), 'a token reached the log');
    }
  });

  test('a percent-encoded token name: authenticates as `token` and is redacted as `token`', async (t) => {
    for (const [url, redacted] of [
      ['/v1/events?%74oken=s3cret', '/v1/events?%74oken=[REDACTED]'],
      ['/v1/events?to%6Ben=s3cret&x=1', '/v1/events?to%6Ben=[REDACTED]&x=1'],
      ['/v1/events?%54OKEN=s3cret', '/v1/events?%54OKEN=[REDACTED]'],
      ['/?a=1&token=one&%74oken=two#h', '/?a=1&token=[REDACTED]&%74oken=[REDACTED]#h'],
      ['/v1/events?tokens=public&%zz=1', '/v1/events?tokens=public&%zz=1'],
      ['/v1/events', '/v1/events'],
    ] as const) {
      assert.equal(redactUrl(url), redacted, url);
    }
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const h = await startHarness({ logger: { level: 'trace', stream: sink } });
    t.after(() => h.close());
    // The encoded name is the token parameter for the route (past auth: the run is unknown)...
    const encoded = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/nope/notebook?%74oken=${h.tokens.read}`,
    });
    assert.equal(encoded.statusCode, 404, encoded.body);
    const events = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/nope/events?t%6fken=${h.tokens.admin}`,
    });
    assert.equal(events.statusCode, 404, events.body);
    // ...and for the log, which names the request with the value redacted.
    const log = lines.join('');
    assert.match(log, /\/v1\/runs\/nope\/notebook\?%74oken=\[REDACTED\]/);
    for (const secret of [h.tokens.read, h.tokens.admin]) {
      assert.ok(!log.includes(secret), `a token reached the log:\n${log}`);
    }
  });
});
