/**
 * The verbs on stored objects (create, get, list, update, patch, delete), with kube-apiserver's
 * rules: generateName, server-owned metadata, status subresources, optimistic concurrency on
 * resourceVersion, defaulting and validation (admission.ts), and the deletion protocol
 * (graceful pod deletion, `orphan` and `foregroundDeletion` finalizers; the garbage collector in
 * gc.ts finishes what they start). Everything here is synchronous and HTTP-free.
 */
import { randomInt } from 'node:crypto';
import type { V1PodSpec } from '@kubernetes/client-node';
import { defaultNew, defaultUpdate, normalize, validate } from './admission.ts';
import { applyPatch, PatchTestFailed, type PatchType } from './patch.ts';
import { namespaceLevels, podSecurityMessage, podSecurityViolations } from './pod-security.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { type KubeObject, type Selector, sameJson } from './selectors.ts';
import {
  ApiError,
  badRequest,
  conflict,
  invalid,
  notFound,
  type StatusBody,
  success,
} from './status.ts';
import type { ObjectStore } from './store.ts';

/** Kubernetes' random-suffix alphabet (no vowels, no confusable characters). */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(length = 5): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return text;
}

/** Kubernetes' timestamp format (RFC 3339, whole seconds). */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export interface DeleteOptions {
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export class ObjectApi {
  readonly #store: ObjectStore;
  readonly #checkPatched: (type: ResourceType, object: KubeObject) => void;

  /** `checkPatched` validates what a patch produced (the spec check of a PATCH body). */
  constructor(
    store: ObjectStore,
    checkPatched: (type: ResourceType, object: KubeObject) => void = () => {},
  ) {
    this.#store = store;
    this.#checkPatched = checkPatched;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.#store.get(type.kind, namespace, name);
    if (!object) throw notFound(type, name);
    return object;
  }

  list(
    type: ResourceType,
    namespace: string | undefined,
    selectors: Selector[],
    page: { limit?: number; continue?: string },
  ): Record<string, unknown> {
    const resourceVersion = this.#store.resourceVersion;
    let items = this.#store
      .list(type.kind, namespace)
      .filter((object) => selectors.every((matches) => matches(object)));
    const metadata: Record<string, unknown> = { resourceVersion };
    let offset = 0;
    if (page.continue) {
      try {
        offset = JSON.parse(Buffer.from(page.continue, 'base64url').toString()).offset;
      } catch {
        throw badRequest('invalid continue token');
      }
    }
    if (page.limit && page.limit > 0) {
      const rest = items.length - offset - page.limit;
      items = items.slice(offset, offset + page.limit);
      if (rest > 0) {
        metadata.continue = Buffer.from(JSON.stringify({ offset: offset + page.limit })).toString(
          'base64url',
        );
        metadata.remainingItemCount = rest;
      }
    } else items = items.slice(offset);
    // A list's items carry no apiVersion and kind on the wire: the list's own say it.
    for (const item of items) {
      delete item.apiVersion;
      delete item.kind;
    }
    return { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata, items };
  }

  create(
    type: ResourceType,
    namespace: string | undefined,
    body: KubeObject,
    dryRun: boolean,
  ): KubeObject {
    const object = this.#checkIdentity(type, namespace, body);
    if (!object.metadata.name && typeof object.metadata.generateName === 'string') {
      object.metadata.name = `${object.metadata.generateName}${randomSuffix()}`;
    }
    if (object.metadata.resourceVersion) {
      // etcd3's storage refuses it, and kube-apiserver reports that as an internal error.
      throw new ApiError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message:
          'Internal error occurred: resourceVersion should not be set on objects to be created',
        reason: 'InternalError',
        details: {
          causes: [
            { reason: '', message: 'resourceVersion should not be set on objects to be created' },
          ],
        },
        code: 500,
      });
    }
    for (const field of [
      'uid',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'generation',
      'managedFields',
      'selfLink',
    ]) {
      delete object.metadata[field];
    }
    if (namespace !== undefined && !this.#store.get('Namespace', undefined, namespace)) {
      throw new ApiError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `namespaces "${namespace}" not found`,
        reason: 'NotFound',
        details: { name: namespace, kind: 'namespaces' },
        code: 404,
      });
    }
    defaultNew(type.kind, object);
    normalize(type.kind, object);
    const causes = validate(type.kind, object);
    if (causes.length > 0) throw invalid(type, object.metadata.name, causes);
    this.#podSecurity(type, namespace, object);
    if (dryRun) {
      if (this.#store.get(type.kind, namespace, object.metadata.name)) {
        throw new ApiError(conflictExists(type, object.metadata.name));
      }
      return object;
    }
    return this.#store.create(type.kind, object);
  }

  /** Warnings of the last request (the `Warning` headers kube-apiserver sends). */
  #warnings: string[] = [];
  takeWarnings(): string[] {
    const warnings = this.#warnings;
    this.#warnings = [];
    return warnings;
  }

  /**
   * Pod Security admission for the namespace's labels: a pod that violates the enforced level
   * is refused (403); a pod, or a Job or PodTemplate whose pod template violates the warn level,
   * gets a warning.
   */
  #podSecurity(type: ResourceType, namespace: string | undefined, object: KubeObject): void {
    const spec =
      type.kind === 'Pod'
        ? object.spec
        : type.kind === 'PodTemplate'
          ? (object.template as { spec?: unknown } | undefined)?.spec
          : type.kind === 'Job'
            ? (object.spec as { template?: { spec?: unknown } } | undefined)?.template?.spec
            : undefined;
    if (!spec || namespace === undefined) return;
    const labels = this.#store.get('Namespace', undefined, namespace)?.metadata.labels as
      | Record<string, string>
      | undefined;
    const levels = namespaceLevels(labels);
    const podSpec = spec as V1PodSpec;
    if (type.kind === 'Pod') {
      const violations = podSecurityViolations(podSpec, levels.enforce);
      if (violations.length > 0) {
        throw new ApiError({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `pods "${object.metadata.name}" is forbidden: violates ${podSecurityMessage(levels.enforce, violations)}`,
          reason: 'Forbidden',
          details: { name: object.metadata.name, kind: 'pods' },
          code: 403,
        });
      }
    }
    const warned = podSecurityViolations(podSpec, levels.warn);
    if (warned.length > 0) {
      this.#warnings.push(`would violate ${podSecurityMessage(levels.warn, warned)}`);
    }
  }

  update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    subresource: 'status' | undefined,
    dryRun: boolean,
  ): KubeObject {
    const current = this.get(type, namespace, name);
    const incoming = this.#checkIdentity(type, namespace, body);
    if (incoming.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const wanted = incoming.metadata.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion) throw conflict(type, name);
    let next: KubeObject;
    if (subresource === 'status') {
      next = { ...structuredClone(current), status: incoming.status };
    } else {
      next = incoming;
      for (const field of [
        'uid',
        'creationTimestamp',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
        'generation',
      ]) {
        if (current.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = current.metadata[field];
      }
      delete next.metadata.managedFields;
      if (type.statusSubresource) next.status = current.status;
      if (type.generation && !sameJson(next.spec, current.spec)) {
        next.metadata.generation = Number(current.metadata.generation ?? 1) + 1;
      }
      if (current.metadata.deletionTimestamp && addsFinalizer(current, next)) {
        throw invalid(type, name, [
          {
            reason: 'FieldValueForbidden',
            message: 'Forbidden: no new finalizers can be added if the object is being deleted',
            field: 'metadata.finalizers',
          },
        ]);
      }
    }
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (subresource !== 'status') defaultUpdate(type.kind, next);
    normalize(type.kind, next);
    const causes = validate(type.kind, next, current);
    if (causes.length > 0) throw invalid(type, name, causes);
    if (subresource !== 'status' && type.kind !== 'Pod') this.#podSecurity(type, namespace, next);
    if (dryRun) return next;
    if (sameJson(next, current)) return current;
    if (
      next.metadata.deletionTimestamp &&
      !(next.metadata.finalizers as string[] | undefined)?.length
    ) {
      // Removing the last finalizer of an object being deleted completes its deletion.
      this.#store.replace(type.kind, next);
      return this.#store.remove(type.kind, namespace, name) ?? next;
    }
    return this.#store.replace(type.kind, next);
  }

  patch(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    patchType: PatchType,
    patch: unknown,
    subresource: 'status' | undefined,
    dryRun: boolean,
  ): KubeObject {
    const current = this.get(type, namespace, name);
    let patched: KubeObject;
    try {
      patched = applyPatch(patchType, current, patch) as KubeObject;
    } catch (error) {
      if (error instanceof PatchTestFailed) {
        throw invalid(type, name, [
          { reason: 'FieldValueInvalid', message: error.message, field: '' },
        ]);
      }
      throw error;
    }
    if (typeof patched !== 'object' || patched === null || typeof patched.metadata !== 'object') {
      throw badRequest('the patch produced an object without metadata');
    }
    this.#checkPatched(type, patched);
    return this.update(type, namespace, name, patched, subresource, dryRun);
  }

  /** The deleted object (or a Success Status when it is gone at once) and the HTTP status. */
  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
  ): { body: KubeObject | StatusBody; code: number } {
    const current = this.get(type, namespace, name);
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw new ApiError({
        ...conflict(type, name).status,
        message: `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
      });
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw new ApiError({
        ...conflict(type, name).status,
        message: `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      });
    }
    const propagation = options.propagationPolicy ?? type.defaultPropagation;
    if (!['Orphan', 'Background', 'Foreground'].includes(propagation)) {
      throw badRequest(
        `DeleteOptions.propagationPolicy: Unsupported value: "${propagation}": supported values: "Foreground", "Background", "Orphan"`,
      );
    }
    // kube-apiserver answers 202 only for a deferred deletion the caller asked to cascade.
    const deferredCode =
      options.propagationPolicy === 'Background' || options.propagationPolicy === 'Foreground'
        ? 202
        : 200;
    if (options.dryRun?.includes('All')) return { body: current, code: 200 };

    const finalizers = new Set((current.metadata.finalizers as string[] | undefined) ?? []);
    if (propagation === 'Orphan') finalizers.add('orphan');
    if (propagation === 'Foreground') finalizers.add('foregroundDeletion');

    const grace = type.kind === 'Pod' ? podGrace(current, options.gracePeriodSeconds) : 0;
    if (finalizers.size === 0 && grace === 0) {
      this.#store.remove(type.kind, namespace, name);
      // kube-apiserver answers the deleted pod itself, a Success Status for other kinds.
      return {
        body: type.kind === 'Pod' ? current : success(type, name, current.metadata.uid),
        code: 200,
      };
    }
    if (current.metadata.deletionTimestamp) {
      // Already being deleted: a shorter grace period may still shorten it.
      const updated = this.#store.mutate(type.kind, namespace, name, (object) => {
        const before = Number(object.metadata.deletionGracePeriodSeconds ?? 0);
        if (grace >= before) return false;
        object.metadata.deletionGracePeriodSeconds = grace;
        object.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
        return true;
      });
      return { body: updated ?? current, code: deferredCode };
    }
    const updated = this.#store.mutate(type.kind, namespace, name, (object) => {
      object.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
      object.metadata.deletionGracePeriodSeconds = grace;
      if (finalizers.size > 0) object.metadata.finalizers = [...finalizers];
      if (type.generation) object.metadata.generation = Number(object.metadata.generation ?? 1) + 1;
      return true;
    });
    return { body: updated ?? current, code: deferredCode };
  }

  #checkIdentity(type: ResourceType, namespace: string | undefined, body: KubeObject): KubeObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw badRequest(
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the body is not a JSON object`,
      );
    }
    if (body.kind !== undefined && body.kind !== type.kind) {
      throw badRequest(
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the kind in the body is ${body.kind}`,
      );
    }
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(type)) {
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(type)})`,
      );
    }
    const object = structuredClone(body);
    object.apiVersion = apiVersionOf(type);
    object.kind = type.kind;
    object.metadata ??= {} as KubeObject['metadata'];
    if (type.namespaced) {
      if (object.metadata.namespace !== undefined && object.metadata.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      object.metadata.namespace = namespace as string;
    }
    return object;
  }
}

function conflictExists(type: ResourceType, name: string): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${type.group ? `${type.plural}.${type.group}` : type.plural} "${name}" already exists`,
    reason: 'AlreadyExists',
    details: { name, ...(type.group ? { group: type.group } : {}), kind: type.plural },
    code: 409,
  };
}

function addsFinalizer(current: KubeObject, next: KubeObject): boolean {
  const before = new Set((current.metadata.finalizers as string[] | undefined) ?? []);
  return ((next.metadata.finalizers as string[] | undefined) ?? []).some((f) => !before.has(f));
}

/** kube-apiserver's pod rule: unscheduled or finished pods go at once, others get their grace. */
function podGrace(pod: KubeObject, requested: number | undefined): number {
  const spec = pod.spec as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  return Math.max(0, requested ?? spec.terminationGracePeriodSeconds ?? 30);
}
