/**
 * POST /v1/hooks/github: fix by push. A GitHub push webhook, verified with the repository's
 * secret (X-Hub-Signature-256: HMAC-SHA256 of the exact body), reruns at the pushed commit the
 * failed dates of every schedule that opted in (`rerunOnPush`) and whose notebook, or path
 * prefix, the push changed on the schedule's branch. Other events are acknowledged and ignored.
 *
 * The changed paths come from the payload when it is whole, else from GitHub's compare API
 * (schedules/push-changes.ts). A deleted branch has no commit to run at: acknowledged, ignored.
 *
 * The route parses its own body: the signature is over the bytes GitHub sent, so the app's JSON
 * parser (which reads parameters exactly) must not touch them first.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GitHubClient, parseSourceUri } from '@nes/sources';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../errors.ts';
import { type PushChanges, type PushEvent, pushChanges } from '../schedules/push-changes.ts';
import type { Schedule, ScheduleDate } from '../schedules/schedule-model.ts';
import { ErrorSchema } from '../schemas/common.ts';
import type { RouteContext } from './context.ts';

const SHA = /^[0-9a-f]{40}$/;

const HookResultSchema = Type.Object({
  event: Type.Union([Type.String(), Type.Null()]),
  commit: Type.Optional(Type.String()),
  ignored: Type.Boolean(),
  /** Why a push was ignored, or why every opted-in schedule on the branch counted as changed. */
  reason: Type.Optional(Type.String()),
  /** Where the changed paths came from: the payload, GitHub's compare API, or its commits. */
  changesFrom: Type.Optional(
    Type.Union([
      Type.Literal('payload'),
      Type.Literal('compare'),
      Type.Literal('commits'),
      Type.Literal('everything'),
    ]),
  ),
  reruns: Type.Array(
    Type.Object({
      scheduleId: Type.String(),
      name: Type.String(),
      dates: Type.Array(Type.String({ format: 'date-time' })),
    }),
  ),
});

export const githubHookRoutes: FastifyPluginAsync<RouteContext> = async (app, ctx) => {
  const services = ctx.services.schedules;
  if (services === undefined) return;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );

  app.post(
    '/v1/hooks/github',
    {
      config: { signed: true },
      schema: {
        summary:
          'GitHub push webhook: rerun, at the pushed commit, the failed dates of schedules whose notebook changed (HMAC-verified)',
        tags: ['schedules'],
        security: [],
        response: {
          200: HookResultSchema,
          202: HookResultSchema,
          400: ErrorSchema,
          401: ErrorSchema,
          403: ErrorSchema,
          415: ErrorSchema,
          // GitHub's compare API failed (the delivery can be redelivered from GitHub).
          422: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const raw = request.body;
      if (!Buffer.isBuffer(raw))
        throw new ApiError(415, 'unsupported_media_type', 'send the webhook as application/json');
      let event: PushEvent;
      try {
        event = JSON.parse(raw.toString('utf8')) as PushEvent;
      } catch {
        throw new ApiError(400, 'invalid_json', 'the webhook body is not JSON');
      }
      const repository = event.repository?.full_name;
      if (typeof repository !== 'string')
        throw new ApiError(400, 'invalid_request', 'the webhook names no repository.full_name');
      const secrets = ctx.config.githubWebhookSecrets;
      const secret = secrets.byRepository[repository.toLowerCase()] ?? secrets.default;
      if (secret === null) {
        throw new ApiError(
          403,
          'hook_not_configured',
          `no webhook secret is configured for ${repository}`,
        );
      }
      if (!validSignature(secret, raw, request.headers['x-hub-signature-256'])) {
        throw new ApiError(
          401,
          'invalid_signature',
          'X-Hub-Signature-256 is missing or does not match the body signed with the repository secret',
        );
      }
      const kind = request.headers['x-github-event'];
      if (kind !== 'push') {
        return reply.status(200).send({ event: kind ?? null, ignored: true, reruns: [] });
      }
      const branch = event.ref?.startsWith('refs/heads/')
        ? event.ref.slice('refs/heads/'.length)
        : null;
      const ignore = (reason: string) =>
        reply.status(200).send({ event: 'push', ignored: true, reason, reruns: [] });
      if (branch === null) return ignore('not a branch (tags are not followed)');
      if (event.deleted === true || /^0+$/.test(event.after ?? ''))
        return ignore('the push deleted the branch: there is no commit to run at');
      if (!SHA.test(event.after ?? '')) return ignore('the push names no commit (after)');
      const commit = event.after as string;
      const defaultBranch = event.repository?.default_branch ?? null;
      const candidates: Array<{ schedule: Schedule; failed: ScheduleDate[] }> = [];
      for (const schedule of await services.store.rerunOnPush()) {
        if (!followsBranch(schedule, repository, branch, defaultBranch)) continue;
        const failed = await services.store.failedDates(schedule.id);
        if (failed.length > 0) candidates.push({ schedule, failed });
      }
      // GitHub is asked only when a failed date could rerun (and the payload is not whole).
      let changes: PushChanges = { kind: 'paths', paths: new Set(), source: 'payload' };
      if (candidates.length > 0) {
        const [owner = '', repo = ''] = repository.split('/');
        changes = await pushChanges(
          event,
          new GitHubClient(ctx.services.sourceOptions),
          owner,
          repo,
          branch,
        );
      }
      const now = services.clock();
      const reruns: Array<{ scheduleId: string; name: string; dates: string[] }> = [];
      for (const { schedule, failed } of candidates) {
        if (!changedBy(schedule, changes)) continue;
        const started = await services.store.startAttempts(
          schedule.id,
          failed.map((d) => ({ logicalDate: d.logicalDate, dataIntervalEnd: d.dataIntervalEnd })),
          { trigger: 'push', sweepId: null, refOverride: commit },
          now,
        );
        reruns.push({ scheduleId: schedule.id, name: schedule.name, dates: started });
      }
      if (reruns.some((r) => r.dates.length > 0)) services.wake();
      return reply.status(202).send({
        event: 'push',
        commit,
        ignored: false,
        ...(changes.kind === 'everything'
          ? { reason: changes.reason, changesFrom: 'everything' as const }
          : { changesFrom: changes.source }),
        reruns,
      });
    },
  );
};

export function signature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function validSignature(
  secret: string,
  body: Buffer,
  header: string | string[] | undefined,
): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signature(secret, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The schedule's notebook is on GitHub in this repository, on the pushed branch. */
function followsBranch(
  schedule: Schedule,
  repository: string,
  branch: string,
  defaultBranch: string | null,
): boolean {
  const location = githubLocation(schedule);
  if (location === null) return false;
  if (`${location.owner}/${location.repo}`.toLowerCase() !== repository.toLowerCase()) return false;
  return (schedule.ref ?? location.ref ?? defaultBranch) === branch;
}

/** The push changed the schedule's notebook (or a path under its prefix). */
function changedBy(schedule: Schedule, changes: PushChanges): boolean {
  if (changes.kind === 'everything') return true;
  const location = githubLocation(schedule);
  if (location === null) return false;
  const prefix = schedule.pushPathPrefix?.replace(/^\/+/, '') ?? null;
  for (const path of changes.paths) {
    if (path === location.path) return true;
    if (prefix !== null && path.startsWith(prefix)) return true;
  }
  return false;
}

function githubLocation(
  schedule: Schedule,
): { owner: string; repo: string; ref: string | null; path: string } | null {
  try {
    const location = parseSourceUri(schedule.notebook, { ref: schedule.ref ?? undefined });
    return location.kind === 'github' ? location : null;
  } catch {
    return null;
  }
}
