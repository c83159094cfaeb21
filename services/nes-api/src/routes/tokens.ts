/**
 * API tokens: create (the secret is in that one answer, never again: only its sha256 is stored),
 * list, show, revoke; all with the `admin` scope. `GET /v1/whoami` tells any token holder (the
 * viewer, a script checking its credentials) what its own token may do.
 *
 * Revoking keeps the row (a listing shows who had access and until when) and takes effect on the
 * token's next request everywhere: tokens are checked against the store on every request, and a
 * viewer session cookie carries its token, so the session ends with it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiToken } from '@nes/client';
import { Type } from 'typebox';
import { ApiError, notFound } from '../errors.ts';
import type { StoredToken } from '../runs/run-store.ts';
import { authErrors, ErrorSchema, Nullable } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';

const ScopeSchema = Type.Union(
  [Type.Literal('read'), Type.Literal('submit'), Type.Literal('admin')],
  {
    description:
      'read: runs, events, notebooks, logs, the store; submit: read, and submit, rerun and cancel runs and sweeps; admin: everything, tokens included',
  },
);

const tokenFields = {
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(ScopeSchema),
  state: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Nullable(Type.String({ format: 'date-time' })),
  revokedAt: Nullable(Type.String({ format: 'date-time' })),
  lastUsedAt: Nullable(Type.String({ format: 'date-time', description: 'to the minute' })),
  service: Type.Boolean({
    description: "the service's own admin token (NES_ADMIN_TOKEN or the generated one)",
  }),
};

export const TokenSchema = Type.Object(tokenFields, { additionalProperties: false });

export const CreatedTokenSchema = Type.Object(
  {
    ...tokenFields,
    secret: Type.String({ description: 'The bearer token. Shown in this answer only.' }),
  },
  { additionalProperties: false },
);

export const CreateTokenBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      // Printable: a name is shown in listings and terminals.
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
      description: 'What the token is for ("airflow-prod", "alice laptop")',
    }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 3, uniqueItems: true }),
    expiresAt: Type.Optional(
      Nullable(Type.String({ format: 'date-time', description: 'absent or null: never' })),
    ),
  },
  { additionalProperties: false },
);

const TokenIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

function tokenState(token: StoredToken, now = Date.now()): ApiToken['state'] {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}

const view = (token: StoredToken) => ({ ...token, state: tokenState(token) });

export const tokenRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, ctx) => {
  const { store } = ctx;

  app.post(
    '/v1/tokens',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create a token (its secret is in this answer only)',
        tags: ['tokens'],
        body: CreateTokenBody,
        response: { 201: CreatedTokenSchema, 400: ErrorSchema, 422: ErrorSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const { name, scopes, expiresAt } = request.body;
      if (name.trim() === '') {
        throw new ApiError(422, 'invalid_token_name', 'a token name must not be blank');
      }
      if (expiresAt !== undefined && expiresAt !== null && !(Date.parse(expiresAt) > Date.now())) {
        throw new ApiError(
          422,
          'invalid_expiry',
          `expiresAt ${JSON.stringify(expiresAt)} is not in the future`,
          { expiresAt },
        );
      }
      const created = await store.createToken(name.trim(), scopes, {
        expiresAt: expiresAt == null ? null : new Date(expiresAt).toISOString(),
      });
      reply.status(201).header('cache-control', 'no-store');
      return { ...view(created.record), secret: created.token };
    },
  );

  app.get(
    '/v1/tokens',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Every token, newest first (revoked and expired ones too; never a secret)',
        tags: ['tokens'],
        response: { 200: Type.Object({ tokens: Type.Array(TokenSchema) }), ...authErrors },
      },
    },
    async () => ({ tokens: (await store.listTokens()).map(view) }),
  );

  app.get(
    '/v1/tokens/:id',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'One token (never its secret)',
        tags: ['tokens'],
        params: TokenIdParams,
        response: { 200: TokenSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const token = await store.getToken(request.params.id);
      if (token === null) throw notFound('token', request.params.id);
      return view(token);
    },
  );

  app.post(
    '/v1/tokens/:id/revoke',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Revoke a token: its next request fails, its viewer sessions end',
        tags: ['tokens'],
        params: TokenIdParams,
        response: { 200: TokenSchema, 404: ErrorSchema, ...authErrors },
      },
    },
    async (request) => {
      const token = await store.revokeToken(request.params.id);
      if (token === null) throw notFound('token', request.params.id);
      return view(token);
    },
  );

  app.get(
    '/v1/whoami',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The token this request was authenticated with (never its secret)',
        tags: ['tokens'],
        response: { 200: TokenSchema, ...authErrors },
      },
    },
    async (request) => view(request.token as StoredToken),
  );
};
