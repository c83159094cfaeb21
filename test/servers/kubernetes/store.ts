/**
 * The cluster's state, as etcd behind kube-apiserver keeps it: objects by kind, namespace and
 * name, one global resourceVersion counter bumped by every write, and the history of changes a
 * watch replays from a resourceVersion (older history is compacted away, as etcd does, so a
 * watch from before it gets 410 Gone). Listeners (watch streams, controllers) hear every change
 * synchronously, in order; they must not write back from inside the callback.
 */
import { randomUUID } from 'node:crypto';
import { type Kind, resourceByKind } from './resources.ts';
import type { KubeObject } from './selectors.ts';
import { alreadyExists, notFound } from './status.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  kind: Kind;
  /** Matches the object's metadata.resourceVersion. */
  resourceVersion: number;
  object: KubeObject;
  /** The object before a MODIFIED change. */
  previous?: KubeObject;
}

/** Like etcd's periodic compaction, bounded: a long benchmark must not grow without end. */
const HISTORY_LIMIT = 20_000;

export class ObjectStore {
  readonly #objects = new Map<string, KubeObject>();
  readonly #history: Change[] = [];
  readonly #listeners = new Set<(change: Change) => void>();
  #resourceVersion = 1000;
  /** Watches from a resourceVersion below this get 410 Gone. */
  #oldestWatchable = 1000;

  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  get(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined {
    const object = this.#objects.get(key(kind, namespace, name));
    return object ? structuredClone(object) : undefined;
  }

  list(kind: Kind, namespace?: string): KubeObject[] {
    const prefix = namespace === undefined ? `${kind}/` : `${kind}/${namespace}/`;
    const items: KubeObject[] = [];
    for (const [objectKey, object] of this.#objects) {
      if (objectKey.startsWith(prefix)) items.push(structuredClone(object));
    }
    return items.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
  }

  /**
   * The stored objects themselves, unsorted and uncloned, for controllers that only read:
   * never mutate what this yields (write through `mutate`).
   */
  *scan(kind: Kind, namespace?: string): Iterable<Readonly<KubeObject>> {
    const prefix = namespace === undefined ? `${kind}/` : `${kind}/${namespace}/`;
    for (const [objectKey, object] of this.#objects) {
      if (objectKey.startsWith(prefix)) yield object;
    }
  }

  /** Stores a new object, filling uid, creationTimestamp, generation and resourceVersion. */
  create(kind: Kind, object: KubeObject): KubeObject {
    const type = resourceByKind(kind);
    const objectKey = key(kind, object.metadata.namespace, object.metadata.name);
    if (this.#objects.has(objectKey)) throw alreadyExists(type, object.metadata.name);
    const stored = structuredClone(object);
    stored.metadata.uid ||= randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (type.generation) stored.metadata.generation = 1;
    else delete stored.metadata.generation;
    return this.#write('ADDED', kind, objectKey, stored);
  }

  /** Replaces an object (the caller has checked preconditions). */
  replace(kind: Kind, object: KubeObject): KubeObject {
    const objectKey = key(kind, object.metadata.namespace, object.metadata.name);
    const previous = this.#objects.get(objectKey);
    if (!previous) throw notFound(resourceByKind(kind), object.metadata.name);
    return this.#write('MODIFIED', kind, objectKey, structuredClone(object), previous);
  }

  /** Applies `change` to the current object; `false` from it means "nothing to write". */
  mutate(
    kind: Kind,
    namespace: string | undefined,
    name: string,
    change: (object: KubeObject) => boolean | undefined,
  ): KubeObject | undefined {
    const objectKey = key(kind, namespace, name);
    const previous = this.#objects.get(objectKey);
    if (!previous) return undefined;
    const next = structuredClone(previous);
    if (change(next) === false) return structuredClone(previous);
    return this.#write('MODIFIED', kind, objectKey, next, previous);
  }

  remove(kind: Kind, namespace: string | undefined, name: string): KubeObject | undefined {
    const objectKey = key(kind, namespace, name);
    const previous = this.#objects.get(objectKey);
    if (!previous) return undefined;
    return this.#write('DELETED', kind, objectKey, structuredClone(previous), previous);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Changes after `resourceVersion`, or null when history that old was compacted. */
  changesSince(resourceVersion: number): Change[] | null {
    if (resourceVersion < this.#oldestWatchable) return null;
    const start = this.#history.findIndex((change) => change.resourceVersion > resourceVersion);
    return start < 0 ? [] : this.#history.slice(start);
  }

  /**
   * Drops all history: every watch from a resourceVersion seen so far now gets 410 Gone. The
   * counter moves on by one (versions are opaque and may have gaps), so a fresh list's version
   * is watchable again.
   */
  compact(): void {
    this.#history.length = 0;
    this.#resourceVersion += 1;
    this.#oldestWatchable = this.#resourceVersion;
  }

  #write(
    type: ChangeType,
    kind: Kind,
    objectKey: string,
    object: KubeObject,
    previous?: KubeObject,
  ): KubeObject {
    this.#resourceVersion += 1;
    object.metadata.resourceVersion = String(this.#resourceVersion);
    if (type === 'DELETED') this.#objects.delete(objectKey);
    else this.#objects.set(objectKey, object);
    const change: Change = {
      type,
      kind,
      resourceVersion: this.#resourceVersion,
      object,
      ...(previous ? { previous } : {}),
    };
    this.#history.push(change);
    if (this.#history.length > HISTORY_LIMIT) {
      const dropped = this.#history.splice(0, this.#history.length - HISTORY_LIMIT);
      this.#oldestWatchable = dropped.at(-1)?.resourceVersion ?? this.#oldestWatchable;
    }
    for (const listener of [...this.#listeners]) listener(change);
    return structuredClone(object);
  }
}

function key(kind: Kind, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}
