/**
 * Bearer tokens with scopes. `admin` satisfies every scope; `submit` also reads (a pipeline reads
 * back the runs it submits). Routes declare the scope they need in `config.scope`; health routes
 * declare none. A token is never logged: the logger redacts the Authorization header and the
 * `token` query parameter (accepted on event streams, where browsers cannot set headers).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { RunStore, StoredToken } from '../runs/run-store.ts';

export type Scope = StoredToken['scopes'][number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; absent: no token needed (health). */
    scope?: Scope;
    /** Accept `?token=` besides the header (event streams). */
    queryToken?: boolean;
  }
  interface FastifyRequest {
    token: StoredToken | null;
  }
}

const CACHE_MS = 10_000;
const CACHE_MAX = 1000;

export function hasScope(token: StoredToken, scope: Scope): boolean {
  if (token.scopes.includes('admin')) return true;
  if (scope === 'read') return token.scopes.includes('read') || token.scopes.includes('submit');
  return token.scopes.includes(scope);
}

/** Registers the onRequest hook that checks tokens against `store.verifyToken`. */
export function registerAuth(app: FastifyInstance, store: RunStore): void {
  // Verified tokens are cached briefly by hash (never by value), so a busy client does not pay
  // a hash-and-lookup per request; a revoked token stops working within CACHE_MS.
  const cache = new Map<string, { token: StoredToken | null; until: number }>();
  const verify = async (secret: string): Promise<StoredToken | null> => {
    const key = createHash('sha256').update(secret).digest('base64url');
    const hit = cache.get(key);
    const now = Date.now();
    if (hit !== undefined && hit.until > now) return hit.token;
    const token = await store.verifyToken(secret);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, { token, until: now + CACHE_MS });
    return token;
  };

  app.decorateRequest('token', null);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const secret = bearer(request);
    if (secret === null) {
      throw new ApiError(
        401,
        'unauthenticated',
        'a bearer token is required (Authorization: Bearer <token>)',
      );
    }
    const token = await verify(secret);
    if (token === null) throw new ApiError(401, 'unauthenticated', 'the token is not valid');
    if (!hasScope(token, scope)) {
      throw new ApiError(403, 'forbidden', `this token lacks the "${scope}" scope`, {
        required: scope,
        scopes: token.scopes,
      });
    }
    request.token = token;
  });
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  if (request.routeOptions.config.queryToken === true) {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof token === 'string' && token !== '') return token;
  }
  return null;
}
