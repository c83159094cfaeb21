/**
 * A notebook is untrusted code: through the real service (`nes serve` in a child process, the
 * local executor, real kernels in their sandboxes), a hostile notebook tries every escape a
 * notebook author has against the embedded default while another run is in flight, and each must
 * be refused: the service's secrets in its environment or its parent's, other processes'
 * environments and command lines, the data directory, the database, the admin token file, the
 * store, other runs' and the pool's kernel connection files and directories, writing outside its
 * directory, signalling the other run's kernel and the API. The other run and a normal notebook
 * still succeed with their outputs.
 *
 * The sandbox is required here (NES_SANDBOX=require), without network (NES_SANDBOX_NETWORK=none,
 * so the notebook cannot reach the API's port either): scripts/setup.sh installs bubblewrap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { alive, printed, type ServiceProcess, spawnService } from './service-support.ts';

const ws = workspace();
const dataDir = join(ws.root, 'data');
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SECRETS = {
  NES_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
  NES_GITHUB_TOKEN: `ghp_${randomBytes(16).toString('hex')}`,
  AWS_SECRET_ACCESS_KEY: `aws-${randomBytes(16).toString('hex')}`,
  PGPASSWORD: `pg-${randomBytes(16).toString('hex')}`,
};
const ADMIN_TOKEN_FILE_MARKER = `file-${randomBytes(16).toString('hex')}`;

const hostile = writeNotebook(ws.notebooks, 'hostile.ipynb', [
  'probe = "{}"',
  readFileSync(fileURLToPath(new URL('./sandbox-hostile.py', import.meta.url)), 'utf8'),
]);
const victim = writeNotebook(ws.notebooks, 'victim.ipynb', [
  'seconds = 10',
  'import time; print("victim started", flush=True); time.sleep(seconds)',
  'print("victim done")',
]);
const normal = writeNotebook(ws.notebooks, 'normal.ipynb', [
  'n = 3',
  'print(sum(range(n)))',
  'import tempfile\nwith tempfile.NamedTemporaryFile() as f: f.write(b"x")\nopen("own.txt", "w").write("mine")\nprint("files ok")',
  'from IPython.display import display, HTML\ndisplay(HTML("<b>shown</b>"))\n"last value"',
]);

let service: ServiceProcess;

before(async () => {
  // An admin token file as `nes serve` keeps one when it generates the token.
  rmSync(dataDir, { recursive: true, force: true });
  service = await spawnService({
    ...SECRETS,
    NES_DATA_DIR: dataDir,
    NES_NOTEBOOK_ROOTS: ws.notebooks,
    NES_SANDBOX: 'require',
    NES_SANDBOX_NETWORK: 'none',
  });
  writeFileSync(join(dataDir, 'admin-token'), `${ADMIN_TOKEN_FILE_MARKER}\n`, { mode: 0o600 });
});

after(async () => {
  if (service && alive(service.child.pid as number)) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});

/** Every process below `root` (pid -> command line), from /proc on the host. */
function descendants(root: number): Map<number, string[]> {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out = new Map<number, string[]>();
  const frontier = [root];
  while (frontier.length > 0) {
    const pid = frontier.pop() as number;
    for (const [child, ppid] of parent) {
      if (ppid !== pid || out.has(child)) continue;
      try {
        out.set(child, readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0'));
      } catch {
        continue;
      }
      frontier.push(child);
    }
  }
  return out;
}

const FORK_TEMPLATE = 'nes_kernel_fork.template';

/** The kernel fork server's socket (from its command line), if the service runs one. */
function forkSocketOf(processes: Map<number, string[]>): string | null {
  for (const argv of processes.values()) {
    const at = argv.indexOf('--socket');
    if (argv.includes(FORK_TEMPLATE) && at >= 0) return argv[at + 1] as string;
  }
  return null;
}

/**
 * Kernels below the service: started ones (`ipykernel_launcher` in their command line) and
 * forked ones (children of the fork server, so its command line, in the fork server's list).
 */
function kernelsOf(processes: Map<number, string[]>): {
  pids: number[];
  files: string[];
  forked: number[];
} {
  const pids: number[] = [];
  const files: string[] = [];
  const forked: number[] = [];
  for (const [pid, argv] of processes) {
    if (argv.includes(FORK_TEMPLATE)) {
      const parent = parentOf(pid);
      if (parent !== null && processes.get(parent)?.includes(FORK_TEMPLATE)) {
        pids.push(pid);
        forked.push(pid);
      }
      continue;
    }
    if (!argv.some((a) => a.includes('ipykernel_launcher'))) continue;
    pids.push(pid);
    const f = argv.indexOf('-f');
    if (f >= 0 && argv[f + 1]) files.push(argv[f + 1] as string);
  }
  return { pids, files, forked };
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

describe('a hostile notebook against the embedded service', () => {
  test('every escape is refused; the other run and a normal notebook succeed', async () => {
    const api = service.api;
    const other = await api.submit({ notebook: victim, parameters: { seconds: 10 } });
    await api.waitFor(other.id, (r) => r.status === 'running' || r.status !== 'queued');

    // The other run's kernel and the pool's warm ones (refilled in the background).
    let processes = descendants(service.child.pid as number);
    const giveUp = performance.now() + 30_000;
    while (kernelsOf(processes).pids.length < 3 && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      processes = descendants(service.child.pid as number);
    }
    const kernels = kernelsOf(processes);
    assert.ok(kernels.pids.length >= 2, `${kernels.pids.length} kernels under the service`);
    // As root (a sandbox without a user namespace) kernels are forked from the service's template,
    // each inside its own run's sandbox; otherwise they start normally (fork-template.ts).
    const forking = process.getuid?.() === 0;
    const forkSocket = forkSocketOf(processes);
    if (forking) {
      assert.ok(forkSocket !== null, 'the service runs a kernel fork server');
      assert.ok(kernels.forked.length >= 1, `${kernels.forked.length} forked kernels`);
    }
    const workDir = join(dataDir, 'work');
    const runDirs = listOrEmpty(workDir);
    const hostConnectionFiles = runDirs.flatMap((dir) => [
      ...listOrEmpty(join(dir, '.jupyter', 'runtime')).filter((f) => f.endsWith('.json')),
      // A kernel without a server has its connection file and sockets in the run's directory.
      ...listOrEmpty(dir).filter((f) => f.endsWith('/.nes-kernel.json')),
    ]);
    const kernelSockets = runDirs.flatMap((dir) =>
      listOrEmpty(dir).filter((f) => /\/k-[1-5]$/.test(f)),
    );
    assert.ok(
      kernelSockets.length > 0,
      'kernels without a server have sockets in their run directories',
    );
    const nonce = randomBytes(6).toString('hex');
    const writeTargets = [
      join(REPO, `planted-${nonce}.txt`),
      join(ws.notebooks, `planted-${nonce}.txt`),
      join(homedir(), `planted-${nonce}.txt`),
      join(dataDir, `planted-${nonce}.txt`),
      `/etc/planted-${nonce}`,
    ];
    const hostTmpFile = join(tmpdir(), `nes-planted-${nonce}`);
    const probe = {
      secretNames: Object.keys(SECRETS).map((name) => `${name}=`),
      apiPid: service.child.pid,
      apiUrl: api.url,
      servicePids: [...processes.keys()],
      victimPids: kernels.pids,
      connectionFiles: [...new Set([...kernels.files, ...hostConnectionFiles])],
      kernelSockets,
      dataPaths: [dataDir, ...listOrEmpty(dataDir)],
      adminTokenFile: join(dataDir, 'admin-token'),
      store: join(dataDir, 'store'),
      workDir,
      runDirs,
      writeTargets,
      hostTmpFile,
      forkSocket,
    };

    try {
      const attack = await api.submit({
        notebook: hostile,
        parameters: { probe: JSON.stringify(probe) },
      });
      const attacked = await api.waitTerminal(attack.id, 120_000);
      assert.ok(alive(service.child.pid as number), 'the API survived');
      assert.equal(attacked.status, 'succeeded', JSON.stringify(attacked.error));
      const nb = await api.notebook(attack.id);
      const text = printed(nb);
      const verdictLine = text.split('\n').find((line) => line.startsWith('VERDICT '));
      assert.ok(verdictLine, `the hostile notebook reported: ${text.slice(-2000)}`);
      const verdict = JSON.parse(verdictLine.slice('VERDICT '.length)) as Record<string, string>;
      const escaped = Object.entries(verdict).filter(([, v]) => v.startsWith('ESCAPED'));
      assert.deepEqual(escaped, [], 'escapes that were not refused');
      // Every kind of attempt was made (a probe that found nothing to try proves nothing).
      for (const kind of [
        'os.environ',
        '/proc environ+cmdline of parent',
        'read /proc/',
        'signal 0 to',
        `list ${dataDir}`,
        'read the admin token',
        'write into the store',
        'open ',
        'connect to the kernel socket',
        `list ${workDir}`,
        'write ',
        'connect to the API',
        "SIGKILL the other run's kernel",
        'SIGKILL the API',
      ]) {
        assert.ok(
          Object.keys(verdict).some((key) => key.startsWith(kind)),
          `no attempt "${kind}"`,
        );
      }
      // A kernel forked on the notebook's own request lands inside this run's sandbox, as its
      // user: the probes it ran are among the verdicts (all refused, checked above).
      if (forking) {
        for (const kind of [
          `list ${workDir} from a kernel forked on request`,
          'a forked kernel runs as root',
          'a forked kernel sees processes this run does not',
        ]) {
          assert.ok(kind in verdict, `no "${kind}": ${verdict['fork a kernel on request']}`);
        }
      }
      // Nothing secret in anything the notebook could read and print.
      const outputs = JSON.stringify(nb.cells.map((cell: { outputs?: unknown }) => cell.outputs));
      for (const [name, value] of Object.entries(SECRETS)) {
        assert.ok(!outputs.includes(value), `${name} reached the notebook`);
      }
      assert.ok(!outputs.includes(ADMIN_TOKEN_FILE_MARKER), 'the admin token file was read');
      for (const path of [...writeTargets, hostTmpFile]) {
        assert.ok(!existsSync(path), `${path} was written`);
      }

      const otherDone = await api.waitTerminal(other.id, 60_000);
      assert.equal(otherDone.status, 'succeeded', JSON.stringify(otherDone.error));
      assert.match(printed(await api.notebook(other.id)), /victim started\nvictim done/);
    } finally {
      for (const path of [...writeTargets, hostTmpFile]) rmSync(path, { force: true });
    }

    const ok = await api.submit({ notebook: normal, parameters: { n: 5 } });
    const done = await api.waitTerminal(ok.id, 60_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const nb = await api.notebook(ok.id);
    assert.match(printed(nb), /^10\nfiles ok\n/);
    const kinds = nb.cells.flatMap((c: { outputs?: Array<{ output_type: string }> }) =>
      (c.outputs ?? []).map((o) => o.output_type),
    );
    assert.ok(kinds.includes('display_data') && kinds.includes('execute_result'), kinds.join());
  });

  test('private directories: the data directory, the runs base, each run directory', () => {
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    const workDir = join(dataDir, 'work');
    assert.equal(statSync(workDir).mode & 0o777, 0o711);
    const runDirs = listOrEmpty(workDir);
    assert.ok(runDirs.length > 0, 'warm run directories exist');
    for (const dir of runDirs) {
      const stat = statSync(dir);
      assert.equal(stat.mode & 0o777, 0o700, dir);
      if (process.getuid?.() === 0)
        assert.notEqual(stat.uid, 0, `${dir} belongs to the sandbox user`);
    }
  });
});

describe('NES_SANDBOX=off', () => {
  test('runs still get only the allow-listed environment, and each says it is not sandboxed', async () => {
    const unsandboxed = await spawnService({
      ...SECRETS,
      NES_DATA_DIR: join(ws.root, 'data-off'),
      NES_NOTEBOOK_ROOTS: ws.notebooks,
      NES_SANDBOX: 'off',
    });
    try {
      assert.match(unsandboxed.stderr(), /RUNS ARE NOT SANDBOXED \(NES_SANDBOX=off\)/);
      const probe = writeNotebook(ws.notebooks, 'environ.ipynb', [
        'import os\nprint(sorted(os.environ))\nprint(open(f"/proc/{os.getppid()}/environ").read())',
      ]);
      const run = await unsandboxed.api.submit({ notebook: probe });
      const done = await unsandboxed.api.waitTerminal(run.id, 120_000);
      assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
      const text = printed(await unsandboxed.api.notebook(run.id));
      for (const [name, value] of Object.entries(SECRETS)) {
        assert.ok(!text.includes(name) && !text.includes(value), `${name} reached the run`);
      }
      assert.ok(text.includes("'HOME'"), text.slice(0, 500));
      const log = await unsandboxed.api.request('GET', `/v1/runs/${run.id}/logs`);
      assert.match(log.text, /RUNS ARE NOT SANDBOXED/);
    } finally {
      unsandboxed.child.kill('SIGTERM');
      await unsandboxed.exited;
    }
  });
});
