/**
 * What the administrator allows runs to ask of the cluster. A run's `image` and `resources` are
 * checked against these settings when its Job is built; anything outside them is a
 * `KubernetesRunSpecError` naming the field, never a silently dropped request.
 */
import type { V1PodTemplate, V1Toleration } from '@kubernetes/client-node';

export interface KubernetesResourceSettings {
  /** Used when the run asks nothing (and the PodTemplate's runner container sets nothing). */
  defaults: { cpu: string; memory: string };
  /** The most one run may ask for. `gpu` 0 forbids GPUs. */
  max: { cpu: string; memory: string; gpu: number };
}

/** An environment variable filled from one key of a Secret (never from a value in the Job). */
export interface SecretKeyEnv {
  env: string;
  secret: string;
  key: string;
  optional?: boolean;
}

export interface KueueSettings {
  /** LocalQueue used when the run's queue is not listed in `queues`. */
  defaultQueue: string;
  /** NES queue name -> Kueue LocalQueue name. */
  queues?: Record<string, string>;
}

export interface KubernetesRunSettings {
  /** Namespace the Jobs are created in. */
  namespace: string;
  /** The runner image used when a run names none. */
  image: string;
  /**
   * Images a run may name: exact references, or prefixes ending in `*`
   * (`europe-docker.pkg.dev/acme/nes/*`). The default image is always allowed.
   */
  allowedImages: string[];
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** The output store the runner writes to (NES_STORE: `gs://bucket/prefix` or a directory). */
  store: string;
  /** The runner's executable inside the image; default `['nes-run']`. */
  command?: string[];
  serviceAccount: { default: string; allowed: string[] };
  resources: KubernetesResourceSettings;
  /** Node selector keys a run may set, each with the values it may take. */
  nodeSelectors: Record<string, string[]>;
  /** Named toleration sets a run may pick by name (`resources.tolerations: ['spot']`). */
  tolerations: Record<string, V1Toleration[]>;
  /** Applied to every run that asks for a GPU (the GPU node pool's selector and taint). */
  gpu?: { nodeSelector?: Record<string, string>; tolerations?: V1Toleration[] };
  secretEnv: {
    /** Secrets whose keys every run gets as environment (envFrom). */
    always: string[];
    /** Secrets a run may add by name (`resources.secretEnv: ['warehouse']`). */
    allowed: string[];
    /** Single keys every run gets (e.g. NES_GITHUB_TOKEN from the nes-github Secret). */
    keys: SecretKeyEnv[];
  };
  /** Plain configuration for the runner (NES_GITHUB_API_URL, ...); names that look secret are refused. */
  env: Record<string, string>;
  timeouts: {
    /** A run that sets no timeout gets this one. */
    defaultSeconds: number;
    /** The most a run may ask for. */
    maxSeconds: number;
    /**
     * Added to the run's timeout for the Job's activeDeadlineSeconds: that deadline counts
     * scheduling and image pulls, and the runner's own timeout should fire first so it saves
     * the notebook as timed out.
     */
    startupSeconds: number;
  };
  /** Backstop only: the executor archives logs and deletes finished Jobs itself. */
  ttlSecondsAfterFinished: number;
  terminationGracePeriodSeconds: number;
  /** When set, Jobs are created suspended with Kueue's queue label. */
  kueue?: KueueSettings | null;
  /** The runner PodTemplate read from the cluster (see `mergePodTemplate` for the rules). */
  podTemplate?: V1PodTemplate | null;
  /**
   * This NES installation's identity (the `nes.dev/installation` label value on its Jobs and
   * pods): installations sharing a runs namespace each see and touch only their own.
   */
  installation?: string | null;
}

/** A run asks for something the settings do not allow, or asks it in a malformed way. */
export class KubernetesRunSpecError extends Error {
  readonly code = 'kubernetes_run_spec';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'KubernetesRunSpecError';
    this.field = field;
  }
}

/** Settings that cannot produce a valid Job (an operator's mistake, found before any run). */
export class KubernetesSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesSettingsError';
  }
}
