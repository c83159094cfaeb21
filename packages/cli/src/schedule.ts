/**
 * `nes schedule ACTION [NAME] [NOTEBOOK]`: schedules, their logical dates and backfills.
 * Human tables on stdout (or JSON with --json); notes on stderr.
 */
import type { NesClient, Schedule, SchedulePrecondition, ScheduleRequest } from '@nes/client';
import type { Argv } from 'yargs';
import { EXIT_SUCCEEDED, usageError } from './exit.ts';
import { table } from './format.ts';
import type { Io } from './main.ts';
import { labels, list, positiveInt, str } from './option-values.ts';

export const SCHEDULE_ACTIONS = [
  'create',
  'update',
  'list',
  'get',
  'pause',
  'resume',
  'delete',
  'trigger',
  'dates',
  'backfill',
  'invalidate',
] as const;

/**
 * The flags that set a schedule's fields (create and update): each names the field it sets and
 * how its value is read, so declaring and reading a flag are one entry.
 */
const FIELD_FLAGS = {
  tz: { field: 'timezone', read: 'text', describe: 'IANA time zone (default UTC)' },
  ref: { field: 'ref', read: 'text', describe: 'branch resolved at each tick' },
  kernel: { field: 'kernel', read: 'text', describe: 'kernel name', alias: 'k' },
  start: { field: 'startDate', read: 'date', describe: 'start date (2026-01-31 or an instant)' },
  end: { field: 'endDate', read: 'date', describe: 'end date (2026-01-31 or an instant)' },
  'max-active': { field: 'maxActiveRuns', read: 'count', describe: 'max active runs' },
  timeout: { field: 'timeoutSeconds', read: 'count', describe: 'deadline of each run in seconds' },
  sla: { field: 'freshnessSlaSeconds', read: 'count', describe: 'freshness SLA in seconds' },
  poke: {
    field: 'pokeIntervalSeconds',
    read: 'count',
    describe: 'seconds between precondition checks',
  },
  'wait-timeout': {
    field: 'preconditionTimeoutSeconds',
    read: 'count',
    describe: 'seconds a precondition may take',
  },
  'push-prefix': {
    field: 'pushPathPrefix',
    read: 'text',
    describe: 'also rerun when this path prefix changes',
  },
} as const satisfies Record<
  string,
  {
    field: keyof ScheduleRequest;
    read: 'text' | 'date' | 'count';
    describe: string;
    alias?: string;
  }
>;

export function scheduleOptions(y: Argv): Argv {
  let options = y
    .positional('action', { type: 'string', choices: SCHEDULE_ACTIONS })
    .positional('name', { type: 'string', describe: 'The schedule (name or id)' })
    .positional('notebook', { type: 'string', describe: 'create: the notebook' })
    .option('cron', { type: 'string', describe: 'create/update: "0 6 * * *", @daily...' });
  for (const [flag, { describe, ...rest }] of Object.entries(FIELD_FLAGS)) {
    options = options.option(flag, {
      type: 'string',
      describe: `create/update: ${describe}`,
      ...('alias' in rest ? { alias: rest.alias } : {}),
    });
  }
  return options
    .option('catchup', { type: 'string', choices: ['none', 'latest', 'all'] })
    .option('label', { type: 'string', describe: 'k=v. Repeatable.' })
    .option('paused', { type: 'boolean', describe: 'create: paused' })
    .option('rerun-on-push', {
      type: 'boolean',
      describe: 'Rerun failed dates when a push fixes the notebook',
    })
    .option('wait-for', {
      type: 'string',
      describe: 'Precondition: object URI (templated). Repeatable.',
    })
    .option('depends-on-past', {
      type: 'boolean',
      describe: 'Precondition: the previous date succeeded',
    })
    .option('after', {
      type: 'string',
      describe: "Precondition: this schedule's same date succeeded. Repeatable.",
    })
    .option('date', {
      type: 'string',
      describe: 'trigger: the logical date (default the latest ended)',
    })
    .option('from', { type: 'string', describe: 'dates/backfill/invalidate: first logical date' })
    .option('to', { type: 'string', describe: 'dates/backfill/invalidate: last logical date' })
    .option('only', {
      type: 'string',
      choices: ['gaps', 'failed', 'all'],
      describe: 'backfill: which dates',
    })
    .option('concurrency', { type: 'string', describe: 'backfill: at most N runs at once' });
}

export async function schedule(
  client: NesClient,
  a: Record<string, unknown>,
  io: Io,
  parameters: Record<string, unknown>,
): Promise<number> {
  const json = Boolean(a.json);
  const out = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);
  const action = String(a.action);
  const name = typeof a.name === 'string' ? a.name : undefined;
  const need = () => {
    if (name === undefined) throw usageError(`nes schedule ${action} needs the schedule's name`);
    return name;
  };
  const show = (s: Schedule) => {
    if (json) out(s);
    else io.stdout.write(details(s));
    return EXIT_SUCCEEDED;
  };
  switch (action) {
    case 'create': {
      const notebook = typeof a.notebook === 'string' ? a.notebook : undefined;
      const cron = str(a.cron);
      if (notebook === undefined || cron === undefined)
        throw usageError('nes schedule create NAME NOTEBOOK --cron "EXPR" [options]');
      const request: ScheduleRequest = {
        name: need(),
        notebook,
        cron,
        ...fields(a, parameters),
        ...(a.paused ? { paused: true } : {}),
      };
      const created = await client.createSchedule(request);
      note(
        `${created.name} (${created.id}): next logical date ${created.nextLogicalDate ?? 'none'}`,
      );
      return show(created);
    }
    case 'update': {
      const patch = { ...fields(a, parameters), ...(str(a.cron) ? { cron: str(a.cron) } : {}) };
      if (Object.keys(patch).length === 0)
        throw usageError('nes schedule update: nothing to change');
      return show(await client.updateSchedule(need(), patch));
    }
    case 'get':
      return show(await client.getSchedule(need()));
    case 'pause':
      return show(await client.pauseSchedule(need()));
    case 'resume':
      return show(await client.resumeSchedule(need()));
    case 'delete':
      await client.deleteSchedule(need());
      note(`${name}: deleted (its runs stay)`);
      return EXIT_SUCCEEDED;
    case 'list': {
      const { schedules } = await client.listSchedules({ limit: 500 });
      if (json) out(schedules);
      else if (schedules.length === 0) note('no schedules');
      else
        io.stdout.write(
          table(
            ['NAME', 'CRON', 'TZ', 'STATE', 'NEXT DUE', 'NOTEBOOK'],
            schedules.map((s) => [
              s.name,
              s.cron,
              s.timezone,
              s.paused ? 'paused' : s.freshnessState,
              s.nextDueAt ?? '-',
              s.notebook,
            ]),
          ),
        );
      return EXIT_SUCCEEDED;
    }
    case 'trigger': {
      const date = await client.triggerSchedule(need(), str(a.date));
      if (json) out(date);
      else note(`${name}: logical date ${date.logicalDate} ${date.state}`);
      return EXIT_SUCCEEDED;
    }
    case 'dates': {
      const from = str(a.from);
      const to = str(a.to);
      const dates = await client.scheduleDates(need(), {
        ...(from ? { from: isoDate(from) } : {}),
        ...(to ? { to: isoDate(to) } : {}),
      });
      if (json) out(dates);
      else
        io.stdout.write(
          table(
            ['LOGICAL DATE', 'STATE', 'TRIGGER', 'RUN', 'COMMIT', 'REASON'],
            dates.dates.map((d) => [
              d.logicalDate,
              d.state,
              d.trigger ?? '-',
              d.runId ?? '-',
              d.commitSha?.slice(0, 12) ?? '-',
              d.reason ?? '',
            ]),
          ),
        );
      return EXIT_SUCCEEDED;
    }
    case 'backfill': {
      const from = str(a.from);
      const to = str(a.to);
      if (from === undefined || to === undefined)
        throw usageError(
          'nes schedule backfill NAME --from DATE --to DATE [--only gaps|failed|all]',
        );
      const result = await client.backfill(need(), {
        from: isoDate(from),
        to: isoDate(to),
        ...(str(a.only) ? { only: str(a.only) as 'gaps' | 'failed' | 'all' } : {}),
        ...(a.concurrency === undefined
          ? {}
          : { maxConcurrency: positiveInt(a.concurrency, '--concurrency') }),
      });
      if (json) out(result);
      else {
        note(
          result.sweepId === null
            ? `${name}: nothing to run (${result.skipped.length} dates already done or under way)`
            : `${name}: ${result.started.length} dates in sweep ${result.sweepId} (nes sweep status: GET ${result.links.sweep})`,
        );
        io.stdout.write(`${result.sweepId ?? ''}\n`);
      }
      return EXIT_SUCCEEDED;
    }
    case 'invalidate': {
      const from = str(a.from);
      const to = str(a.to) ?? from;
      if (from === undefined || to === undefined)
        throw usageError('nes schedule invalidate NAME --from DATE [--to DATE]');
      const result = await client.invalidateDates(need(), { from: isoDate(from), to: isoDate(to) });
      if (json) out(result);
      else note(`${name}: ${result.invalidated.length} dates invalidated`);
      return EXIT_SUCCEEDED;
    }
  }
  throw usageError(`nes schedule: unknown action ${action} (${SCHEDULE_ACTIONS.join(', ')})`);
}

function fields(
  a: Record<string, unknown>,
  parameters: Record<string, unknown>,
): Partial<ScheduleRequest> {
  const out: Record<string, unknown> = {};
  if (Object.keys(parameters).length > 0) out.parameters = parameters;
  for (const [flag, { field, read }] of Object.entries(FIELD_FLAGS)) {
    if (read === 'count') {
      if (a[flag] !== undefined) out[field] = positiveInt(a[flag], `--${flag}`);
    } else {
      const text = str(a[flag]);
      if (text) out[field] = read === 'date' ? isoDate(text) : text;
    }
  }
  if (str(a.catchup)) out.catchup = str(a.catchup);
  if (a['rerun-on-push'] !== undefined) out.rerunOnPush = Boolean(a['rerun-on-push']);
  const given = labels(a.label);
  if (given) out.labels = given;
  const preconditions: SchedulePrecondition[] = [
    ...list(a['wait-for']).map((uri) => ({ kind: 'object' as const, uri })),
    ...(a['depends-on-past'] ? [{ kind: 'dependsOnPast' as const }] : []),
    ...list(a.after).map((schedule) => ({ kind: 'schedule' as const, schedule })),
  ];
  if (preconditions.length > 0) out.preconditions = preconditions;
  return out as Partial<ScheduleRequest>;
}

function details(s: Schedule): string {
  const lines = [
    `${s.name} (${s.id})${s.paused ? ' paused' : ''}`,
    `  notebook   ${s.notebook}${s.ref ? ` @ ${s.ref}` : ''}`,
    `  cron       ${s.cron} (${s.timezone}), catch-up ${s.catchup}, max active ${s.maxActiveRuns}`,
    `  start      ${s.startDate}${s.endDate ? `, end ${s.endDate}` : ''}`,
    `  freshness  ${s.freshnessState}${s.freshnessSlaSeconds ? ` (SLA ${s.freshnessSlaSeconds} s)` : ''}`,
  ];
  for (const u of s.upcoming ?? []) lines.push(`  upcoming   ${u.logicalDate}  due ${u.dueAt}`);
  return `${lines.join('\n')}\n`;
}

/** `2026-01-31` is midnight UTC; anything else must be an ISO instant. */
function isoDate(text: string): string {
  const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(at))
    throw usageError(`${text}: expected a date (2026-01-31) or an ISO instant`);
  return new Date(at).toISOString();
}
