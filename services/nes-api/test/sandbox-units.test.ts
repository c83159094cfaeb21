/**
 * The sandbox's pure parts: the allow-listed environments (nothing of the service's own reaches a
 * worker or a run unless listed), the bwrap command line, the configuration, and what the
 * service does when bubblewrap cannot work (fail closed with NES_SANDBOX=require, a loud
 * warning otherwise). The real sandbox is exercised by sandbox-hostile.test.ts.
 */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { bubblewrapCommand, RUN_DIR_INSIDE } from '../src/executors/sandbox/bubblewrap.ts';
import { runEnvironment, workerEnvironment } from '../src/executors/sandbox/environment.ts';
import { nicedCommand } from '../src/executors/sandbox/priority.ts';
import { planSandbox, SandboxUnavailableError } from '../src/executors/sandbox/sandbox-plan.ts';

const SERVICE_ENV = {
  PATH: '/usr/bin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  LC_TIME: 'en_GB.UTF-8',
  TZ: 'Europe/Paris',
  NES_ADMIN_TOKEN: 'admin-secret',
  NES_GITHUB_TOKEN: 'ghp_secret',
  NES_DATABASE_URL: 'postgres://u:p@db/nes',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  MLFLOW_TRACKING_URI: 'http://mlflow',
  STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9',
  GOOGLE_APPLICATION_CREDENTIALS: '/secrets/key.json',
  NES_GITHUB_API_URL: 'https://ghe/api/v3',
};
const SECRETS = ['admin-secret', 'ghp_secret', 'postgres://u:p@db/nes', 'aws-secret'];

describe('allow-listed environments', () => {
  test('a worker gets locale, paths and the store settings, never a service secret', () => {
    const env = workerEnvironment(SERVICE_ENV, { NES_STORE: '/data/store' });
    for (const secret of SECRETS) assert.ok(!Object.values(env).includes(secret), secret);
    assert.equal(env.NES_STORE, '/data/store');
    assert.equal(env.LANG, 'C.UTF-8');
    assert.equal(env.LC_TIME, 'en_GB.UTF-8');
    assert.equal(env.STORAGE_EMULATOR_HOST, 'http://127.0.0.1:9');
    assert.equal(env.NES_GITHUB_API_URL, 'https://ghe/api/v3');
    assert.equal(env.MLFLOW_TRACKING_URI, undefined);
  });

  test("a run gets locale, its own HOME and Jupyter directories, and only the operator's names", () => {
    const env = runEnvironment(SERVICE_ENV, {
      home: RUN_DIR_INSIDE,
      pathFirst: ['/opt/py/bin'],
      passNames: ['MLFLOW_TRACKING_URI'],
      explicit: { EXTRA: '1' },
    });
    for (const secret of SECRETS) assert.ok(!Object.values(env).includes(secret), secret);
    assert.equal(env.GOOGLE_APPLICATION_CREDENTIALS, undefined);
    assert.equal(env.STORAGE_EMULATOR_HOST, undefined);
    assert.equal(env.HOME, RUN_DIR_INSIDE);
    assert.equal(env.JUPYTER_RUNTIME_DIR, `${RUN_DIR_INSIDE}/.jupyter/runtime`);
    assert.equal(env.PATH, '/opt/py/bin:/usr/local/bin:/usr/bin:/bin');
    assert.equal(env.MLFLOW_TRACKING_URI, 'http://mlflow');
    assert.equal(env.TZ, 'Europe/Paris');
    assert.equal(env.EXTRA, '1');
  });
});

describe('the bwrap command', () => {
  const plan = {
    bwrap: '/usr/bin/bwrap',
    setpriv: '/usr/bin/setpriv',
    user: { name: 'nes-sandbox', uid: 999, gid: 995 },
    network: 'host' as const,
    readOnly: ['/repo/node_modules', '/repo/.tools/py', '/repo/node_modules/node'],
    hidden: ['/repo/node_modules/.nes-data', '/elsewhere/data'],
  };
  const { file, args } = bubblewrapCommand(plan, {
    dir: '/elsewhere/data/work/1-ab',
    file: '/repo/.tools/py/bin/python',
    args: ['-c', 'x'],
  });
  const joined = args.join(' ');

  test('new namespaces, dies with the executor, a fresh /proc, a private writable /tmp', () => {
    assert.equal(file, '/usr/bin/bwrap');
    for (const flag of ['--unshare-pid', '--unshare-ipc', '--die-with-parent', '--new-session']) {
      assert.ok(args.includes(flag), flag);
    }
    assert.match(joined, /--proc \/proc --dev \/dev --perms 1777 --tmpfs \/tmp/);
    assert.ok(!args.includes('--unshare-user'), 'root needs no user namespace');
    assert.ok(!args.includes('--unshare-net'), 'the host network unless asked');
    const offline = bubblewrapCommand(
      { ...plan, network: 'none' },
      { dir: '/d', file: 'f', args: [] },
    );
    assert.ok(offline.args.includes('--unshare-net'));
  });

  test('read-only binds once each; the run directory alone writable, at /home/run', () => {
    assert.match(joined, /--ro-bind \/repo\/node_modules \/repo\/node_modules/);
    assert.ok(!joined.includes('--ro-bind /repo/node_modules/node '), 'a bound parent covers it');
    assert.equal(args.filter((a) => a === '--bind').length, 1);
    assert.match(joined, /--bind \/elsewhere\/data\/work\/1-ab \/home\/run --chdir \/home\/run/);
    // A secret below a bound path is hidden; one outside every bound path is simply absent.
    assert.match(joined, /--tmpfs \/repo\/node_modules\/\.nes-data/);
    assert.ok(!joined.includes('/elsewhere/data --'), 'the data directory is never bound');
  });

  test('a kernel environment under the host /tmp is bound over the private /tmp, never /tmp itself', () => {
    const inTmp = bubblewrapCommand(
      { ...plan, readOnly: ['/tmp/checkout/.tools/py', '/tmp'] },
      { dir: '/d', file: 'f', args: [] },
    ).args.join(' ');
    const privateTmp = inTmp.indexOf('--tmpfs /tmp ');
    const env = inTmp.indexOf('--ro-bind /tmp/checkout/.tools/py /tmp/checkout/.tools/py');
    assert.ok(privateTmp >= 0 && env > privateTmp, inTmp);
    assert.ok(!inTmp.includes('--ro-bind /tmp /tmp'), 'the host /tmp stays out');
  });

  test('under root, setpriv drops to the sandbox user with nothing left', () => {
    const at = args.indexOf('/usr/bin/setpriv');
    assert.ok(at > args.indexOf('--'), 'after the sandbox is set up');
    assert.deepEqual(args.slice(at + 1, at + 8), [
      '--reuid=999',
      '--regid=995',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    ]);
    assert.deepEqual(args.slice(-3), ['/repo/.tools/py/bin/python', '-c', 'x']);
  });
});

describe('when bubblewrap cannot work', () => {
  const unavailable = async () => ({ ok: false as const, reason: 'bwrap: no user namespaces' });

  test('NES_SANDBOX=require refuses to start, naming why', async () => {
    await assert.rejects(
      planSandbox({ mode: 'require' }, { hidden: [], probe: unavailable }),
      (error: unknown) =>
        error instanceof SandboxUnavailableError && /no user namespaces/.test(error.message),
    );
  });

  test('auto starts unsandboxed and says so loudly; off never probes', async () => {
    const auto = await planSandbox({ mode: 'auto' }, { hidden: [], probe: unavailable });
    assert.equal(auto.plan, null);
    assert.equal(auto.status.sandboxed, false);
    assert.match(auto.status.detail, /RUNS ARE NOT SANDBOXED \(bwrap: no user namespaces\)/);
    assert.match(auto.status.detail, /NES_SANDBOX=require/);
    const off = await planSandbox(
      { mode: 'off' },
      { hidden: [], probe: () => Promise.reject(new Error('probed')) },
    );
    assert.equal(off.status.sandboxed, false);
  });
});

describe('run priority', () => {
  test('a run starts at NES_RUN_NICE (nice -n adds to the service niceness); 0 leaves the command alone', () => {
    const server = { file: 'bwrap', args: ['--', 'python', '-m', 'jupyter_server'] };
    const own = getPriority();
    assert.deepEqual(nicedCommand(0, server), server);
    if (own < 19) {
      assert.deepEqual(nicedCommand(19, server), {
        file: 'nice',
        args: ['-n', String(19 - own), ...[server.file, ...server.args]],
      });
    }
  });
});

describe('configuration', () => {
  test('NES_SANDBOX, NES_SANDBOX_USER, NES_RUN_ENV, NES_KERNEL_SERVER and NES_RUN_NICE are checked', () => {
    const base = { NES_DATA_DIR: '/tmp/nes-config-test' };
    assert.deepEqual(loadConfig(base).sandbox, {
      mode: 'auto',
      user: 'nes-sandbox',
      network: 'host',
      readOnlyPaths: [],
      runEnv: [],
      forkKernels: { enabled: true, preload: ['numpy'] },
      kernelServer: 'none',
      nice: 10,
    });
    assert.equal(
      loadConfig({ ...base, NES_KERNEL_SERVER: 'per-run' }).sandbox.kernelServer,
      'per-run',
    );
    assert.throws(
      () => loadConfig({ ...base, NES_KERNEL_SERVER: 'shared' }),
      /NES_KERNEL_SERVER.*"none" or "per-run"/,
    );
    assert.equal(loadConfig({ ...base, NES_RUN_NICE: '0' }).sandbox.nice, 0);
    assert.throws(() => loadConfig({ ...base, NES_RUN_NICE: '20' }), /NES_RUN_NICE/);
    const set = loadConfig({
      ...base,
      NES_SANDBOX: 'require',
      NES_RUN_ENV: 'MLFLOW_TRACKING_URI, HF_HOME',
      NES_SANDBOX_READONLY: '/opt/r:/opt/julia',
    }).sandbox;
    assert.equal(set.mode, 'require');
    assert.deepEqual(set.runEnv, ['MLFLOW_TRACKING_URI', 'HF_HOME']);
    assert.deepEqual(set.readOnlyPaths, ['/opt/r', '/opt/julia']);
    assert.throws(() => loadConfig({ ...base, NES_SANDBOX: 'maybe' }), ConfigError);
    assert.equal(loadConfig({ ...base, NES_SANDBOX_NETWORK: 'none' }).sandbox.network, 'none');
    assert.throws(() => loadConfig({ ...base, NES_SANDBOX_NETWORK: 'some' }), ConfigError);
    assert.throws(() => loadConfig({ ...base, NES_SANDBOX_USER: 'root; rm' }), ConfigError);
    assert.throws(
      () => loadConfig({ ...base, NES_RUN_ENV: 'NES_ADMIN_TOKEN' }),
      /NES_\* never are/,
    );
  });
});
