import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML, checked field by field
type Manifest = any;

import { parseAllDocuments } from 'yaml';
import { labelIssues } from '../src/executors/kubernetes/openapi-validator.ts';
import { openApiValidator, REPO_ROOT } from './k8s-support.ts';

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((path) => existsSync(path));
const OVERLAYS = join(REPO_ROOT, 'k8s', 'overlays');
const skip = KUBECTL ? false : 'kubectl is not installed: it renders the overlays';

for (const overlay of readdirSync(OVERLAYS)) {
  test(`k8s/overlays/${overlay}: renders, and every object is valid against the official spec`, {
    skip,
  }, () => {
    const text = execFileSync(KUBECTL as string, ['kustomize', join(OVERLAYS, overlay)], {
      encoding: 'utf8',
    });
    const objects = parseAllDocuments(text).map((doc) => doc.toJS() as Manifest);
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
