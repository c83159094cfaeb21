/**
 * The manifests in k8s/: every overlay rendered by kubectl kustomize, each object checked strictly
 * against the official spec; the wiring between objects (the output origin's port, the run
 * policy file) checked with the API's own parsers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { test } from 'node:test';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML, checked field by field
type Manifest = any;

import { parseAllDocuments } from 'yaml';
import {
  defaultLimitRangeItem,
  defaultPodSpec,
} from '../../../test/servers/kubernetes/admission.ts';
import { labelIssues } from '../../../test/servers/kubernetes/openapi-validator.ts';
import {
  namespaceLevels,
  podSecurityViolations,
} from '../../../test/servers/kubernetes/pod-security.ts';
import { loadConfig } from '../src/config.ts';
import { buildRunJob } from '../src/executors/kubernetes/job-builder.ts';
import { KubernetesRunSpecError } from '../src/executors/kubernetes/settings.ts';
import {
  kubernetesRunSettings,
  readSettingsFile,
} from '../src/executors/kubernetes/settings-file.ts';
import { openApiValidator, REPO_ROOT, run, settings } from './k8s-support.ts';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));
const OVERLAYS = join(REPO_ROOT, 'k8s', 'overlays');
const skip = KUBECTL ? false : 'kubectl is not installed: it renders the overlays';

const rendered = new Map<string, Manifest[]>();
function render(overlay: string): Manifest[] {
  let objects = rendered.get(overlay);
  if (!objects) {
    const text = execFileSync(KUBECTL as string, ['kustomize', join(OVERLAYS, overlay)], {
      encoding: 'utf8',
    });
    objects = parseAllDocuments(text).map((doc) => doc.toJS() as Manifest);
    rendered.set(overlay, objects);
  }
  return objects;
}

const find = (objects: Manifest[], kind: string, name: string): Manifest => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind}/${name}`);
  return found;
};

for (const overlay of readdirSync(OVERLAYS)) {
  test(`k8s/overlays/${overlay}: renders, and every object is valid against the official spec`, {
    skip,
  }, () => {
    const objects = render(overlay);
    assert.ok(objects.length >= 15, `${objects.length} objects`);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Namespace',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'PodTemplate',
      'ResourceQuota',
      'LimitRange',
      'NetworkPolicy',
      'ConfigMap',
    ]) {
      assert.ok(kinds.has(kind), `${overlay} has a ${kind}`);
    }
    for (const object of objects) {
      const where = `${object.kind}/${object.metadata?.name}`;
      assert.deepEqual(openApiValidator().validateObject(object), [], where);
      assert.deepEqual(labelIssues(object.metadata?.labels, `${where}.metadata.labels`), []);
    }
    const api = objects.find((o) => o.kind === 'Deployment');
    const container = api?.spec.template.spec.containers[0];
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/livez');
    if (overlay !== 'local') assert.equal(api?.spec.replicas, 2);
    if (overlay !== 'local') {
      const sa = objects.find(
        (o) => o.kind === 'ServiceAccount' && o.metadata.name === 'nes-runner',
      );
      assert.match(sa?.metadata.annotations['iam.gke.io/gcp-service-account'], /@/);
    }
  });
}

for (const overlay of readdirSync(OVERLAYS)) {
  test(`k8s/overlays/${overlay}: the output origin has its own port, Service port and ingress rule`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    // The settings file is checked by the next test (it exists only in the pod).
    const config = loadConfig({ ...env, NES_K8S_SETTINGS_FILE: undefined });
    const container = find(objects, 'Deployment', 'nes-api').spec.template.spec.containers[0];
    const port = (name: string) =>
      container.ports.find((p: Manifest) => p.name === name)?.containerPort;
    assert.equal(port('http'), config.port);
    assert.equal(port('outputs'), config.outputPort);
    assert.notEqual(config.outputPort, config.port);
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      assert.equal(container[probe].httpGet.port, 'http', `${probe} stays on the API's port`);
    }
    const service = find(objects, 'Service', 'nes-api');
    assert.deepEqual(
      service.spec.ports.map((p: Manifest) => [p.name, p.targetPort]),
      [
        ['http', 'http'],
        ['outputs', 'outputs'],
      ],
    );
    const policy = find(objects, 'NetworkPolicy', 'nes-api');
    const allowed = policy.spec.ingress.flatMap((rule: Manifest) =>
      rule.ports.map((p: Manifest) => p.port),
    );
    assert.deepEqual(allowed.sort(), [config.port, config.outputPort].sort());
  });

  test(`k8s/overlays/${overlay}: its run policy file is accepted by the settings parser`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    const path: string = env.NES_K8S_SETTINGS_FILE;
    assert.ok(path, 'NES_K8S_SETTINGS_FILE is set');
    // The file the pod sees: the mounted ConfigMap's key under the mount path.
    const pod = find(objects, 'Deployment', 'nes-api').spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find(
      (m: Manifest) => m.mountPath === posix.dirname(path),
    );
    assert.ok(mount, `a volume mounted at ${posix.dirname(path)}`);
    const volume = pod.volumes.find((v: Manifest) => v.name === mount.name);
    const configMap = find(objects, 'ConfigMap', volume.configMap.name);
    const text: string = configMap.data[posix.basename(path)];
    assert.ok(text, `${configMap.metadata.name} has ${posix.basename(path)}`);
    assert.equal(
      objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('nes-settings'))
        .length,
      1,
      'one settings ConfigMap, the one mounted',
    );

    const dir = mkdtempSync(join(tmpdir(), 'nes-k8s-settings-'));
    try {
      const file = join(dir, 'settings.yaml');
      writeFileSync(file, text);
      const config = loadConfig({ ...env, NES_K8S_SETTINGS_FILE: file });
      assert.equal(config.kubernetes?.settingsFile, file);
      const settings = kubernetesRunSettings(
        {
          namespace: env.NES_K8S_NAMESPACE,
          image: env.NES_K8S_IMAGE,
          store: 'gs://b/nes',
          githubApiUrl: null,
        },
        readSettingsFile(file),
        file,
      );
      const gpuRun = run({ resources: { gpu: 1 } });
      if (overlay !== 'gpu') {
        assert.equal(settings.resources.max.gpu, 0);
        assert.throws(() => buildRunJob(gpuRun, settings), KubernetesRunSpecError);
        return;
      }
      // GPU runs: allowed up to the policy's count, sent to the GPU pool, tolerating its taint.
      assert.ok(settings.resources.max.gpu >= 1);
      const quota = find(objects, 'ResourceQuota', 'nes-runs');
      assert.ok(Number(quota.spec.hard['requests.nvidia.com/gpu']) >= settings.resources.max.gpu);
      const job = buildRunJob(gpuRun, settings);
      assert.deepEqual(openApiValidator().validateObject(job), []);
      const spec = job.spec?.template.spec;
      assert.equal(spec?.nodeSelector?.['cloud.google.com/gke-accelerator'], 'nvidia-l4');
      assert.deepEqual(spec?.tolerations, [
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      ]);
      assert.equal(spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'], '1');
      assert.throws(
        () => buildRunJob(run({ resources: { gpu: settings.resources.max.gpu + 1 } }), settings),
        /resources\.gpu/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---- What a real cluster does with the rendered objects -------------------------------------

const DOCS = readFileSync(join(REPO_ROOT, 'docs', 'kubernetes.md'), 'utf8');

/** NES_* variables the service reads: its config keys and the ones read beside them. */
function variablesTheApiReads(): Set<string> {
  const config = readFileSync(join(REPO_ROOT, 'services/nes-api/src/config.ts'), 'utf8');
  const union = config.match(/type ConfigKey =([^;]+);/)?.[1] ?? '';
  const names = [...union.matchAll(/'([A-Z0-9_]+)'/g)].map((m) => `NES_${m[1]}`);
  const service = readFileSync(join(REPO_ROOT, 'services/nes-api/src/service.ts'), 'utf8');
  names.push(...[...service.matchAll(/'(NES_[A-Z0-9_]+)'/g)].map((m) => m[1] as string));
  return new Set(names);
}

/** The API image's default of an ENV variable (docker/api.Dockerfile). */
function imageEnv(name: string): string | undefined {
  const dockerfile = readFileSync(join(REPO_ROOT, 'docker/api.Dockerfile'), 'utf8');
  return dockerfile.match(new RegExp(`\\b${name}=(\\S+)`))?.[1];
}

interface Mounted {
  mount: Manifest;
  volume: Manifest;
}
/** The mount that holds `path` in a container (the longest mount path that is a prefix). */
function mountFor(pod: Manifest, container: Manifest, path: string): Mounted | undefined {
  const mounts = (container.volumeMounts ?? []).filter(
    (m: Manifest) => path === m.mountPath || path.startsWith(`${m.mountPath}/`),
  );
  mounts.sort((a: Manifest, b: Manifest) => b.mountPath.length - a.mountPath.length);
  const mount = mounts[0];
  if (!mount) return undefined;
  return { mount, volume: pod.volumes.find((v: Manifest) => v.name === mount.name) };
}

function assertWritable(where: string, found: Mounted | undefined, path: string): void {
  assert.ok(found, `${where}: ${path} is on a volume (the root filesystem is read-only)`);
  assert.notEqual(found.mount.readOnly, true, `${where}: ${path} is mounted read-only`);
  assert.ok(
    found.volume.emptyDir || found.volume.persistentVolumeClaim,
    `${where}: ${path} is on ${JSON.stringify(found.volume)}, which is not writable`,
  );
}

/** Where a mounted path lives on the node: the PV's hostPath plus the subPath, for a claim. */
function storageOf(objects: Manifest[], namespace: string, found: Mounted): string {
  const claim = objects.find(
    (o) =>
      o.kind === 'PersistentVolumeClaim' &&
      o.metadata.namespace === namespace &&
      o.metadata.name === found.volume.persistentVolumeClaim.claimName,
  );
  assert.ok(claim, `${namespace}/${found.volume.persistentVolumeClaim.claimName}`);
  const volume = find(objects, 'PersistentVolume', claim.spec.volumeName);
  assert.deepEqual(volume.spec.claimRef, { namespace, name: claim.metadata.name });
  return posix.join(volume.spec.hostPath.path, found.mount.subPath ?? '');
}

for (const overlay of readdirSync(OVERLAYS)) {
  test(`k8s/overlays/${overlay}: every nes-config key is one the API reads, and what it needs is there`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    const known = variablesTheApiReads();
    for (const key of Object.keys(env))
      assert.ok(known.has(key), `nes-config: ${key} is read by nothing`);
    for (const key of ['NES_EXECUTOR', 'NES_STORE', 'NES_K8S_NAMESPACE', 'NES_K8S_IMAGE']) {
      assert.ok(env[key], `nes-config sets ${key}`);
    }
    assert.equal(env.NES_EXECUTOR, 'kubernetes');
    const container = find(objects, 'Deployment', 'nes-api').spec.template.spec.containers[0];
    for (const variable of container.env) {
      assert.ok(known.has(variable.name), `${variable.name} is read by nothing`);
    }
    // Only the admin token is required; GitHub's token is optional everywhere.
    const github = container.env.find((v: Manifest) => v.name === 'NES_GITHUB_TOKEN');
    assert.equal(github.valueFrom.secretKeyRef.optional, true);
  });

  test(`k8s/overlays/${overlay}: every path the configuration names is mounted and writable`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    const api = find(objects, 'Deployment', 'nes-api').spec.template.spec;
    const container = api.containers[0];
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    const dataDir = env.NES_DATA_DIR ?? imageEnv('NES_DATA_DIR');
    assert.ok(dataDir, 'the API image sets NES_DATA_DIR');
    assertWritable('API', mountFor(api, container, dataDir), dataDir);
    assertWritable('API', mountFor(api, container, '/tmp'), '/tmp');

    const template = find(objects, 'PodTemplate', env.NES_K8S_POD_TEMPLATE).template.spec;
    const runner = template.containers.find((c: Manifest) => c.name === 'runner');
    if (String(env.NES_STORE).startsWith('gs://')) {
      // GCS: the pods reach it through Workload Identity, no mount (BUCKET is the user's).
      assert.match(env.NES_STORE, /^gs:\/\/[^/]+\/./);
      return;
    }
    const inApi = mountFor(api, container, env.NES_STORE);
    const inRun = mountFor(template, runner, env.NES_STORE);
    assertWritable('API', inApi, env.NES_STORE);
    assertWritable('runner PodTemplate', inRun, env.NES_STORE);
    // One store: both mounts reach the same directory of the node, and a run sees only it.
    const apiStore = storageOf(objects, 'nes', inApi as Mounted);
    const runStore = storageOf(objects, env.NES_K8S_NAMESPACE, inRun as Mounted);
    assert.equal(apiStore, runStore);
    const apiData = storageOf(objects, 'nes', mountFor(api, container, dataDir) as Mounted);
    assert.ok(
      !apiData.startsWith(`${runStore}/`) && apiData !== runStore,
      'runs never see the API data dir',
    );
    assert.ok(!runStore.startsWith(`${apiData}/`), 'the store is not inside the data dir');
  });

  test(`k8s/overlays/${overlay}: the PodDisruptionBudget lets a node drain with ${overlay}'s replicas`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const replicas = find(objects, 'Deployment', 'nes-api').spec.replicas;
    const pdb = find(objects, 'PodDisruptionBudget', 'nes-api').spec;
    const allowed =
      pdb.maxUnavailable !== undefined
        ? Number(pdb.maxUnavailable)
        : replicas - Number(pdb.minAvailable);
    assert.ok(
      allowed >= 1,
      `${replicas} replica(s), ${JSON.stringify(pdb)}: no disruption allowed`,
    );
    assert.ok(allowed < replicas || replicas === 1, 'a drain never takes every replica at once');
  });

  test(`k8s/overlays/${overlay}: pods pass Pod Security "restricted" where their namespace enforces it`, {
    skip,
  }, () => {
    const objects = render(overlay);
    const levels = new Map(
      objects
        .filter((o) => o.kind === 'Namespace')
        .map((o) => [o.metadata.name, namespaceLevels(o.metadata.labels)]),
    );
    for (const object of objects) {
      const spec =
        object.kind === 'PodTemplate' ? object.template.spec : object.spec?.template?.spec;
      if (!spec) continue;
      const level = levels.get(object.metadata.namespace);
      assert.ok(level, `${object.kind}/${object.metadata.name}: its namespace is in the overlay`);
      for (const mode of ['enforce', 'warn'] as const) {
        assert.deepEqual(
          podSecurityViolations(spec, level[mode]),
          [],
          `${object.kind}/${object.metadata.name} (${mode} ${level[mode]})`,
        );
      }
    }
    // And the pod of a run built on the overlay's PodTemplate.
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    const template = structuredClone(find(objects, 'PodTemplate', env.NES_K8S_POD_TEMPLATE));
    const job = buildRunJob(run(), settings({ podTemplate: template, image: env.NES_K8S_IMAGE }));
    const spec = job.spec?.template.spec as Manifest;
    assert.deepEqual(podSecurityViolations(spec, 'restricted'), []);
  });

  test(`k8s/overlays/${overlay}: objects are written as the server stores them (a re-apply changes nothing)`, {
    skip,
  }, () => {
    const objects = render(overlay);
    for (const template of objects.filter((o) => o.kind === 'PodTemplate')) {
      const stored = structuredClone(template.template.spec);
      defaultPodSpec(stored, 'Always');
      assert.deepEqual(stored, template.template.spec, `PodTemplate/${template.metadata.name}`);
    }
    for (const range of objects.filter((o) => o.kind === 'LimitRange')) {
      for (const item of range.spec.limits) {
        const stored = structuredClone(item);
        defaultLimitRangeItem(stored);
        assert.deepEqual(stored, item, `LimitRange/${range.metadata.name}`);
      }
    }
  });

  test(`k8s/overlays/${overlay}: the runner image is one name everywhere`, { skip }, () => {
    const objects = render(overlay);
    const env = find(objects, 'ConfigMap', 'nes-config').data;
    const template = find(objects, 'PodTemplate', env.NES_K8S_POD_TEMPLATE);
    assert.equal(template.template.spec.containers[0].image, env.NES_K8S_IMAGE);
  });
}

test('k8s/overlays/local: its images are the ones docs/kubernetes.md and the Dockerfiles build', {
  skip,
}, () => {
  const objects = render('local');
  const images = new Set<string>();
  for (const object of objects) {
    const spec = object.kind === 'PodTemplate' ? object.template.spec : object.spec?.template?.spec;
    for (const container of spec?.containers ?? []) images.add(container.image);
  }
  const built = (text: string, dockerfile: string) =>
    [
      ...text.matchAll(new RegExp(`docker build [^\\n]*-f docker/${dockerfile} -t (\\S+)`, 'g')),
    ].map((m) => m[1]);
  for (const [dockerfile, expected] of [
    ['api.Dockerfile', 'nes-api:dev'],
    ['runner.Dockerfile', 'nes-runner:dev'],
  ] as const) {
    assert.ok(images.has(expected), `the local overlay runs ${expected}`);
    assert.ok(built(DOCS, dockerfile).includes(expected), `docs/kubernetes.md builds ${expected}`);
    const header = readFileSync(join(REPO_ROOT, 'docker', dockerfile), 'utf8');
    assert.deepEqual(
      built(header, dockerfile),
      [expected],
      `docker/${dockerfile} says ${expected}`,
    );
  }
  assert.ok(
    /kind load docker-image nes-api:dev nes-runner:dev/.test(DOCS),
    'the docs load both images',
  );
  for (const image of images) assert.match(image, /^nes-(api|runner):dev$/);
});
