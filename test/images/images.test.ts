/**
 * The image tier: both images built by a real Docker engine from the repository's clean tree
 * (what git knows: a set-up tree's node_modules, .tools and .nes never reach a build), then run
 * the way the manifests run them:
 *   - the runner image as a run's Job container: read-only root, /tmp and HOME as tmpfs
 *     emptyDirs, uid 10001, every capability dropped, no privilege escalation, the termination
 *     message file, SIGTERM with a grace period;
 *   - the API image as the Deployment's container: read-only root, the local overlay's rendered
 *     nes-config as its environment, the mounted run policy file, the Secrets' variables, its
 *     data dir and the store on the node directory; serving the API, the viewer and the output
 *     origin, with the Kubernetes executor talking to the stand-in API server, whose kubelet runs
 *     each run's pod as `docker run` of the runner image with the Job's restrictions.
 *
 * Needs a Docker engine: started here (and stopped again) when the machine has dockerd and this
 * runs as root; scripts/setup.sh installs docker.io. NES_SKIP_IMAGES=1 skips the tier.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { dockerContainers } from '../servers/kubernetes/docker-containers.ts';
import { type FakeCluster, startFakeCluster } from '../servers/kubernetes/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const RUNNER = 'nes-runner:dev';
const API = 'nes-api:dev';
const UID = 10001;
const LABEL = `nes-image-tier=${process.pid}`;
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

const isRoot = process.getuid?.() === 0;
const hasDocker = existsSync('/usr/bin/docker') || existsSync('/usr/local/bin/docker');
const skip =
  process.env.NES_SKIP_IMAGES === '1'
    ? 'NES_SKIP_IMAGES=1'
    : !hasDocker && !isRoot
      ? 'no Docker here (scripts/setup.sh installs docker.io when run as root)'
      : false;

let work: string;
let startedEngine: ChildProcess | null = null;
/** The image ids the tags named before this run's builds. */
let previous: string[] = [];
const timings: Array<[string, number]> = [];

async function docker(args: string[], timeoutMs = 15 * 60_000): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `docker ${args.slice(0, 3).join(' ')} ...: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`,
    );
  }
}

async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await step();
  } finally {
    timings.push([what, (performance.now() - start) / 1000]);
  }
}

/** A running engine: the machine's, or dockerd started here (and stopped in `after`). */
async function ensureEngine(): Promise<void> {
  if (
    await docker(['info', '--format', '{{.ServerVersion}}'], 20_000).then(
      () => true,
      () => false,
    )
  )
    return;
  assert.ok(isRoot, 'the Docker engine is not running, and only root can start dockerd');
  const log = join(work, 'dockerd.log');
  startedEngine = spawn('dockerd', ['--pidfile', join(work, 'dockerd.pid')], {
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: false,
  });
  writeFileSync(log, '');
  const giveUp = Date.now() + 60_000;
  for (;;) {
    if (
      await docker(['info', '--format', '{{.ServerVersion}}'], 10_000).then(
        () => true,
        () => false,
      )
    )
      return;
    assert.ok(Date.now() < giveUp, 'dockerd started within 60 s');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The files git knows (tracked, or new and not ignored), copied as they are in the tree. */
async function cleanTree(): Promise<string> {
  const target = join(work, 'src');
  mkdirSync(target);
  if (!existsSync(join(ROOT, '.git'))) return ROOT; // a tarball: .dockerignore's allow-list still applies
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      maxBuffer: 64 << 20,
    },
  );
  const list = join(work, 'files');
  writeFileSync(list, stdout);
  await run('sh', [
    '-c',
    `tar -C "$1" --null --ignore-failed-read -T "$2" -cf - | tar -C "$3" -xf -`,
    'sh',
    ROOT,
    list,
    target,
  ]);
  return target;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** A directory the images' uid 10001 can write, as the node's directory is for the pods. */
function ownedDir(path: string): string {
  mkdirSync(path, { recursive: true });
  if (isRoot) chownSync(path, UID, UID);
  else chmodSync(path, 0o777);
  return path;
}

function writeNotebook(dir: string, name: string, cells: string[]): string {
  const path = join(dir, name);
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  writeFileSync(path, JSON.stringify(notebook));
  chmodSync(path, 0o644);
  return path;
}

/** The runner image exactly as a run's Job container runs (see job-builder.ts). */
function jobContainerArgs(store: string, terminationFile: string, name: string): string[] {
  return [
    'run',
    '--name',
    name,
    '--label',
    LABEL,
    '--read-only',
    '--tmpfs',
    `/tmp:rw,exec,mode=1777,uid=${UID},gid=${UID}`,
    '--tmpfs',
    `/home/nes:rw,exec,mode=1777,uid=${UID},gid=${UID}`,
    '--user',
    `${UID}:${UID}`,
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--memory',
    String(1 << 30),
    '--network',
    'none',
    '--mount',
    `type=bind,source=${store},target=/var/lib/nes-store`,
    '--mount',
    `type=bind,source=${terminationFile},target=/dev/termination-log`,
    '--mount',
    `type=bind,source=${join(work, 'notebooks')},target=/notebooks,readonly`,
    '--env',
    'HOME=/home/nes',
    '--env',
    'TMPDIR=/tmp',
    '--env',
    'NES_RESULT_FILE=/dev/termination-log',
  ];
}

/** A memory quantity as `docker --memory` takes it. */
function bytes(quantity: string): string {
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  assert.ok(match, `a memory quantity: ${quantity}`);
  return String(Number(match[1]) * (units[match[2] ?? ''] ?? 1));
}

function terminationFile(name: string): string {
  const path = join(work, name);
  writeFileSync(path, '');
  chmodSync(path, 0o666);
  return path;
}

describe('the images, built from the clean tree and run as the manifests run them', {
  skip,
  timeout: 90 * 60_000,
}, () => {
  before(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'nes-images-'));
      ownedDir(join(work, 'notebooks'));
      await timed('engine', ensureEngine);
      await timed('base image', () =>
        run('sh', [join(ROOT, 'docker/local-base-image.sh')], {
          timeout: 15 * 60_000,
          maxBuffer: 16 << 20,
        }),
      );
      const tree = await timed('clean tree', cleanTree);
      // The layer cache persists between runs: unchanged sources and lock file rebuild nothing.
      // The images the tags named before are removed once rebuilt, so runs do not pile them up.
      previous = await Promise.all(
        [API, RUNNER].map((tag) =>
          docker(['image', 'inspect', '--format', '{{.Id}}', tag]).then(
            (id) => id.trim(),
            () => '',
          ),
        ),
      );
      await timed('build api', () =>
        docker(
          ['build', '--network', 'host', '-q', '-f', 'docker/api.Dockerfile', '-t', API, tree],
          30 * 60_000,
        ),
      );
      await timed('build runner', () =>
        docker(
          [
            'build',
            '--network',
            'host',
            '-q',
            '-f',
            'docker/runner.Dockerfile',
            '-t',
            RUNNER,
            tree,
          ],
          30 * 60_000,
        ),
      );
    },
    { timeout: 60 * 60_000 },
  );

  after(async () => {
    const left = (await docker(['ps', '-aq', '--filter', `label=${LABEL}`]).catch(() => ''))
      .split('\n')
      .filter(Boolean);
    if (left.length > 0) await docker(['rm', '-f', ...left]).catch(() => undefined);
    const current = await Promise.all(
      [API, RUNNER].map((tag) =>
        docker(['image', 'inspect', '--format', '{{.Id}}', tag]).then(
          (id) => id.trim(),
          () => '',
        ),
      ),
    );
    const stale = previous.filter((id, i) => id !== '' && id !== current[i]);
    if (stale.length > 0) await docker(['rmi', ...stale]).catch(() => undefined);
    const sizes = await docker([
      'images',
      '--format',
      '{{.Repository}}:{{.Tag}} {{.Size}}',
      'nes-*',
    ]).catch(() => '');
    if (startedEngine?.pid) {
      startedEngine.kill('SIGTERM');
      await new Promise((r) => startedEngine?.once('exit', r));
    }
    process.stderr.write(
      `images: ${timings.map(([what, s]) => `${what} ${s.toFixed(1)} s`).join(', ')}; ${sizes.trim().replace(/\n/g, ', ')}\n`,
    );
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('no tests, dev dependencies or unused packages in either image', async () => {
    const list = (image: string, script: string) =>
      docker(['run', '--rm', '--entrypoint', 'sh', image, '-c', script]);
    for (const image of [API, RUNNER]) {
      const tests = await list(
        image,
        'find /app -path /app/node_modules -prune -o \\( -name "*.test.ts" -o -name test -o -name e2e -o -name .nes \\) -print',
      );
      assert.equal(tests.trim(), '', `${image}: ${tests}`);
      const dev = await list(
        image,
        'ls -d /app/node_modules/vite /app/node_modules/typescript /app/node_modules/@biomejs /app/node_modules/vitest /app/node_modules/playwright-core /app/node_modules/firebase-tools /app/node_modules/@octokit/fixtures 2>/dev/null || true',
      );
      assert.equal(dev.trim(), '', `${image} has development dependencies: ${dev}`);
    }
    const runnerExtra = await list(
      RUNNER,
      'ls -d /app/node_modules/@kubernetes /app/node_modules/@electric-sql /app/node_modules/fastify /app/node_modules/react-dom /app/services/nes-api /app/apps 2>/dev/null; command -v git || true',
    );
    assert.equal(
      runnerExtra.trim(),
      '',
      `the runner image carries what it never uses: ${runnerExtra}`,
    );
    const viewer = await list(API, 'ls /app/apps/viewer/dist');
    assert.match(viewer, /index\.html/);
    assert.match(viewer, /frame\.html/);
  });

  test('the runner image runs a notebook as a Job container does, and a SIGTERM saves it as cancelled', {
    timeout: 20 * 60_000,
  }, async () => {
    const store = ownedDir(join(work, 'runner-store'));
    const nb = writeNotebook(join(work, 'notebooks'), 'hello.ipynb', [
      'x = 6 * 7',
      'print("answer", x)',
    ]);
    const inside = `/notebooks/${nb.split('/').at(-1)}`;
    const message = terminationFile('ok.termination');
    const ok = await docker(
      [
        ...jobContainerArgs(store, message, `nes-tier-ok-${process.pid}`),
        '--env',
        'NES_RUN_ID=r-ok',
        RUNNER,
        inside,
        '--store',
        '/var/lib/nes-store',
        '--run-id',
        'r-ok',
        '--json',
        '--timeout',
        '600',
      ],
      10 * 60_000,
    ).catch((error) => {
      throw error;
    });
    assert.match(ok, /"type":"finished"/);
    const result = JSON.parse(readFileSync(message, 'utf8'));
    assert.equal(result.status, 'succeeded');
    assert.equal(result.exitCode, 0);
    const output = JSON.parse(readFileSync(join(store, 'runs', 'r-ok', 'output.ipynb'), 'utf8'));
    assert.match(JSON.stringify(output.cells[1].outputs), /answer 42/);
    await docker(['rm', `nes-tier-ok-${process.pid}`]);

    // SIGTERM (a cancel: the Job deleted) with a grace period: saved as cancelled, exit 130.
    const slow = writeNotebook(join(work, 'notebooks'), 'slow.ipynb', [
      'x = 1',
      'import time\ntime.sleep(600)',
    ]);
    const cancelled = terminationFile('cancel.termination');
    const name = `nes-tier-cancel-${process.pid}`;
    await docker([
      ...jobContainerArgs(store, cancelled, name).slice(0, 1),
      '--detach',
      ...jobContainerArgs(store, cancelled, name).slice(1),
      '--env',
      'NES_RUN_ID=r-cancel',
      RUNNER,
      `/notebooks/${slow.split('/').at(-1)}`,
      '--store',
      '/var/lib/nes-store',
      '--run-id',
      'r-cancel',
      '--json',
    ]);
    const giveUp = Date.now() + 5 * 60_000;
    while (!(await docker(['logs', name]).then((t) => /"cellIndex":1/.test(t)))) {
      assert.ok(Date.now() < giveUp, 'the slow cell started');
      await new Promise((r) => setTimeout(r, 250));
    }
    await docker(['stop', '--time', '30', name]);
    const exit = (await docker(['inspect', '--format', '{{.State.ExitCode}}', name])).trim();
    assert.equal(exit, '130');
    const stopped = JSON.parse(readFileSync(cancelled, 'utf8'));
    assert.equal(stopped.status, 'cancelled');
    const manifest = JSON.parse(
      readFileSync(join(store, 'runs', 'r-cancel', 'manifest.json'), 'utf8'),
    );
    assert.equal(manifest.status, 'cancelled');
    await docker(['rm', name]);
  });

  test('the API image with the default local executor refuses to start, saying why', async () => {
    const failed = await docker(['run', '--rm', '--read-only', '--label', LABEL, API]).then(
      () => null,
      (error: Error) => error.message,
    );
    assert.ok(failed, 'it did not start');
    assert.match(failed, /NES_EXECUTOR: the local executor .* there is none here/);
    assert.doesNotMatch(failed, /ENOENT/);
  });

  test('the API image as the Deployment runs it: API, viewer, output origin, and a run through the stand-in cluster in the runner image', {
    skip: KUBECTL ? false : 'kubectl renders the local overlay',
    timeout: 20 * 60_000,
  }, async (t) => {
    const { stdout } = await run(
      KUBECTL as string,
      ['kustomize', join(ROOT, 'k8s/overlays/local')],
      { maxBuffer: 16 << 20 },
    );
    // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML
    const objects = parseAllDocuments(stdout).map((d) => d.toJS() as any);
    const find = (kind: string, name: string, namespace?: string) =>
      objects.find(
        (o) =>
          o.kind === kind &&
          o.metadata.name === name &&
          (!namespace || o.metadata.namespace === namespace),
      );
    const config = find('ConfigMap', 'nes-config').data as Record<string, string>;
    const deployment = find('Deployment', 'nes-api');
    const container = deployment.spec.template.spec.containers[0];
    const settingsVolume = deployment.spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === 'settings',
    );
    const settingsMap = find('ConfigMap', settingsVolume.configMap.name);

    // The node directory of the local overlay's store: api/ (data dir) and store/ (runs).
    const node = ownedDir(join(work, 'node-store'));
    const dataDir = ownedDir(join(node, 'api'));
    const storeDir = ownedDir(join(node, 'store'));
    const notebooks = join(work, 'notebooks');

    // The stand-in cluster: the overlay's namespaces (Pod Security labels), PodTemplate, and a
    // kubelet that runs pods in Docker.
    const cluster: FakeCluster = await startFakeCluster({
      namespaces: [],
      kubelet: {
        resolveCommand: dockerContainers({
          claims: { 'nes-store': node },
          label: LABEL,
          readOnlyBinds: [notebooks],
        }),
        allocatableCpu: '4',
      },
    });
    t.after(() => cluster.close());
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    for (const namespace of objects.filter(
      (o) => o.kind === 'Namespace' && o.metadata.name.startsWith('nes'),
    )) {
      await core.createNamespace({
        body: { metadata: { name: namespace.metadata.name, labels: namespace.metadata.labels } },
      });
    }
    const runs = config.NES_K8S_NAMESPACE as string;
    const template = find('PodTemplate', config.NES_K8S_POD_TEMPLATE as string, runs);
    await core.createNamespacedPodTemplate({ namespace: runs, body: template });

    // What the Deployment mounts: the run policy file and (in a pod: the service account) the
    // cluster's address, here a kubeconfig naming the stand-in.
    const etc = ownedDir(join(work, 'etc-nes'));
    for (const [key, value] of Object.entries(settingsMap.data as Record<string, string>)) {
      writeFileSync(join(etc, key), value);
      chmodSync(join(etc, key), 0o644);
    }
    const kube = ownedDir(join(work, 'kube'));
    writeFileSync(join(kube, 'config'), cluster.kubeconfigYaml());
    chmodSync(join(kube, 'config'), 0o644);
    const envFile = join(work, 'nes-config.env');
    writeFileSync(
      envFile,
      Object.entries(config)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );

    const port = await freePort();
    const outputPort = await freePort();
    const adminToken = `tier-admin-${process.pid}-${Date.now()}`;
    const mount = (m: {
      mountPath: string;
      name: string;
      subPath?: string;
      readOnly?: boolean;
    }) => {
      if (m.mountPath === '/tmp') return ['--tmpfs', `/tmp:rw,mode=1777,uid=${UID},gid=${UID}`];
      if (m.name === 'settings')
        return ['--mount', `type=bind,source=${etc},target=${m.mountPath},readonly`];
      // The data and store mounts of the node directory (the overlay's subPaths).
      return ['--mount', `type=bind,source=${join(node, m.subPath ?? '')},target=${m.mountPath}`];
    };
    const name = `nes-tier-api-${process.pid}`;
    await docker([
      'run',
      '--detach',
      '--name',
      name,
      '--label',
      LABEL,
      '--network',
      'host',
      '--read-only',
      '--user',
      `${UID}:${UID}`,
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--memory',
      bytes(container.resources.limits.memory),
      '--env-file',
      envFile,
      // The Secrets' variables (nes-admin; nes-github and nes-database are optional and absent).
      '--env',
      `NES_ADMIN_TOKEN=${adminToken}`,
      // Loopback ports of this machine instead of the pod's 8080/8081, and the stand-in's address.
      '--env',
      `NES_PORT=${port}`,
      '--env',
      `NES_OUTPUT_PORT=${outputPort}`,
      '--env',
      'NES_K8S_KUBECONFIG=/etc/nes-kube/config',
      '--env',
      `NES_NOTEBOOK_ROOTS=${notebooks}`,
      '--mount',
      `type=bind,source=${kube},target=/etc/nes-kube,readonly`,
      '--mount',
      `type=bind,source=${notebooks},target=${notebooks},readonly`,
      ...container.volumeMounts.flatMap(mount),
      API,
    ]);
    const base = `http://127.0.0.1:${port}`;
    const giveUp = Date.now() + 120_000;
    for (;;) {
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      const state = (await docker(['inspect', '--format', '{{.State.Status}}', name])).trim();
      if (state !== 'running' || Date.now() > giveUp) {
        const logs = await run('docker', ['logs', name]).then(
          (r) => r,
          (e) => e,
        );
        const exit = await docker([
          'inspect',
          '--format',
          '{{.State.ExitCode}} {{.State.Error}}',
          name,
        ]);
        throw new Error(
          `the API container is ${state} (${exit.trim()}): ${logs.stdout}${logs.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }

    // The viewer and the output origin, from the image's own build.
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.doesNotMatch(await page.text(), /not built/);
    const frame = await fetch(`http://127.0.0.1:${outputPort}/frame.html`);
    assert.equal(frame.status, 200);

    // A notebook through the API: a Job in the stand-in, its pod run in the runner image.
    const nb = writeNotebook(notebooks, 'through-api.ipynb', [
      'import os, getpass',
      'print("ran as", os.getuid(), getpass.getuser())',
    ]);
    const headers = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const submitted = await fetch(`${base}/v1/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ notebook: nb }),
    });
    assert.equal(submitted.status, 201, await submitted.clone().text());
    const { id } = (await submitted.json()) as { id: string };
    let runState: { status: string; error?: unknown; outputUri?: string | null } = {
      status: 'queued',
    };
    const runGiveUp = Date.now() + 5 * 60_000;
    while (!['succeeded', 'failed', 'cancelled', 'timed_out'].includes(runState.status)) {
      assert.ok(Date.now() < runGiveUp, `the run finished (last: ${JSON.stringify(runState)})`);
      await new Promise((r) => setTimeout(r, 500));
      runState = (await (
        await fetch(`${base}/v1/runs/${id}`, { headers })
      ).json()) as typeof runState;
    }
    assert.equal(runState.status, 'succeeded', JSON.stringify(runState.error));
    const output = JSON.parse(readFileSync(join(storeDir, 'runs', id, 'output.ipynb'), 'utf8'));
    assert.match(JSON.stringify(output.cells[1].outputs), /ran as 10001/);
    // The pod passed Pod Security "restricted" (enforced in the runs namespace) and was a real container.
    const creates = cluster.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/jobs'));
    assert.equal(creates.length, 1);
    assert.deepEqual(cluster.specViolations, []);
    assert.ok(existsSync(dataDir));
    await docker(['stop', '--time', '20', name]);
  });
});
