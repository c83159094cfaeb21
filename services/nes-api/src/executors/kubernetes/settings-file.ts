/**
 * The administrator's Kubernetes settings: NES_K8S_* variables for the common keys, and
 * NES_K8S_SETTINGS_FILE (YAML or JSON) for the policy (allowed images, resources, node selectors,
 * tolerations, service accounts, secrets as environment, Kueue). The file is checked against a
 * schema, so a typo is an error naming the file and the key, never a silently ignored setting.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_KERNEL } from '@nes/runner';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseQuantity } from './quantity.ts';
import type { KubernetesRunSettings } from './settings.ts';

const Quantity = Type.Union([Type.String(), Type.Number()]);
const StringMap = Type.Record(Type.String(), Type.String());
const Toleration = Type.Object(
  {
    key: Type.Optional(Type.String()),
    operator: Type.Optional(Type.Union([Type.Literal('Exists'), Type.Literal('Equal')])),
    value: Type.Optional(Type.String()),
    effect: Type.Optional(
      Type.Union([
        Type.Literal('NoSchedule'),
        Type.Literal('PreferNoSchedule'),
        Type.Literal('NoExecute'),
      ]),
    ),
    tolerationSeconds: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
const closed = { additionalProperties: false } as const;

export const SettingsFileSchema = Type.Object(
  {
    namespace: Type.Optional(Type.String()),
    image: Type.Optional(Type.String()),
    allowedImages: Type.Optional(Type.Array(Type.String())),
    imagePullPolicy: Type.Optional(
      Type.Union([Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')]),
    ),
    command: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    kernels: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    serviceAccount: Type.Optional(
      Type.Object(
        {
          default: Type.Optional(Type.String()),
          allowed: Type.Optional(Type.Array(Type.String())),
        },
        closed,
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          defaults: Type.Optional(
            Type.Object({ cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) }, closed),
          ),
          max: Type.Optional(
            Type.Object(
              {
                cpu: Type.Optional(Quantity),
                memory: Type.Optional(Quantity),
                gpu: Type.Optional(Type.Integer({ minimum: 0 })),
              },
              closed,
            ),
          ),
        },
        closed,
      ),
    ),
    nodeSelectors: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
    tolerations: Type.Optional(Type.Record(Type.String(), Type.Array(Toleration))),
    gpu: Type.Optional(
      Type.Object(
        {
          nodeSelector: Type.Optional(StringMap),
          tolerations: Type.Optional(Type.Array(Toleration)),
        },
        closed,
      ),
    ),
    secretEnv: Type.Optional(
      Type.Object(
        {
          always: Type.Optional(Type.Array(Type.String())),
          allowed: Type.Optional(Type.Array(Type.String())),
          keys: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  env: Type.String(),
                  secret: Type.String(),
                  key: Type.String(),
                  optional: Type.Optional(Type.Boolean()),
                },
                closed,
              ),
            ),
          ),
        },
        closed,
      ),
    ),
    env: Type.Optional(StringMap),
    timeouts: Type.Optional(
      Type.Object(
        {
          defaultSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
          maxSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
          startupSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        closed,
      ),
    ),
    ttlSecondsAfterFinished: Type.Optional(Type.Integer({ minimum: 0 })),
    terminationGracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    kueue: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Object({ defaultQueue: Type.String(), queues: Type.Optional(StringMap) }, closed),
      ]),
    ),
  },
  closed,
);
export type SettingsFile = Static<typeof SettingsFileSchema>;

/** A settings file that cannot be used: the message names the file and the key. */
export class SettingsFileError extends Error {
  readonly variable = 'NES_K8S_SETTINGS_FILE';
  constructor(path: string, message: string) {
    super(`NES_K8S_SETTINGS_FILE (${path}): ${message}`);
    this.name = 'SettingsFileError';
  }
}

/** Reads and checks the file. */
export function readSettingsFile(path: string): SettingsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsFileError(path, `cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (error) {
    throw new SettingsFileError(path, `not YAML or JSON: ${(error as Error).message}`);
  }
  return checkSettingsFile(data, path);
}

export function checkSettingsFile(data: unknown, path: string): SettingsFile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SettingsFileError(path, 'expected a mapping of settings');
  }
  const errors = [...Value.Errors(SettingsFileSchema, data)].filter(
    (error) => error.keyword !== 'boolean',
  );
  if (errors.length > 0) {
    const first = errors[0] as (typeof errors)[number];
    const where = first.instancePath.slice(1).replaceAll('/', '.') || '(top level)';
    const extra = (first.params as { additionalProperties?: string[] }).additionalProperties;
    const message = extra
      ? `unknown key ${[where === '(top level)' ? '' : `${where}.`, extra[0]].join('')}`
      : `${where}: ${first.message}`;
    throw new SettingsFileError(path, message);
  }
  const settings = data as SettingsFile;
  const quantities: Array<[string, string | number | undefined]> = [
    ['resources.defaults.cpu', settings.resources?.defaults?.cpu],
    ['resources.defaults.memory', settings.resources?.defaults?.memory],
    ['resources.max.cpu', settings.resources?.max?.cpu],
    ['resources.max.memory', settings.resources?.max?.memory],
  ];
  for (const [key, value] of quantities) {
    if (value !== undefined && !((parseQuantity(String(value)) ?? 0) > 0)) {
      throw new SettingsFileError(path, `${key}: ${JSON.stringify(value)} is not a quantity`);
    }
  }
  return settings;
}

/** What the variables give (config.ts), merged under the file. */
export interface KubernetesBaseSettings {
  namespace: string;
  image: string | null;
  store: string;
  githubApiUrl: string | null;
  /** NES_SOURCE_ALLOWED_HOSTS: the runner fetches https:// notebooks under the API's own rule. */
  sourceAllowedHosts?: string | null;
}

/** The settings the Job builder uses: defaults, then the file, then the variables. */
export function kubernetesRunSettings(
  base: KubernetesBaseSettings,
  file: SettingsFile = {},
  path = 'settings',
): KubernetesRunSettings & { kernels: string[] } {
  const image = base.image ?? file.image;
  if (!image) {
    throw new SettingsFileError(
      path,
      'no runner image: set NES_K8S_IMAGE (or image in the settings file)',
    );
  }
  const str = (value: string | number | undefined, fallback: string) =>
    value === undefined ? fallback : String(value);
  return {
    namespace: base.namespace,
    image,
    allowedImages: file.allowedImages ?? [],
    ...(file.imagePullPolicy ? { imagePullPolicy: file.imagePullPolicy } : {}),
    store: base.store,
    ...(file.command ? { command: file.command } : {}),
    kernels: file.kernels ?? [DEFAULT_KERNEL],
    serviceAccount: {
      default: file.serviceAccount?.default ?? 'nes-runner',
      allowed: file.serviceAccount?.allowed ?? [],
    },
    resources: {
      defaults: {
        cpu: str(file.resources?.defaults?.cpu, '1'),
        memory: str(file.resources?.defaults?.memory, '2Gi'),
      },
      max: {
        cpu: str(file.resources?.max?.cpu, '8'),
        memory: str(file.resources?.max?.memory, '32Gi'),
        gpu: file.resources?.max?.gpu ?? 0,
      },
    },
    nodeSelectors: file.nodeSelectors ?? {},
    tolerations: file.tolerations ?? {},
    ...(file.gpu ? { gpu: file.gpu } : {}),
    secretEnv: {
      always: file.secretEnv?.always ?? [],
      allowed: file.secretEnv?.allowed ?? [],
      // The runner reads private GitHub repositories with this token when the Secret exists.
      keys: file.secretEnv?.keys ?? [
        { env: 'NES_GITHUB_TOKEN', secret: 'nes-github', key: 'token', optional: true },
      ],
    },
    env: {
      ...(base.githubApiUrl ? { NES_GITHUB_API_URL: base.githubApiUrl } : {}),
      ...(base.sourceAllowedHosts ? { NES_SOURCE_ALLOWED_HOSTS: base.sourceAllowedHosts } : {}),
      ...file.env,
    },
    timeouts: {
      defaultSeconds: file.timeouts?.defaultSeconds ?? 6 * 3600,
      maxSeconds: file.timeouts?.maxSeconds ?? 24 * 3600,
      startupSeconds: file.timeouts?.startupSeconds ?? 600,
    },
    ttlSecondsAfterFinished: file.ttlSecondsAfterFinished ?? 86_400,
    terminationGracePeriodSeconds: file.terminationGracePeriodSeconds ?? 60,
    kueue: file.kueue ?? null,
    podTemplate: null,
  };
}
