/**
 * The resource types the fake API server serves: their group, version, plural and scope, which
 * is everything the URL router, the store and the list/watch encoders need to know about a kind.
 */

export type Kind =
  | 'Namespace'
  | 'Pod'
  | 'Secret'
  | 'ConfigMap'
  | 'PodTemplate'
  | 'Event'
  | 'Job'
  | 'Lease';

export interface ResourceType {
  kind: Kind;
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
  /** Whether the type has a `/status` subresource (then the main resource ignores status writes). */
  statusSubresource: boolean;
  /** Whether metadata.generation counts spec changes. */
  generation: boolean;
  /** DELETE's default propagation when the request names none (batch/v1 Jobs orphan, for history). */
  defaultPropagation: 'Background' | 'Orphan';
}

export const RESOURCES: readonly ResourceType[] = [
  core('Namespace', 'namespaces', false, true, false),
  core('Pod', 'pods', true, true, true),
  core('Secret', 'secrets', true, false, false),
  core('ConfigMap', 'configmaps', true, false, false),
  core('PodTemplate', 'podtemplates', true, false, false),
  core('Event', 'events', true, false, false),
  {
    kind: 'Job',
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    namespaced: true,
    statusSubresource: true,
    generation: true,
    defaultPropagation: 'Orphan',
  },
  {
    kind: 'Lease',
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    namespaced: true,
    statusSubresource: false,
    generation: false,
    defaultPropagation: 'Background',
  },
];

function core(
  kind: Kind,
  plural: string,
  namespaced: boolean,
  statusSubresource: boolean,
  generation: boolean,
): ResourceType {
  return {
    kind,
    group: '',
    version: 'v1',
    plural,
    namespaced,
    statusSubresource,
    generation,
    defaultPropagation: 'Background',
  };
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

export function resourceByKind(kind: Kind): ResourceType {
  const type = RESOURCES.find((candidate) => candidate.kind === kind);
  if (!type) throw new Error(`unknown kind ${kind}`);
  return type;
}

/** The resource for `group/version` and a plural, as found in a URL. */
export function resourceByPlural(
  group: string,
  version: string,
  plural: string,
): ResourceType | undefined {
  return RESOURCES.find(
    (type) => type.group === group && type.version === version && type.plural === plural,
  );
}

/** `jobs.batch` or `pods`: how Status messages name a resource. */
export function qualifiedResource(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}
