/**
 * core/v1 Events as the kubelet, the scheduler and the Job controller record them: one object
 * per occurrence, named `<involved object>.<hex>`, in the involved object's namespace.
 */
import { randomBytes } from 'node:crypto';
import { timestamp } from './api.ts';
import type { KubeObject } from './selectors.ts';
import type { ObjectStore } from './store.ts';

export const NODE_NAME = 'fake-node-1';

export type Component = 'kubelet' | 'default-scheduler' | 'job-controller';

export class EventRecorder {
  readonly #store: ObjectStore;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  record(
    involved: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: Component,
    fieldPath?: string,
  ): void {
    const namespace = involved.metadata.namespace ?? 'default';
    const now = new Date();
    const hex = randomBytes(8).toString('hex');
    if (!this.#store.get('Namespace', undefined, namespace)) return;
    this.#store.create('Event', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${involved.metadata.name}.${hex}`,
        namespace,
        uid: '',
        resourceVersion: '',
      },
      involvedObject: {
        kind: involved.kind,
        namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: component === 'kubelet' ? { component, host: NODE_NAME } : { component },
      firstTimestamp: timestamp(now),
      lastTimestamp: timestamp(now),
      count: 1,
      type,
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? NODE_NAME : '',
    });
  }
}
