/**
 * The output store, Commuter-like: a path ending in `/` (or empty) lists one level (directories
 * and files); any other path serves the object (as a download: store-content.ts), or lists it
 * when it is a "directory".
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkKey, checkPrefix } from '@nes/stores';
import { Type } from 'typebox';
import { ApiError } from '../errors.ts';
import { authErrors, ErrorSchema } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';
import { asStoreDownload } from './store-content.ts';

export const ListingSchema = Type.Object({
  path: Type.String(),
  directories: Type.Array(Type.Object({ name: Type.String(), path: Type.String() })),
  files: Type.Array(
    Type.Object({
      name: Type.String(),
      path: Type.String(),
      size: Type.Integer(),
      updated: Type.String({ format: 'date-time' }),
      contentType: Type.String(),
    }),
  ),
});

export const browseRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const objects = ctx.services.artifacts;

  const listing = async (prefix: string) => {
    const { objects: files, prefixes } = await objects.list(prefix, { delimiter: '/' });
    return {
      path: prefix,
      directories: prefixes.map((p) => ({
        name: p.slice(prefix.length).replace(/\/$/, ''),
        path: p,
      })),
      files: files.map((o) => ({
        name: o.key.slice(prefix.length),
        path: o.key,
        size: o.size,
        updated: o.updated.toISOString(),
        contentType: o.contentType,
      })),
    };
  };

  app.get(
    '/v1/browse/*',
    {
      config: { scope: 'read', queryToken: true },
      schema: {
        summary: 'Browse the output store: a directory listing (JSON) or a file (its content)',
        tags: ['browse'],
        // No params schema: TypeBox's converter cannot take a property named "*".
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: { 200: ListingSchema, 400: ErrorSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const path = (request.params as { '*': string })['*'];
      if (path.split('/').some((segment) => segment === '..' || segment === '.')) {
        throw new ApiError(
          400,
          'invalid_path',
          `invalid path ${JSON.stringify(path)}: "." and ".." are not allowed`,
        );
      }
      if (path === '' || path.endsWith('/')) {
        return listing(path === '' ? '' : checkPrefix(path));
      }
      const info = await objects.stat(checkKey(path));
      if (info === null) {
        const asDirectory = await listing(`${path}/`);
        if (asDirectory.files.length === 0 && asDirectory.directories.length === 0) {
          throw new ApiError(404, 'not_found', `nothing at ${JSON.stringify(path)} in the store`);
        }
        return asDirectory;
      }
      // Sent as a download, never rendered on this origin (store-content.ts).
      asStoreDownload(reply, path)
        .type(info.contentType)
        .header('content-length', String(info.size));
      // A stream is sent as is (the response schema describes the listing).
      return reply.send((await objects.getStream(path)) as never);
    },
  );
};
