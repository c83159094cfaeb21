/**
 * The manifests in k8s/: every overlay rendered by kubectl kustomize, each object checked strictly
 * against the official spec; the wiring between objects (the output origin's port, the run
 * policy file) checked with the API's own parsers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { test } from 'node:test';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML, checked field by field
type Manifest = any;

import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../src/config.ts';
import { buildRunJob } from '../src/executors/kubernetes/job-builder.ts';
import { labelIssues } from '../src/executors/kubernetes/openapi-validator.ts';
import { KubernetesRunSpecError } from '../src/executors/kubernetes/settings.ts';
import {
  kubernetesRunSettings,
  readSettingsFile,
} from '../src/executors/kubernetes/settings-file.ts';
import { openApiValidator, REPO_ROOT, run } from './k8s-support.ts';

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
