/**
 * The viewer on the API's origin: `/assets/*` (content-hashed, cached for good) and index.html
 * for every other page a browser navigates to (`/`, `/runs/:id`, `/browse/...`, `/compare`...),
 * so the app's own router takes over. API paths are never shadowed: an unknown one stays the
 * API's JSON 404.
 *
 * Sign-in: `?token=` on any page is checked against the store, traded for the session cookie and
 * taken out of the address bar by a 303 to the same URL without it (an invalid token gets an
 * error page, never a redirect); `POST /sign-out` clears it. index.html learns the output frame's origin from the
 * `nes-frame-origin` meta tag, filled in here on every response.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/auth.ts';
import { TOKEN_PARAMETER } from '../auth/query-token.ts';
import type { ViewerDist } from './dist.ts';
import { withFrameOrigin } from './dist.ts';
import { notBuiltPage, signInFailedPage } from './pages.ts';
import { PAGE_HEADERS, STATIC_PAGE_POLICY, viewerPolicy } from './policies.ts';
import type { SessionCookies } from './session.ts';

/** The two origins, known once both listeners are bound (port 0 in tests). */
export interface ViewerOrigins {
  /** The viewer's (and the API's) public origin. */
  viewer: string;
  /** The output frame's origin. */
  output: string;
  /** A separately hosted viewer (NES_VIEWER_ORIGIN), also allowed to frame output; or null. */
  extra: string | null;
}

export interface ViewerOptions {
  dist: ViewerDist;
  sessions: SessionCookies;
  origins: ViewerOrigins;
}

/** Paths that belong to the API (or to the files under them): never the app's pages. */
const API_PATHS = ['/v1', '/docs', '/openapi.json', '/livez', '/readyz', '/healthz', '/metrics'];
const YEAR_SECONDS = 365 * 24 * 3600;

function isApiPath(path: string): boolean {
  return API_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

export const viewerRoutes: FastifyPluginAsync<ViewerOptions & { verify: TokenVerifier }> = async (
  app,
  { dist, sessions, origins, verify },
) => {
  await app.register(fastifyStatic, {
    root: dist.assetsDir,
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    list: false,
    redirect: false,
    dotfiles: 'deny',
    immutable: true,
    maxAge: YEAR_SECONDS * 1000,
    // The dist may be built after the service starts.
    suppressWarning: true,
    setHeaders: (reply) => reply.header('x-content-type-options', 'nosniff'),
  });

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const [path = '/', search = ''] = request.url.split(/\?(.*)/s);
    // The API's own 404s; and the output frame is served on the output origin only.
    if (isApiPath(path) || path === '/frame.html' || path.startsWith('/assets/')) {
      return reply.callNotFound();
    }
    if (path !== '/' && !(request.headers.accept ?? '').includes('text/html')) {
      return reply.callNotFound();
    }
    const query = new URLSearchParams(search);
    if (query.has(TOKEN_PARAMETER)) return signIn(reply, path, query);

    reply
      .headers(PAGE_HEADERS)
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8');
    const html = await dist.index();
    if (html === null) {
      return reply
        .header('content-security-policy', STATIC_PAGE_POLICY)
        .send(notBuiltPage(dist.dir));
    }
    return reply
      .header('content-security-policy', viewerPolicy(origins.output))
      .send(withFrameOrigin(html, origins.output));
  };

  /** Trades `?token=` for the session cookie, then the same URL without it. */
  const signIn = async (reply: FastifyReply, path: string, query: URLSearchParams) => {
    const secret = query.get(TOKEN_PARAMETER) ?? '';
    query.delete(TOKEN_PARAMETER);
    const rest = query.toString();
    // `//host` would be another site's address: the redirect stays on this one.
    const local = `/${path.replace(/^[/\\]+/, '')}`;
    const location = rest === '' ? local : `${local}?${rest}`;
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-store');
    const token = secret === '' ? null : await verify(secret);
    if (token === null) {
      return reply
        .status(401)
        .type('text/html; charset=utf-8')
        .header('content-security-policy', STATIC_PAGE_POLICY)
        .send(signInFailedPage(location));
    }
    return reply
      .header('set-cookie', sessions.issue(secret, token.expiresAt))
      .redirect(location, 303);
  };

  /**
   * Sign-out: the browser forgets its session cookie. The sealed cookie needs no table, so a
   * copy taken elsewhere stays valid until it expires or its token is revoked. Only the viewer
   * itself may sign its user out (a fetch from its own origin, never a form from elsewhere).
   */
  const signOut = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-store');
    if (!sessions.fromViewer(request)) {
      return reply.status(403).send({
        error: {
          code: 'cross_origin',
          message: 'sign-out is accepted only from the viewer itself (a fetch from its origin)',
        },
      });
    }
    return reply.header('set-cookie', sessions.clear()).status(204).send();
  };

  const hidden = { schema: { hide: true } };
  app.get('/', hidden, page);
  app.get('/*', hidden, page);
  app.post('/sign-out', hidden, signOut);
};
