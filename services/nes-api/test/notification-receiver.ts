/**
 * A webhook receiver for the notification tests, on real HTTP: it verifies each delivery's
 * signature the way a receiver should (signing.ts verifySignature), counts deliveries by event
 * id, and can answer an error status, hold requests unanswered, or be down (its port closed)
 * and come back on the same port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifySignature } from '../src/notifications/signing.ts';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
  eventId: string | undefined;
  /** The signature verified with the receiver's secret (undefined: no secret set). */
  signed: boolean | undefined;
}

export class Receiver {
  readonly received: Received[] = [];
  /** Answered with this status. */
  status = 200;
  /** While set, requests are held unanswered (released by `release()`). */
  holding = false;
  secret: string | undefined;
  #held: ServerResponse[] = [];
  #server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get held(): number {
    return this.#held.length;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const header = req.headers[SIGNATURE_HEADER];
        this.received.push({
          path: req.url ?? '/',
          headers: req.headers,
          body,
          json: JSON.parse(body),
          eventId: req.headers['x-nes-event-id'] as string | undefined,
          signed:
            this.secret === undefined
              ? undefined
              : typeof header === 'string' &&
                verifySignature(this.secret, body, header, Math.floor(Date.now() / 1000)),
        });
        if (this.holding) {
          this.#held.push(res);
          return;
        }
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Answers every held request with `status`. */
  release(status = 200): void {
    this.holding = false;
    for (const res of this.#held.splice(0)) res.writeHead(status).end();
  }

  /** Closes the port (connections refused) until `start(this.port)` again. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const res of this.#held.splice(0)) res.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  byEvent(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.received) {
      if (r.eventId) counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
    }
    return counts;
  }
}

export async function until<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
): Promise<NonNullable<T>> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
