/** NES_K8S_* variables and the settings file: defaults, merging, and errors naming the key. */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, loadConfig } from '../src/config.ts';
import { kubernetesFromConfig } from '../src/executors/kubernetes/from-config.ts';
import { KubernetesExecutor } from '../src/executors/kubernetes/kubernetes-executor.ts';
import {
  kubernetesRunSettings,
  readSettingsFile,
  SettingsFileError,
} from '../src/executors/kubernetes/settings-file.ts';
import type { RunStore } from '../src/runs/run-store.ts';

const dir = await mkdtemp(join(tmpdir(), 'nes-k8s-config-'));
const kubeconfig = join(dir, 'kubeconfig');
await writeFile(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
);

describe('NES_K8S_* variables', () => {
  test('only read with NES_EXECUTOR=kubernetes; defaults', () => {
    assert.equal(loadConfig({ NES_K8S_NAMESPACE: 'Bad Name' }).kubernetes, null);
    const k8s = loadConfig({ NES_EXECUTOR: 'kubernetes' }).kubernetes;
    assert.deepEqual(k8s, {
      namespace: 'nes-runs',
      image: null,
      kubeconfig: null,
      podTemplate: null,
      pendingTimeoutSeconds: 600,
      lease: null,
      settingsFile: null,
      installation: null,
    });
  });

  test('NES_K8S_INSTALLATION: a label value', () => {
    const env = { NES_EXECUTOR: 'kubernetes' };
    assert.equal(
      loadConfig({ ...env, NES_K8S_INSTALLATION: 'team-a' }).kubernetes?.installation,
      'team-a',
    );
    for (const bad of ['has space', 'x'.repeat(64), '-lead', 'a/b']) {
      assert.throws(
        () => loadConfig({ ...env, NES_K8S_INSTALLATION: bad }),
        /NES_K8S_INSTALLATION: expected a label value/,
      );
    }
  });

  test('all keys, lease as namespace/name', () => {
    const k8s = loadConfig({
      NES_EXECUTOR: 'kubernetes',
      NES_K8S_NAMESPACE: 'runs',
      NES_K8S_IMAGE: 'europe-docker.pkg.dev/acme/nes/runner:1.2.0',
      NES_K8S_KUBECONFIG: kubeconfig,
      NES_K8S_POD_TEMPLATE: 'nes-runner',
      NES_K8S_PENDING_TIMEOUT_SECONDS: '90',
      NES_K8S_LEASE_NAME: 'nes/nes-executor',
    }).kubernetes;
    assert.equal(k8s?.namespace, 'runs');
    assert.equal(k8s?.image, 'europe-docker.pkg.dev/acme/nes/runner:1.2.0');
    assert.equal(k8s?.kubeconfig, kubeconfig);
    assert.equal(k8s?.pendingTimeoutSeconds, 90);
    assert.deepEqual(k8s?.lease, { namespace: 'nes', name: 'nes-executor' });
  });

  test('a bad value names its variable', () => {
    const bad: Array<[Record<string, string>, string, RegExp]> = [
      [{ NES_K8S_NAMESPACE: 'Runs_NS' }, 'NES_K8S_NAMESPACE', /DNS label/],
      [{ NES_K8S_PENDING_TIMEOUT_SECONDS: '0' }, 'NES_K8S_PENDING_TIMEOUT_SECONDS', /integer/],
      [{ NES_K8S_PENDING_TIMEOUT_SECONDS: '5m' }, 'NES_K8S_PENDING_TIMEOUT_SECONDS', /"5m"/],
      [{ NES_K8S_LEASE_NAME: 'a/b/c' }, 'NES_K8S_LEASE_NAME', /namespace\/name/],
      [{ NES_K8S_POD_TEMPLATE: 'Nope!' }, 'NES_K8S_POD_TEMPLATE', /PodTemplate name/],
      [{ NES_K8S_KUBECONFIG: join(dir, 'missing') }, 'NES_K8S_KUBECONFIG', /ENOENT/],
      [{ NES_K8S_SETTINGS_FILE: join(dir, 'missing.yaml') }, 'NES_K8S_SETTINGS_FILE', /ENOENT/],
      [{ NES_K8S_IMAGE: 'has space' }, 'NES_K8S_IMAGE', /image reference/],
    ];
    for (const [env, variable, message] of bad) {
      assert.throws(
        () => loadConfig({ NES_EXECUTOR: 'kubernetes', ...env }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === variable &&
          error.message.startsWith(`${variable}: `) &&
          message.test(error.message),
        variable,
      );
    }
  });

  test('no runner image anywhere: the error names NES_K8S_IMAGE', () => {
    const config = loadConfig({ NES_EXECUTOR: 'kubernetes', NES_K8S_KUBECONFIG: kubeconfig });
    assert.throws(
      () =>
        kubernetesFromConfig(
          { ...config, kubernetes: config.kubernetes as NonNullable<typeof config.kubernetes> },
          { store: dir, runStore: null as unknown as RunStore, artifacts: null, log: () => {} },
        ),
      /^ConfigError: NES_K8S_IMAGE: the runner image is required/,
    );
  });
});

describe('NES_K8S_SETTINGS_FILE', () => {
  test('YAML policy merged over defaults; the variables win', async () => {
    const path = join(dir, 'settings.yaml');
    await writeFile(
      path,
      `image: ghcr.io/nes/runner:from-file
allowedImages: ["europe-docker.pkg.dev/acme/nes/*"]
kernels: [python3, ir]
resources:
  defaults: {cpu: 500m, memory: 1Gi}
  max: {cpu: 4, memory: 16Gi, gpu: 1}
nodeSelectors:
  cloud.google.com/gke-nodepool: [default-pool, highmem]
tolerations:
  spot: [{key: cloud.google.com/gke-spot, operator: Equal, value: "true", effect: NoSchedule}]
serviceAccount: {default: nes-runner, allowed: [nes-runner-bigquery]}
secretEnv:
  allowed: [warehouse]
  keys: [{env: NES_GITHUB_TOKEN, secret: nes-github, key: token}]
kueue: {defaultQueue: nes-default}
`,
    );
    const file = readSettingsFile(path);
    const settings = kubernetesRunSettings(
      {
        namespace: 'runs',
        image: 'ghcr.io/nes/runner:from-env',
        store: 'gs://b/p',
        githubApiUrl: null,
      },
      file,
      path,
    );
    assert.equal(settings.image, 'ghcr.io/nes/runner:from-env');
    assert.deepEqual(settings.kernels, ['python3', 'ir']);
    assert.deepEqual(settings.resources, {
      defaults: { cpu: '500m', memory: '1Gi' },
      max: { cpu: '4', memory: '16Gi', gpu: 1 },
    });
    assert.deepEqual(settings.kueue, { defaultQueue: 'nes-default' });
    assert.equal(settings.tolerations.spot?.[0]?.effect, 'NoSchedule');
    assert.deepEqual(settings.secretEnv.keys, [
      { env: 'NES_GITHUB_TOKEN', secret: 'nes-github', key: 'token' },
    ]);
  });

  test('JSON works too, and a file without a policy gets the defaults', async () => {
    const path = join(dir, 'settings.json');
    await writeFile(path, '{"image": "ghcr.io/nes/runner:1"}');
    const settings = kubernetesRunSettings(
      {
        namespace: 'runs',
        image: null,
        store: '/s',
        githubApiUrl: 'https://ghe.example.com/api/v3',
      },
      readSettingsFile(path),
    );
    assert.equal(settings.image, 'ghcr.io/nes/runner:1');
    assert.equal(settings.serviceAccount.default, 'nes-runner');
    assert.deepEqual(settings.env, { NES_GITHUB_API_URL: 'https://ghe.example.com/api/v3' });
    assert.equal(settings.kueue, null);
  });

  test("the runner fetches https:// notebooks under the API's NES_SOURCE_ALLOWED_HOSTS", () => {
    const base = { namespace: 'runs', image: 'runner:1', store: '/s', githubApiUrl: null };
    const allowed = kubernetesRunSettings({ ...base, sourceAllowedHosts: '10.0.0.0/8,git.corp' });
    assert.deepEqual(allowed.env, { NES_SOURCE_ALLOWED_HOSTS: '10.0.0.0/8,git.corp' });
    assert.deepEqual(kubernetesRunSettings(base).env, {});
  });

  test('mistakes name the file and the key', async () => {
    const cases: Array<[string, RegExp]> = [
      ['resources: {max: {cpus: 4}}', /unknown key resources\.max\.cpus/],
      ['imagePulPolicy: Always', /unknown key imagePulPolicy/],
      ['resources: {max: {memory: lots}}', /resources\.max\.memory: "lots" is not a quantity/],
      ['timeouts: {maxSeconds: -1}', /timeouts\.maxSeconds/],
      ['tolerations: {spot: [{effect: Sometimes}]}', /tolerations\.spot\.0\.effect/],
      ['- just\n- a list', /expected a mapping/],
      ['image: [unclosed', /not YAML or JSON/],
    ];
    for (const [text, message] of cases) {
      const path = join(dir, 'bad.yaml');
      await writeFile(path, text);
      assert.throws(
        () => readSettingsFile(path),
        (error: unknown) =>
          error instanceof SettingsFileError &&
          error.message.startsWith(`NES_K8S_SETTINGS_FILE (${path}): `) &&
          message.test(error.message),
        text,
      );
    }
  });
});

describe('an unreachable cluster', () => {
  test('start() fails with the server and the reason instead of waiting forever', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: false }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const executor = new KubernetesExecutor({
      kc,
      settings: kubernetesRunSettings({
        namespace: 'runs',
        image: 'ghcr.io/nes/runner:1',
        store: dir,
        githubApiUrl: null,
      }),
      startTimeoutMs: 1500,
    });
    await assert.rejects(
      executor.start(),
      /^Error: the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ did not list the Jobs and pods of namespace runs within 2 s: .*ECONNREFUSED/,
    );
    await executor.shutdown(0);
  });
});
