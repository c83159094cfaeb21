/**
 * The garbage collector's part of deletion: dependents of a deleted owner are deleted
 * (Background), `orphan` finalizers strip the owner reference from dependents before the owner
 * goes, and `foregroundDeletion` deletes dependents first and the owner once none is left.
 */
import type { ObjectApi } from './api.ts';
import { RESOURCES } from './resources.ts';
import type { KubeObject } from './selectors.ts';
import type { Change, ObjectStore } from './store.ts';

interface OwnerReference {
  uid: string;
}

export class GarbageCollector {
  readonly #store: ObjectStore;
  readonly #api: ObjectApi;
  /** Owner uids to check: deleted owners, and the owners a new dependent names. */
  readonly #owners = new Set<string>();
  #scheduled = false;
  #closed = false;
  #unsubscribe: () => void;

  constructor(store: ObjectStore, api: ObjectApi) {
    this.#store = store;
    this.#api = api;
    this.#unsubscribe = store.subscribe((change) => this.#observe(change));
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
  }

  #observe(change: Change): void {
    const references = (change.object.metadata.ownerReferences ?? []) as OwnerReference[];
    if (change.type === 'DELETED') this.#owners.add(change.object.metadata.uid);
    else if (change.type === 'ADDED' && references.length > 0) {
      for (const reference of references) this.#owners.add(reference.uid);
    } else if (!change.object.metadata.deletionTimestamp) return;
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#closed) this.#pass();
    });
  }

  #everything(): { kind: (typeof RESOURCES)[number]; object: Readonly<KubeObject> }[] {
    return RESOURCES.flatMap((type) =>
      [...this.#store.scan(type.kind)].map((object) => ({ kind: type, object })),
    );
  }

  #pass(): void {
    const all = this.#everything();
    const dependentsOf = (uid: string) =>
      all.filter(({ object }) =>
        ((object.metadata.ownerReferences ?? []) as OwnerReference[]).some(
          (ref) => ref.uid === uid,
        ),
      );
    const alive = new Set(all.map(({ object }) => object.metadata.uid));

    // Background: dependents whose every owner is gone.
    const owners = [...this.#owners];
    this.#owners.clear();
    for (const uid of owners) {
      if (alive.has(uid)) continue;
      for (const { kind, object } of dependentsOf(uid)) {
        const owners = (object.metadata.ownerReferences ?? []) as OwnerReference[];
        if (owners.some((ref) => alive.has(ref.uid)) || object.metadata.deletionTimestamp) continue;
        this.#delete(kind, object);
      }
    }

    for (const { kind, object } of all) {
      if (!object.metadata.deletionTimestamp) continue;
      const finalizers = (object.metadata.finalizers ?? []) as string[];
      if (finalizers.includes('orphan')) {
        for (const dependent of dependentsOf(object.metadata.uid)) {
          this.#store.mutate(
            dependent.kind.kind,
            dependent.object.metadata.namespace,
            dependent.object.metadata.name,
            (target) => {
              const references = (target.metadata.ownerReferences ?? []) as OwnerReference[];
              const kept = references.filter((ref) => ref.uid !== object.metadata.uid);
              if (kept.length > 0) target.metadata.ownerReferences = kept;
              else delete target.metadata.ownerReferences;
              return true;
            },
          );
        }
        this.#dropFinalizer(kind, object, 'orphan');
      } else if (finalizers.includes('foregroundDeletion')) {
        const dependents = dependentsOf(object.metadata.uid);
        for (const dependent of dependents) {
          if (!dependent.object.metadata.deletionTimestamp)
            this.#delete(dependent.kind, dependent.object);
        }
        if (dependents.length === 0) this.#dropFinalizer(kind, object, 'foregroundDeletion');
      }
    }
  }

  #delete(kind: (typeof RESOURCES)[number], object: KubeObject): void {
    try {
      this.#api.delete(kind, object.metadata.namespace, object.metadata.name, {
        propagationPolicy: 'Background',
      });
    } catch {
      // Gone meanwhile.
    }
  }

  #dropFinalizer(kind: (typeof RESOURCES)[number], object: KubeObject, finalizer: string): void {
    const updated = this.#store.mutate(
      kind.kind,
      object.metadata.namespace,
      object.metadata.name,
      (target) => {
        const finalizers = ((target.metadata.finalizers ?? []) as string[]).filter(
          (f) => f !== finalizer,
        );
        if (finalizers.length > 0) target.metadata.finalizers = finalizers;
        else delete target.metadata.finalizers;
        return true;
      },
    );
    if (updated && !updated.metadata.finalizers) {
      this.#store.remove(kind.kind, object.metadata.namespace, object.metadata.name);
    }
  }
}
