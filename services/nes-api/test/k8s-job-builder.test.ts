import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Job } from '@kubernetes/client-node';
import { OpenApiValidator } from '../../../test/servers/kubernetes/openapi-validator.ts';
import {
  buildRunJob,
  defaultPullPolicy,
  INSTALLATION_LABEL,
  installationLabels,
  jobNameForRun,
  NES_LABELS,
  nesJobIssues,
  RUN_ID_LABEL,
} from '../src/executors/kubernetes/job-builder.ts';
import { parseQuantity } from '../src/executors/kubernetes/quantity.ts';
import {
  KubernetesRunSpecError,
  KubernetesSettingsError,
} from '../src/executors/kubernetes/settings.ts';
import { openApiValidator, run, settings } from './k8s-support.ts';

function runner(job: V1Job) {
  const container = job.spec?.template.spec?.containers[0];
  assert.ok(container);
  return container;
}

describe('Job builder: the official schema and NES rules', () => {
  const cases: [string, ReturnType<typeof buildRunJob>][] = [
    ['defaults', buildRunJob(run(), settings())],
    [
      'everything allowed',
      buildRunJob(
        run({
          image: 'europe-docker.pkg.dev/acme/nes/runner:2',
          resources: {
            cpu: '2',
            memory: '8Gi',
            gpu: 1,
            nodeSelector: { 'cloud.google.com/gke-nodepool': 'highmem' },
            tolerations: ['spot'],
            serviceAccount: 'nes-runner-bigquery',
            secretEnv: ['warehouse'],
          },
        }),
        settings(),
      ),
    ],
    [
      'no parameters, no ref, local notebook',
      buildRunJob(
        run({
          notebook: 'reports/a.ipynb',
          ref: null,
          commitSha: null,
          parameters: {},
          kernel: null,
          timeoutSeconds: null,
        }),
        settings(),
      ),
    ],
    [
      'kueue',
      buildRunJob(
        run({ queue: 'nightly' }),
        settings({ kueue: { defaultQueue: 'nes', queues: { nightly: 'nes-nightly' } } }),
      ),
    ],
    [
      'pod template',
      buildRunJob(
        run(),
        settings({
          podTemplate: {
            apiVersion: 'v1',
            kind: 'PodTemplate',
            metadata: { name: 'nes-runner' },
            template: {
              metadata: { labels: { team: 'data' } },
              spec: {
                priorityClassName: 'nes-runs',
                containers: [{ name: 'runner', env: [{ name: 'TZ', value: 'UTC' }] }],
              },
            },
          },
        }),
      ),
    ],
    ['long odd id', buildRunJob(run({ id: `Run_${'x'.repeat(120)}` }), settings())],
  ];
  for (const [name, job] of cases) {
    test(`${name}: valid batch/v1 Job, no NES rule broken`, () => {
      assert.deepEqual(openApiValidator().validate('io.k8s.api.batch.v1.Job', job), []);
      assert.deepEqual(openApiValidator().validateObject(job), []);
      assert.deepEqual(nesJobIssues(job), []);
    });
  }
});

describe('Job builder: rules', () => {
  test('name: deterministic, nes-<id> for ULIDs, <= 63 DNS-1123 otherwise, distinct for ids differing in case', () => {
    assert.equal(jobNameForRun('01jd0000000000000000000000'), 'nes-01jd0000000000000000000000');
    assert.equal(buildRunJob(run(), settings()).metadata?.name, 'nes-01jd0000000000000000000000');
    for (const id of ['A', 'Run_1', 'a.b.c', `x${'y'.repeat(127)}`, '---', 'UPPER', 'upper']) {
      const name = jobNameForRun(id);
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, id);
      assert.ok(name.length <= 63, id);
      assert.equal(jobNameForRun(id), name);
    }
    assert.notEqual(jobNameForRun('UPPER'), jobNameForRun('Upper'));
  });

  test('labels on Job and pod template; annotations name notebook, ref, SHA, output URI', () => {
    const job = buildRunJob(run({ queue: 'nightly' }), settings());
    for (const labels of [job.metadata?.labels, job.spec?.template.metadata?.labels]) {
      assert.equal(labels?.['app.kubernetes.io/name'], 'nes');
      assert.equal(labels?.['app.kubernetes.io/managed-by'], 'nes-api');
      assert.equal(labels?.[RUN_ID_LABEL], '01jd0000000000000000000000');
      assert.equal(labels?.['nes.dev/queue'], 'nightly');
    }
    assert.deepEqual(job.metadata?.annotations, {
      'nes.dev/run-id': '01jd0000000000000000000000',
      'nes.dev/notebook': 'github://acme/notebooks/daily/report.ipynb',
      'nes.dev/ref': 'main',
      'nes.dev/commit-sha': '0123456789abcdef0123456789abcdef01234567',
      'nes.dev/output-uri': 'gs://acme-nes/prod/runs/01jd0000000000000000000000/output.ipynb',
    });
  });

  test('failure handling: backoffLimit 0, podFailurePolicy, deadlines, TTL, Never', () => {
    const job = buildRunJob(run({ timeoutSeconds: 900 }), settings());
    assert.equal(job.spec?.backoffLimit, 0);
    assert.deepEqual(job.spec?.podFailurePolicy?.rules, [
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      {
        action: 'FailJob',
        onExitCodes: { containerName: 'runner', operator: 'NotIn', values: [0] },
      },
    ]);
    assert.equal(job.spec?.activeDeadlineSeconds, 900 + 600);
    assert.ok(runner(job).args?.includes('900'));
    assert.equal(job.spec?.ttlSecondsAfterFinished, 86400);
    assert.equal(job.spec?.template.spec?.restartPolicy, 'Never');
    assert.equal(runner(job).terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.equal(
      buildRunJob(run({ timeoutSeconds: null }), settings()).spec?.activeDeadlineSeconds,
      3600 + 600,
    );
    assert.equal(job.spec?.suspend, undefined);
  });

  test('restricted security context, read-only root with emptyDir /tmp and HOME', () => {
    const job = buildRunJob(run(), settings());
    const pod = job.spec?.template.spec;
    assert.deepEqual(runner(job).securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.deepEqual(pod?.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
    assert.deepEqual(
      runner(job)
        .volumeMounts?.map((m) => m.mountPath)
        .sort(),
      ['/home/nes', '/tmp'],
    );
    assert.ok(pod?.volumes?.every((v) => v.emptyDir));
    const env = Object.fromEntries((runner(job).env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.HOME, '/home/nes');
    assert.equal(pod?.automountServiceAccountToken, false);
  });

  test('command: nes-run on the pinned notebook with store, run id, kernel, timeout and parameters', () => {
    const job = buildRunJob(run(), settings());
    assert.deepEqual(runner(job).command, ['nes-run']);
    const args = runner(job).args ?? [];
    assert.equal(
      args[0],
      'github://acme/notebooks/daily/report.ipynb?ref=0123456789abcdef0123456789abcdef01234567',
    );
    assert.deepEqual(args.slice(1, 7), [
      '--store',
      'gs://acme-nes/prod',
      '--run-id',
      '01jd0000000000000000000000',
      '--json',
      '--log-output',
    ]);
    assert.ok(!args.includes('--ref'), 'a pinned GitHub input needs no --ref');
    const b64 = args[args.indexOf('--parameters_base64') + 1] as string;
    assert.deepEqual(JSON.parse(Buffer.from(b64, 'base64').toString('utf8')), {
      alpha: 0.5,
      name: 'x',
    });
    assert.equal(args[args.indexOf('--kernel') + 1], 'python3');
    // The same autosave policy as the local executor's runs (one definition, in the runner).
    assert.equal(args[args.indexOf('--autosave-min-interval') + 1], '1');
    assert.equal(args[args.indexOf('--autosave-cell-every') + 1], '5');
  });

  test('resources: defaults, run requests, memory limit = request, GPU as a limit with its pool', () => {
    const plain = runner(buildRunJob(run(), settings())).resources;
    assert.deepEqual(plain, {
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { memory: '1Gi' },
    });
    const job = buildRunJob(run({ resources: { cpu: '2', memory: '8Gi', gpu: 1 } }), settings());
    assert.deepEqual(runner(job).resources, {
      requests: { cpu: '2', memory: '8Gi' },
      limits: { memory: '8Gi', 'nvidia.com/gpu': '1' },
    });
    assert.equal(
      job.spec?.template.spec?.nodeSelector?.['cloud.google.com/gke-accelerator'],
      'nvidia-l4',
    );
    assert.ok(job.spec?.template.spec?.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
  });

  test('secrets reach the pod only as references', () => {
    const job = buildRunJob(run({ resources: { secretEnv: ['warehouse'] } }), settings());
    assert.deepEqual(runner(job).envFrom, [{ secretRef: { name: 'warehouse', optional: false } }]);
    const token = runner(job).env?.find((e) => e.name === 'NES_GITHUB_TOKEN');
    assert.deepEqual(token, {
      name: 'NES_GITHUB_TOKEN',
      valueFrom: { secretKeyRef: { name: 'nes-github', key: 'token' } },
    });
    assert.throws(
      () => buildRunJob(run(), settings({ env: { NES_GITHUB_TOKEN: 'ghp_x' } })),
      KubernetesSettingsError,
    );
  });

  test('Kueue: suspended with the queue label', () => {
    const job = buildRunJob(
      run({ queue: 'nightly' }),
      settings({ kueue: { defaultQueue: 'nes', queues: { nightly: 'nes-nightly' } } }),
    );
    assert.equal(job.spec?.suspend, true);
    assert.equal(job.metadata?.labels?.['kueue.x-k8s.io/queue-name'], 'nes-nightly');
    const other = buildRunJob(run(), settings({ kueue: { defaultQueue: 'nes' } }));
    assert.equal(other.metadata?.labels?.['kueue.x-k8s.io/queue-name'], 'nes');
  });

  test('PodTemplate merge: template fields kept, NES fields win, restricted forced', () => {
    const job = buildRunJob(
      run(),
      settings({
        podTemplate: {
          template: {
            metadata: { labels: { team: 'data', 'app.kubernetes.io/name': 'other' } },
            spec: {
              priorityClassName: 'nes-runs',
              activeDeadlineSeconds: 5,
              restartPolicy: 'Always',
              nodeSelector: { zone: 'a' },
              containers: [
                {
                  name: 'runner',
                  image: 'ignored',
                  env: [
                    { name: 'TZ', value: 'UTC' },
                    { name: 'HOME', value: '/root' },
                  ],
                  resources: { requests: { cpu: '1' } },
                  securityContext: { runAsUser: 1000, readOnlyRootFilesystem: false },
                },
              ],
            },
          },
        },
      }),
    );
    const pod = job.spec?.template.spec;
    assert.equal(pod?.priorityClassName, 'nes-runs');
    assert.equal(pod?.activeDeadlineSeconds, undefined);
    assert.equal(pod?.restartPolicy, 'Never');
    assert.equal(pod?.nodeSelector?.zone, 'a');
    assert.equal(job.spec?.template.metadata?.labels?.team, 'data');
    assert.equal(job.spec?.template.metadata?.labels?.['app.kubernetes.io/name'], 'nes');
    assert.equal(runner(job).image, 'ghcr.io/nes/runner:1.0.0');
    assert.equal(runner(job).resources?.requests?.cpu, '1');
    assert.equal(runner(job).securityContext?.runAsUser, 1000);
    assert.equal(runner(job).securityContext?.readOnlyRootFilesystem, true);
    const env = runner(job).env ?? [];
    assert.equal(env.find((e) => e.name === 'HOME')?.value, '/home/nes');
    assert.equal(env.find((e) => e.name === 'TZ')?.value, 'UTC');
  });

  const rejected: [string, () => unknown, new (...args: never[]) => Error, RegExp][] = [
    [
      'unknown resources key',
      () => buildRunJob(run({ resources: { disk: '1Gi' } }), settings()),
      KubernetesRunSpecError,
      /resources\.disk: unknown setting/,
    ],
    [
      'image not allowed',
      () => buildRunJob(run({ image: 'evil/runner:1' }), settings()),
      KubernetesRunSpecError,
      /^image: evil\/runner:1 is not an allowed image/,
    ],
    [
      'cpu above max',
      () => buildRunJob(run({ resources: { cpu: '9' } }), settings()),
      KubernetesRunSpecError,
      /resources\.cpu: 9 exceeds the maximum of 8/,
    ],
    [
      'memory above max',
      () => buildRunJob(run({ resources: { memory: '33Gi' } }), settings()),
      KubernetesRunSpecError,
      /resources\.memory: 33Gi exceeds/,
    ],
    [
      'bad quantity',
      () => buildRunJob(run({ resources: { memory: 'lots' } }), settings()),
      KubernetesRunSpecError,
      /not a positive Kubernetes quantity/,
    ],
    [
      'too many GPUs',
      () => buildRunJob(run({ resources: { gpu: 3 } }), settings()),
      KubernetesRunSpecError,
      /resources\.gpu: 3 exceeds/,
    ],
    [
      'GPUs forbidden',
      () =>
        buildRunJob(
          run({ resources: { gpu: 1 } }),
          settings({
            resources: {
              defaults: { cpu: '1', memory: '1Gi' },
              max: { cpu: '1', memory: '1Gi', gpu: 0 },
            },
          }),
        ),
      KubernetesRunSpecError,
      /GPUs are not allowed/,
    ],
    [
      'fractional GPU',
      () => buildRunJob(run({ resources: { gpu: 0.5 } }), settings()),
      KubernetesRunSpecError,
      /whole number/,
    ],
    [
      'node selector key',
      () =>
        buildRunJob(
          run({ resources: { nodeSelector: { 'kubernetes.io/hostname': 'n1' } } }),
          settings(),
        ),
      KubernetesRunSpecError,
      /may not be selected/,
    ],
    [
      'node selector value',
      () =>
        buildRunJob(
          run({ resources: { nodeSelector: { 'cloud.google.com/gke-nodepool': 'x' } } }),
          settings(),
        ),
      KubernetesRunSpecError,
      /x is not allowed/,
    ],
    [
      'toleration set',
      () => buildRunJob(run({ resources: { tolerations: ['all'] } }), settings()),
      KubernetesRunSpecError,
      /all is not an allowed toleration set/,
    ],
    [
      'service account',
      () => buildRunJob(run({ resources: { serviceAccount: 'admin' } }), settings()),
      KubernetesRunSpecError,
      /admin is not an allowed service account/,
    ],
    [
      'secret',
      () => buildRunJob(run({ resources: { secretEnv: ['prod-db'] } }), settings()),
      KubernetesRunSpecError,
      /prod-db is not a Secret runs may use/,
    ],
    [
      'timeout above max',
      () => buildRunJob(run({ timeoutSeconds: 90000 }), settings()),
      KubernetesRunSpecError,
      /timeoutSeconds: 90000 exceeds/,
    ],
    [
      'sidecar container in template',
      () =>
        buildRunJob(
          run(),
          settings({ podTemplate: { template: { spec: { containers: [{ name: 'proxy' }] } } } }),
        ),
      KubernetesSettingsError,
      /only a "runner" container/,
    ],
    [
      'privileged template',
      () =>
        buildRunJob(
          run(),
          settings({
            podTemplate: {
              template: {
                spec: { containers: [{ name: 'runner', securityContext: { privileged: true } }] },
              },
            },
          }),
        ),
      KubernetesSettingsError,
      /privileged/,
    ],
    [
      'hostPath template',
      () =>
        buildRunJob(
          run(),
          settings({
            podTemplate: {
              template: {
                spec: { containers: [], volumes: [{ name: 'h', hostPath: { path: '/' } }] },
              },
            },
          }),
        ),
      KubernetesSettingsError,
      /hostPath/,
    ],
  ];
  for (const [name, build, type, message] of rejected) {
    test(`rejects: ${name}`, () => {
      assert.throws(build, (err: Error) => err instanceof type && message.test(err.message));
    });
  }

  test('quantities', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('4Gi'), 4 * 2 ** 30);
    assert.equal(parseQuantity('1e3'), 1000);
    assert.equal(parseQuantity('1G'), 1e9);
    assert.equal(parseQuantity('lots'), null);
  });
});

describe('strict validator: it catches what the API server would refuse', () => {
  const base = () => buildRunJob(run(), settings());
  test('unknown field', () => {
    const job = base() as unknown as { spec: Record<string, unknown> };
    job.spec.backofLimit = 0;
    assert.deepEqual(openApiValidator().validateObject(job), [
      { path: '$.spec.backofLimit', message: 'unknown field' },
    ]);
  });
  test('wrong type', () => {
    const job = base() as unknown as { spec: Record<string, unknown> };
    job.spec.backoffLimit = '0';
    assert.match(openApiValidator().validateObject(job)[0]?.message ?? '', /expected an integer/);
  });
  test('missing required field', () => {
    const job = base();
    delete (job.spec as Partial<NonNullable<V1Job['spec']>>).template;
    assert.deepEqual(openApiValidator().validateObject(job), [
      { path: '$.spec.template', message: 'required field is missing' },
    ]);
  });
  test('bad enum (where a spec lists one: v1.35 lists none, so a small spec shows the check)', () => {
    const small = new OpenApiValidator({
      definitions: {
        T: {
          type: 'object',
          properties: { policy: { type: 'string', enum: ['File', 'FallbackToLogsOnError'] } },
        },
      },
    });
    assert.deepEqual(small.validate('T', { policy: 'File' }), []);
    assert.match(
      small.validate('T', { policy: 'Sometimes' })[0]?.message ?? '',
      /is not one of "File", "FallbackToLogsOnError"/,
    );
  });
  test('NES rules: name, labels, secret values', () => {
    const job = base();
    (job.metadata as { name: string }).name = `nes-${'a'.repeat(70)}`;
    delete job.spec?.template.metadata?.labels?.[RUN_ID_LABEL];
    runner(job).env?.push({ name: 'DB_PASSWORD', value: 'hunter2' });
    const issues = nesJobIssues(job);
    assert.equal(issues.length, 3, issues.join('\n'));
  });
});

describe('decided per run, not inherited from the PodTemplate as the server stored it', () => {
  // The server fills the template container's pull policy from the template's own image.
  const template = {
    template: {
      spec: {
        containers: [
          { name: 'runner', image: 'ghcr.io/nes/runner:latest', imagePullPolicy: 'Always' },
        ],
      },
    },
  };
  const policyOf = (image: string, extra: Partial<Parameters<typeof settings>[0]> = {}) => {
    const job = buildRunJob(
      run({ image }),
      settings({ podTemplate: template, allowedImages: ['*'], ...extra }),
    );
    return job.spec?.template.spec?.containers[0]?.imagePullPolicy;
  };

  test("image pull policy: the run's image decides (Always only for :latest or no tag)", () => {
    assert.equal(defaultPullPolicy('nes-runner:dev'), 'IfNotPresent');
    assert.equal(defaultPullPolicy('localhost:5000/nes-runner'), 'Always');
    assert.equal(defaultPullPolicy('ghcr.io/nes/runner@sha256:abc'), 'IfNotPresent');
    assert.equal(policyOf('europe-docker.pkg.dev/acme/nes/runner:1.4.0'), 'IfNotPresent');
    assert.equal(policyOf('europe-docker.pkg.dev/acme/nes/runner:latest'), 'Always');
    // The administrator's setting wins for every image.
    assert.equal(policyOf('ghcr.io/nes/runner:1.4.0', { imagePullPolicy: 'Always' }), 'Always');
  });

  test('the installation label is on the Job and its pod, and selected by its informers', () => {
    const job = buildRunJob(run(), settings({ installation: 'team-a' }));
    assert.equal(job.metadata?.labels?.[INSTALLATION_LABEL], 'team-a');
    assert.equal(job.spec?.template.metadata?.labels?.[INSTALLATION_LABEL], 'team-a');
    assert.deepEqual(installationLabels('team-a'), {
      ...NES_LABELS,
      [INSTALLATION_LABEL]: 'team-a',
    });
    assert.deepEqual(nesJobIssues(job), []);
    assert.deepEqual(openApiValidator().validateObject(job), []);
  });
});
