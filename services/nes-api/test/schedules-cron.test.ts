/** Cron in time zones across DST changes, Airflow's template formats, the catch-up planner. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FloatValue } from '@nes/notebook';
import { CronClock } from '../src/schedules/cron.ts';
import type { Schedule } from '../src/schedules/schedule-model.ts';
import { checkTemplates, renderParameters, renderString } from '../src/schedules/template.ts';
import { initialPosition, MAX_PER_PASS, planTick } from '../src/schedules/tick-plan.ts';

/** Every data interval of `cron` whose start is in [from, to). */
function intervals(cron: string, tz: string, from: string, to: string) {
  const clock = new CronClock(cron, tz);
  const out: Array<{ start: Date; end: Date }> = [];
  let at = clock.atOrAfter(new Date(from));
  while (at !== null && at < new Date(to)) {
    const interval = clock.interval(at);
    assert.ok(interval);
    out.push(interval);
    at = interval.end;
  }
  return out;
}

const local = (date: Date, timeZone: string) =>
  new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(date);

describe('cron with a time zone across DST', () => {
  test('a daily 02:30 in Berlin: one date per local day over a year, the spring gap runs at 03:00, the repeated hour once', () => {
    const all = intervals(
      '30 2 * * *',
      'Europe/Berlin',
      '2026-01-01T00:00:00Z',
      '2027-01-01T00:00:00Z',
    );
    // Starting 2026-01-01 01:30Z (02:30 CET): 365 dates, one per local calendar day.
    assert.equal(all.length, 365);
    const days = all.map((i) => local(i.start, 'Europe/Berlin').slice(0, 10));
    assert.equal(new Set(days).size, 365);
    const spring = all.find((i) => local(i.start, 'Europe/Berlin').startsWith('2026-03-29'));
    assert.equal(spring?.start.toISOString(), '2026-03-29T01:00:00.000Z'); // 03:00 CEST
    const autumn = all.filter((i) => local(i.start, 'Europe/Berlin').startsWith('2026-10-25'));
    assert.deepEqual(
      autumn.map((i) => i.start.toISOString()),
      ['2026-10-25T00:30:00.000Z'],
    ); // first 02:30 only
    // Intervals are contiguous: no lost time between dates, none counted twice.
    for (let i = 1; i < all.length; i++)
      assert.equal(all[i]?.start.getTime(), all[i - 1]?.end.getTime());
    // The date before the gap runs to 03:00 CEST: a 23.5-hour interval.
    const beforeGap = all.find((i) => i.end.getTime() === spring?.start.getTime());
    assert.equal(
      (beforeGap?.end.getTime() ?? 0) - (beforeGap?.start.getTime() ?? 0),
      23.5 * 3600_000,
    );
  });

  test('hourly in New York: 23 intervals on the spring day, 25 on the autumn day, each a real hour', () => {
    const spring = intervals(
      '0 * * * *',
      'America/New_York',
      '2026-03-08T05:00:00Z',
      '2026-03-09T04:00:00Z',
    );
    assert.equal(spring.length, 23);
    const autumn = intervals(
      '0 * * * *',
      'America/New_York',
      '2026-11-01T04:00:00Z',
      '2026-11-02T05:00:00Z',
    );
    assert.equal(autumn.length, 25);
    for (const i of [...spring, ...autumn])
      assert.equal(i.end.getTime() - i.start.getTime(), 3600_000);
  });

  test('a southern-hemisphere midnight (Sao Paulo has no DST since 2019) and nicknames', () => {
    const days = intervals(
      '@daily',
      'America/Sao_Paulo',
      '2026-01-01T00:00:00Z',
      '2026-01-04T00:00:00Z',
    );
    assert.deepEqual(
      days.map((d) => d.start.toISOString()),
      ['2026-01-01T03:00:00.000Z', '2026-01-02T03:00:00.000Z', '2026-01-03T03:00:00.000Z'],
    );
  });

  test('bad expressions and zones are refused with what is wrong', () => {
    assert.throws(() => new CronClock('* * * * * *', 'UTC'), /five fields/);
    assert.throws(() => new CronClock('61 * * * *', 'UTC'), /minute/);
    assert.throws(() => new CronClock('0 0 30 2 *', 'UTC'), /never fires/);
    assert.throws(() => new CronClock('0 0 * * *', 'Mars/Olympus'), /unknown time zone/);
  });
});

describe('templates: Airflow names and formats', () => {
  const dates = {
    logicalDate: new Date('2018-01-01T00:00:00Z'),
    dataIntervalStart: new Date('2018-01-01T00:00:00Z'),
    dataIntervalEnd: new Date('2018-01-02T00:00:00Z'),
  };
  test('variables and filters render as Airflow renders them (UTC)', () => {
    const cases: Array<[string, string]> = [
      ['{{ ds }}', '2018-01-01'],
      ['{{ds_nodash}}', '20180101'],
      ['{{ ts }}', '2018-01-01T00:00:00+00:00'],
      ['{{ ts_nodash }}', '20180101T000000'],
      ['{{ ts_nodash_with_tz }}', '20180101T000000+0000'],
      ['{{ logical_date }}', '2018-01-01T00:00:00+00:00'],
      ['{{ data_interval_start }}', '2018-01-01T00:00:00+00:00'],
      ['{{ data_interval_end }}', '2018-01-02T00:00:00+00:00'],
      ['{{ data_interval_end | ds }}', '2018-01-02'],
      ['{{ data_interval_end|ts_nodash }}', '20180102T000000'],
      ['gs://b/raw/{{ ds }}/_SUCCESS', 'gs://b/raw/2018-01-01/_SUCCESS'],
      ['no template', 'no template'],
    ];
    for (const [template, expected] of cases)
      assert.equal(renderString(template, dates), expected, template);
  });

  test('nested values render, other types stay exactly as they were', () => {
    const float = new FloatValue(1);
    const out = renderParameters(
      {
        a: ['{{ ds }}', 2, float],
        b: { c: '{{ ds_nodash }}' },
        big: 2n ** 70n,
        m: new Map([['1', '{{ ds }}']]),
      },
      dates,
    );
    assert.deepEqual(out.a, ['2018-01-01', 2, float]);
    assert.deepEqual(out.b, { c: '20180101' });
    assert.equal(out.big, 2n ** 70n);
    assert.deepEqual([...(out.m as Map<string, string>)], [['1', '2018-01-01']]);
  });

  test('code is never evaluated: anything but a variable and a filter is refused when saved', () => {
    assert.throws(
      () => checkTemplates({ x: '{{ macros.ds_add(ds, 1) }}' }),
      /parameters.x: .*only a date variable/,
    );
    assert.throws(() => checkTemplates({ x: ['{{ conn.secret.password }}'] }), /parameters.x\[0\]/);
    assert.throws(() => checkTemplates({ x: '{{ var }}' }), /unknown variable "var"/);
    assert.throws(() => checkTemplates({ x: '{{ ds | upper }}' }), /ds is a string/);
    assert.throws(
      () => checkTemplates({ x: '{{ logical_date | upper }}' }),
      /unknown filter "upper"/,
    );
    checkTemplates({ x: '{{ ds }}', y: 3 });
  });
});

describe('the catch-up planner', () => {
  const base = (catchup: Schedule['catchup']): Schedule => {
    const spec = {
      cron: '0 0 * * *',
      timezone: 'UTC',
      startDate: '2026-01-01T00:00:00Z',
      endDate: null,
    };
    const position = initialPosition(spec);
    return {
      ...spec,
      id: 'sch_x',
      name: 'x',
      notebook: '/nb.ipynb',
      ref: null,
      kernel: null,
      parameters: {},
      catchup,
      maxActiveRuns: 1,
      timeoutSeconds: null,
      resources: null,
      image: null,
      labels: {},
      preconditions: [],
      preconditionTimeoutSeconds: 60,
      pokeIntervalSeconds: 10,
      rerunOnPush: false,
      pushPathPrefix: null,
      freshnessSlaSeconds: null,
      paused: false,
      cursorDate: position.cursorDate?.toISOString() ?? null,
      nextDueAt: position.nextDueAt?.toISOString() ?? null,
      freshnessState: 'fresh',
      createdBy: null,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    };
  };
  const tenDaysLate = new Date('2026-01-11T06:00:00Z');
  const grace = 5 * 60_000;

  test('all: every missed date in order; latest: only the last; none: nothing missed', () => {
    const all = planTick(base('all'), tenDaysLate, grace);
    assert.equal(all.dates.length, 10);
    assert.equal(all.dates[0]?.logicalDate.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.ok(all.dates.every((d) => d.trigger === 'catchup'));
    assert.equal(all.cursorDate?.toISOString(), '2026-01-11T00:00:00.000Z');
    assert.equal(all.nextDueAt?.toISOString(), '2026-01-12T00:00:00.000Z');
    const latest = planTick(base('latest'), tenDaysLate, grace);
    assert.deepEqual(
      latest.dates.map((d) => d.logicalDate.toISOString()),
      ['2026-01-10T00:00:00.000Z'],
    );
    assert.equal(latest.cursorDate?.toISOString(), '2026-01-11T00:00:00.000Z');
    const none = planTick(base('none'), tenDaysLate, grace);
    assert.equal(none.dates.length, 0);
    assert.equal(none.cursorDate?.toISOString(), '2026-01-11T00:00:00.000Z');
    // On time, the three policies agree.
    for (const policy of ['all', 'latest', 'none'] as const) {
      const onTime = planTick(base(policy), new Date('2026-01-02T00:00:10Z'), grace);
      assert.deepEqual(
        onTime.dates.map((d) => [d.logicalDate.toISOString(), d.trigger]),
        [['2026-01-01T00:00:00.000Z', 'scheduled']],
      );
    }
  });

  test('all: a long outage is caught up in bounded passes; an end date stops the schedule', () => {
    const minutely = { ...base('all'), cron: '* * * * *', cursorDate: '2026-01-01T00:00:00.000Z' };
    const first = planTick(minutely, new Date('2026-01-02T00:00:00Z'), grace);
    assert.equal(first.dates.length, MAX_PER_PASS);
    assert.ok((first.nextDueAt as Date) < new Date('2026-01-02T00:00:00Z'));
    const ended = planTick({ ...base('all'), endDate: '2026-01-03T00:00:00Z' }, tenDaysLate, grace);
    assert.equal(ended.dates.length, 3);
    assert.equal(ended.cursorDate, null);
    assert.equal(ended.nextDueAt, null);
  });
});
