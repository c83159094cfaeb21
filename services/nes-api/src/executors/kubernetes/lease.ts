/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * read the Lease; take it when it is free or its holder stopped renewing for
 * `leaseDurationSeconds`; renew it while held. Every write carries the resourceVersion read, so
 * two replicas racing for it get one success and one 409 Conflict. Only the holder performs
 * side effects (timeouts, log archiving, marking lost runs, deleting finished Jobs).
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { describeError, httpStatus, microTime } from './kube-client.ts';

export interface LeaseElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  /** This replica's identity (pod name and a random suffix). */
  identity: string;
  leaseDurationSeconds?: number;
  /** How often the holder renews and the others try. Default a third of the duration. */
  retryPeriodMs?: number;
  now?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  onChange?: (leader: boolean) => void;
}

export class LeaseElector {
  readonly #o: LeaseElectorOptions;
  readonly #durationMs: number;
  #leader = false;
  /** When our last successful renewal happened (local clock). */
  #renewedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #pass: Promise<void> | null = null;
  /** Successful acquisitions (a count of transitions into leadership). */
  acquisitions = 0;

  constructor(options: LeaseElectorOptions) {
    this.#o = options;
    this.#durationMs = (options.leaseDurationSeconds ?? 15) * 1000;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** True while this replica holds an unexpired lease. */
  get leader(): boolean {
    return this.#leader && this.#now() - this.#renewedAt < this.#durationMs;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.tryOnce();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const period = this.#o.retryPeriodMs ?? Math.max(200, this.#durationMs / 3);
    this.#timer = setTimeout(() => {
      void this.tryOnce().finally(() => this.#schedule());
    }, period);
    this.#timer.unref();
  }

  /** One acquire-or-renew attempt. Never throws. */
  tryOnce(): Promise<void> {
    this.#pass ??= this.#attempt().finally(() => {
      this.#pass = null;
    });
    return this.#pass;
  }

  #set(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader) this.acquisitions += 1;
    this.#o.log?.(
      'info',
      `lease ${this.#o.name}: ${leader ? 'acquired' : 'lost'} by ${this.#o.identity}`,
    );
    this.#o.onChange?.(leader);
  }

  async #attempt(): Promise<void> {
    const { api, namespace, name, identity } = this.#o;
    const now = this.#now();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.#durationMs / 1000,
      renewTime: microTime(now) as unknown as Date,
    };
    try {
      let lease: V1Lease;
      try {
        lease = await api.readNamespacedLease({ name, namespace });
      } catch (error) {
        if (httpStatus(error) !== 404) throw error;
        await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { ...spec, acquireTime: microTime(now) as unknown as Date, leaseTransitions: 0 },
          },
        });
        this.#renewedAt = now;
        this.#set(true);
        return;
      }
      const held = lease.spec?.holderIdentity ?? '';
      const renewed = Date.parse(String(lease.spec?.renewTime ?? '')) || 0;
      const duration = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
      const mine = held === identity;
      if (!mine && held !== '' && now - renewed < duration) {
        this.#set(false);
        return;
      }
      const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            acquireTime: (mine ? lease.spec?.acquireTime : microTime(now)) as unknown as Date,
            leaseTransitions: transitions,
          },
        },
      });
      this.#renewedAt = now;
      this.#set(true);
    } catch (error) {
      const status = httpStatus(error);
      // 409: another replica wrote first (it holds the lease now).
      if (status !== 409) {
        this.#o.log?.('warn', `lease ${name}: ${describeError(error)}`);
      }
      if (status === 409 || !this.leader) this.#set(false);
    }
  }

  /** Stops renewing and releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#pass;
    if (!this.#leader) return;
    const { api, namespace, name } = this.#o;
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity === this.#o.identity) {
        await api.replaceNamespacedLease({
          name,
          namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
        });
      }
    } catch (error) {
      this.#o.log?.('warn', `lease ${name}: release: ${describeError(error)}`);
    }
    this.#set(false);
  }
}
