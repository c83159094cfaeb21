/**
 * The output origin: a second listener, on its own port, for the one page that shows untrusted
 * notebook output, `frame.html`, and the assets it loads. It holds nothing worth stealing: no
 * API, no other page (every other path is a 404), and no cookie: it never sets one and never
 * reads the viewer's (browsers send a host's cookies to all its ports; the API refuses unsafe
 * requests from this origin by their Origin header). Its CSP lets output run its inline scripts
 * and CDN libraries but connect nowhere, and only the viewer may frame it.
 */
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ViewerDist } from './dist.ts';
import { outputPolicy, PAGE_HEADERS } from './policies.ts';
import type { ViewerOrigins } from './viewer-routes.ts';

export interface OutputServerOptions {
  dist: ViewerDist;
  origins: ViewerOrigins;
  logger?: FastifyServerOptions['logger'];
}

const YEAR_SECONDS = 365 * 24 * 3600;

/** The output origin's fastify instance; the caller listens and closes it. */
export async function buildOutputServer(options: OutputServerOptions): Promise<FastifyInstance> {
  const { dist, origins } = options;
  const app = Fastify({ logger: options.logger ?? false });
  await app.register(fastifyStatic, {
    root: dist.assetsDir,
    serve: false,
    index: false,
    dotfiles: 'deny',
    immutable: true,
    maxAge: YEAR_SECONDS * 1000,
    suppressWarning: true,
  });
  const frameAncestors = () =>
    [origins.viewer, ...(origins.extra === null ? [] : [origins.extra])].filter(Boolean);

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .headers(PAGE_HEADERS)
      .type('text/plain; charset=utf-8')
      .send(
        `${request.url.split('?')[0]} is not served here: this origin serves notebook output only\n`,
      );
  });

  app.get('/frame.html', async (_request, reply) => {
    const html = await dist.frame();
    if (html === null) return reply.callNotFound();
    return reply
      .headers(PAGE_HEADERS)
      .header('content-security-policy', outputPolicy(origins.output, frameAncestors()))
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(html);
  });

  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const { name } = request.params;
    if (!(await dist.frameAssets()).has(name)) return reply.callNotFound();
    // The frame is sandboxed (an opaque origin): its module scripts and fonts are CORS requests.
    return reply
      .header('access-control-allow-origin', '*')
      .header('x-content-type-options', 'nosniff')
      .sendFile(name);
  });
  return app;
}
