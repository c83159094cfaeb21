/**
 * Delivers the outbox in the background: claims due deliveries (leased, so replicas never send
 * one at the same time), posts each to its target with a timeout, and records the attempt. A
 * failure is retried with exponential back-off and full jitter until the retry window closes,
 * then the delivery is marked failed (redeliver starts it again). At most `concurrency`
 * deliveries are in flight, so a burst of finished runs or a slow receiver costs the routes
 * nothing but a few database rows. It is woken when a run finishes and polls otherwise (another
 * replica's events, retries coming due, leases lapsing).
 */
import { NO_RESULTS, resultValues } from '@nes/runner';
import { isSourceError } from '@nes/sources';
import type { RunStore } from '../runs/run-store.ts';
import type { ClaimedDelivery, OutboxStore } from './outbox-store.ts';
import { type RenderedRun, slackBody, webhookBody } from './payloads.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signing.ts';
import { refusal, type TargetPolicy } from './target-url.ts';

export interface DelivererOptions {
  outbox: OutboxStore;
  runs: RunStore;
  policy: TargetPolicy;
  /** Base of the links in payloads (read at each delivery: a test's port is known late). */
  publicUrl: () => string;
  /** Deliveries in flight at once. */
  concurrency?: number;
  pollMs?: number;
  /** How long a claimed delivery is ours; longer than a request's timeout. */
  leaseMs?: number;
  timeoutMs?: number;
  /** Retries stop this long after the first attempt. */
  retryWindowMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  log?: (
    level: 'info' | 'warn' | 'error',
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
  /** Observes each attempt (metrics). */
  onAttempt?: (
    outcome: 'delivered' | 'retry' | 'failed',
    target: 'webhook' | 'slack',
    seconds: number,
  ) => void;
}

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** Full-jitter exponential back-off (AWS's "full jitter"): random in [0, min(max, base * 2^n)]. */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(baseMs / 2, Math.round(random() * ceiling));
}

export class Deliverer {
  readonly #o: Required<Omit<DelivererOptions, 'log' | 'onAttempt'>> &
    Pick<DelivererOptions, 'log' | 'onAttempt'>;
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #stopped = false;
  #again = false;
  readonly #settling = new Set<Promise<void>>();

  constructor(options: DelivererOptions) {
    this.#o = {
      concurrency: 8,
      pollMs: 1000,
      leaseMs: 60_000,
      timeoutMs: 10_000,
      retryWindowMs: 24 * 3600_000,
      baseDelayMs: 1000,
      maxDelayMs: 10 * 60_000,
      random: Math.random,
      ...options,
    };
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  start(): void {
    this.#schedule(0);
  }

  /** Something may be due now (a run finished, a redelivery). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** Stops claiming; waits for deliveries in flight (their leases would otherwise lapse). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#settling]);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = null;
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      do {
        this.#again = false;
        const room = this.#o.concurrency - this.#inFlight;
        if (room <= 0) break;
        const claimed = await this.#o.outbox.claim(room, this.#o.leaseMs);
        for (const delivery of claimed) this.#send(delivery);
        if (claimed.length === room) this.#again = true;
      } while (this.#again && !this.#stopped && this.#inFlight < this.#o.concurrency);
    } catch (error) {
      this.#o.log?.('error', `notifications: cannot read the outbox: ${messageOf(error)}`);
    } finally {
      this.#running = false;
      this.#schedule(this.#o.pollMs);
    }
  }

  #send(delivery: ClaimedDelivery): void {
    this.#inFlight += 1;
    const done = this.#deliver(delivery)
      .catch((error) =>
        this.#o.log?.('error', `notifications: delivery ${delivery.id}: ${messageOf(error)}`),
      )
      .finally(() => {
        this.#inFlight -= 1;
        this.#settling.delete(done);
        this.wake();
      });
    this.#settling.add(done);
  }

  async #deliver(delivery: ClaimedDelivery): Promise<void> {
    const started = performance.now();
    let outcome: AttemptOutcome;
    try {
      outcome = await this.#post(delivery, started);
    } catch (error) {
      outcome = {
        ok: false,
        statusCode: null,
        error: describeFailure(error, delivery.subscription.target.url),
        durationMs: Math.round(performance.now() - started),
      };
    }
    let retryAt: Date | null = null;
    if (!outcome.ok) {
      const delay = retryDelayMs(
        delivery.attempt,
        this.#o.baseDelayMs,
        this.#o.maxDelayMs,
        this.#o.random,
      );
      const closes = Date.parse(delivery.retryFrom) + this.#o.retryWindowMs;
      if (Date.now() + delay <= closes) retryAt = new Date(Date.now() + delay);
    }
    await this.#o.outbox.settle(delivery, outcome, retryAt);
    const result = outcome.ok ? 'delivered' : retryAt ? 'retry' : 'failed';
    this.#o.onAttempt?.(result, delivery.subscription.target.kind, outcome.durationMs / 1000);
    const fields = {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      runId: delivery.runId,
      attempt: delivery.attempt,
      statusCode: outcome.statusCode,
    };
    if (result === 'failed') {
      this.#o.log?.(
        'warn',
        `notifications: gave up on delivery ${delivery.id}: ${outcome.error}`,
        fields,
      );
    } else if (result === 'retry') {
      this.#o.log?.(
        'info',
        `notifications: delivery ${delivery.id} will be retried: ${outcome.error}`,
        fields,
      );
    }
  }

  async #post(delivery: ClaimedDelivery, started: number): Promise<AttemptOutcome> {
    const subject = await this.#subject(delivery);
    const event = { id: delivery.eventId, type: delivery.eventType, createdAt: delivery.createdAt };
    const target = delivery.subscription.target;
    const body = JSON.stringify(
      target.kind === 'slack' ? slackBody(event, subject) : webhookBody(event, subject),
    );
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'NES-Notifications/1',
    };
    if (target.kind === 'webhook') {
      headers['x-nes-event'] = delivery.eventType;
      headers['x-nes-event-id'] = delivery.eventId;
      headers['x-nes-delivery'] = `${delivery.id}.${delivery.attempt}`;
      if (delivery.subscription.secret) {
        headers[SIGNATURE_HEADER] = signatureHeader(
          delivery.subscription.secret,
          body,
          Math.floor(Date.now() / 1000),
        );
      }
    }
    const response = await this.#o.policy.fetch(target.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#o.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    const ok = response.status >= 200 && response.status < 300;
    return {
      ok,
      statusCode: response.status,
      error: ok ? null : `the receiver answered ${response.status}`,
      durationMs: Math.round(performance.now() - started),
    };
  }

  async #subject(
    delivery: ClaimedDelivery,
  ): Promise<{ run?: RenderedRun; data?: Record<string, unknown> | null }> {
    if (delivery.runId === null) return { data: delivery.payload };
    const run = await this.#o.runs.getRun(delivery.runId);
    if (run === null) return { data: { run: { id: delivery.runId, status: 'deleted' } } };
    const results = (await this.#o.runs.getResults(run.id)) ?? NO_RESULTS;
    const id = encodeURIComponent(run.id);
    const base = this.#o.publicUrl();
    return {
      run: {
        run,
        links: {
          self: `${base}/v1/runs/${id}`,
          viewer: `${base}/runs/${id}`,
          results: `${base}/v1/runs/${id}/results`,
        },
        results: resultValues(results),
      },
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed request in a sentence: a refused address, a timeout, a refused connection. */
function describeFailure(error: unknown, url: string): string {
  const cause = (error as { cause?: unknown })?.cause;
  for (const candidate of [error, cause, (cause as { cause?: unknown })?.cause]) {
    if (isSourceError(candidate)) return refusal(new URL(url).hostname, candidate.details);
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return 'the receiver did not answer in time';
  }
  const code = (cause as { code?: string } | undefined)?.code;
  return code ? `cannot connect (${code})` : messageOf(error);
}
