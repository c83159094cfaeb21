/**
 * Bearer tokens with scopes. `admin` satisfies every scope; `submit` also reads (a pipeline reads
 * back the runs it submits). Routes declare the scope they need in `config.scope`; health routes
 * and the viewer's pages declare none. Every `/v1` route must declare one (registering one
 * without is an error), and the API's description (`/openapi.json`, `/docs`) needs `read`: only
 * health checks answer without a token. A token is never logged: the logger redacts the
 * Authorization header and the `token` query parameter (query-token.ts; accepted on event
 * streams, where browsers cannot set headers).
 *
 * Tokens are checked against the store on every request, with no cache of our own here: a revoked
 * or expired token fails on its next request, on every replica (the embedded store answers from
 * memory that every token write clears; PostgreSQL is asked each time).
 *
 * The viewer signs in once and then sends a session cookie (`viewer/session.ts`) that carries the
 * token sealed: the token inside is verified like a bearer token on every request. A request
 * authenticated by the cookie alone may change something (POST) only when its Origin is the
 * viewer's own: the browser attaches the cookie to requests from other origins of the same site
 * too (such as the output origin, a port away), and only the Origin header tells them apart;
 * and never as a navigation (a form), which is how HTML slipped into a page would try.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { RunStore, StoredToken, TokenScope } from '../runs/run-store.ts';
import { TOKEN_PARAMETER } from './query-token.ts';

export type Scope = TokenScope;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; absent: no token needed (health). */
    scope?: Scope;
    /** Accept `?token=` besides the header (event streams). */
    queryToken?: boolean;
    /** Authenticated by a signature over the body instead of a token (webhooks). */
    signed?: boolean;
  }
  interface FastifyRequest {
    token: StoredToken | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Checks a token secret against the store; `null` when it is unknown, revoked or expired. */
export type TokenVerifier = (secret: string) => Promise<StoredToken | null>;

/** The viewer's session cookie, as auth needs it. */
export interface CookieSessions {
  /** The token sealed in the request's session cookie; null without a valid cookie. */
  token(request: FastifyRequest): string | null;
  /**
   * Whether an unsafe request authenticated by the cookie is the viewer's own doing: sent by
   * its script from its origin (not a form that content slipped into a page submitted).
   */
  fromViewer(request: FastifyRequest): boolean;
}

export function hasScope(token: StoredToken, scope: Scope): boolean {
  if (token.scopes.includes('admin')) return true;
  if (scope === 'read') return token.scopes.includes('read') || token.scopes.includes('submit');
  return token.scopes.includes(scope);
}

/** `store.verifyToken`, with no cache in front of it (see above). */
export function tokenVerifier(store: RunStore): TokenVerifier {
  return (secret: string) => store.verifyToken(secret);
}

/** The API's own description: as private as the API (it names every route and the version). */
const DESCRIPTION_PATHS = ['/openapi.json', '/docs'];

/** Registers the onRequest hook that checks bearer tokens (and the viewer's session cookie). */
export function registerAuth(
  app: FastifyInstance,
  verify: TokenVerifier,
  sessions: CookieSessions | null = null,
): void {
  app.decorateRequest('token', null);
  // Default-deny for the API: a /v1 route that forgets its scope fails at start, not in production.
  app.addHook('onRoute', (route) => {
    const path = route.url ?? '';
    const config = (route.config ?? {}) as { scope?: Scope; signed?: boolean };
    if (config.scope !== undefined || config.signed === true) return;
    if (DESCRIPTION_PATHS.some((p) => path === p || path.startsWith(`${p}/`))) {
      route.config = { ...config, scope: 'read' };
    } else if (path === '/v1' || path.startsWith('/v1/')) {
      throw new Error(`route ${String(route.method)} ${path} declares no scope (config.scope)`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    let secret = bearer(request);
    if (secret === null && sessions !== null) {
      secret = sessions.token(request);
      if (secret !== null && !SAFE_METHODS.has(request.method) && !sessions.fromViewer(request)) {
        throw new ApiError(
          403,
          'cross_origin',
          `a ${request.method} signed in by the viewer's session cookie must be sent by the viewer's script from its own origin (Origin: ${request.headers.origin ?? 'absent'}${request.headers['sec-fetch-mode'] === 'navigate' ? ', a form submission' : ''}); other clients send Authorization: Bearer <token>`,
        );
      }
    }
    if (secret === null) {
      throw new ApiError(
        401,
        'unauthenticated',
        sessions === null
          ? 'a bearer token is required (Authorization: Bearer <token>)'
          : 'a bearer token is required (Authorization: Bearer <token>), or sign in to the viewer with its token URL',
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
    // The parsed query: names already decoded, as the log redaction decodes them.
    const token = (request.query as Record<string, unknown> | undefined)?.[TOKEN_PARAMETER];
    if (typeof token === 'string' && token !== '') return token;
  }
  return null;
}
