/**
 * Schedules (`/schedules`, `/schedules/:id`): every schedule with its next due tick, pause,
 * resume and "run now"; a schedule's page shows its upcoming ticks and a calendar strip of its
 * latest logical dates coloured by outcome (each cell links to that date's run).
 */
import type { Schedule, ScheduleDate, ScheduleDateState } from '@nes/client';
import { useState } from 'react';
import { Link } from 'wouter';
import { useApi, useLoad, useNow, useTitle } from '../api.tsx';
import { ErrorView, Loading, Section, Time } from '../components.tsx';
import { TableHead, useAction } from '../form.tsx';
import { formatDate, shortSha } from '../lib/format.ts';

const STATE_TEXT: Record<ScheduleDateState, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  running: 'running',
  queued: 'queued',
  waiting: 'waiting for a precondition',
  precondition_timed_out: 'precondition timed out',
  cancelled: 'cancelled',
  invalidated: 'invalidated',
  missing: 'missing',
};

export default function SchedulesPage() {
  const { client } = useApi();
  useTitle('Schedules');
  const now = useNow(true, 30_000);
  const list = useLoad('schedules', (signal) => client.listSchedules({ limit: 500 }, { signal }));
  return (
    <div className="page schedules-page">
      <h1>Schedules</h1>
      {list.error ? (
        <ErrorView error={list.error} what="the schedules" retry={list.reload} />
      ) : !list.data ? (
        <Loading what="the schedules" />
      ) : list.data.schedules.length === 0 ? (
        <p className="muted">
          No schedules yet. Create one with <code>nes schedule create</code> or{' '}
          <code>POST /v1/schedules</code>.
        </p>
      ) : (
        <table className="table">
          <TableHead columns={['Name', 'Cron', 'State', 'Next due', 'Notebook']} actions />
          <tbody>
            {list.data.schedules.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link href={`/schedules/${encodeURIComponent(s.id)}`}>{s.name}</Link>
                </td>
                <td>
                  <code>{s.cron}</code> <span className="muted">{s.timezone}</span>
                </td>
                <td>{s.paused ? 'paused' : s.freshnessState === 'stale' ? 'stale' : 'active'}</td>
                <td>
                  {s.paused ? (
                    <span className="muted">-</span>
                  ) : (
                    <Time iso={s.nextDueAt} now={now} />
                  )}
                </td>
                <td className="mono truncate" title={s.notebook}>
                  {s.notebook}
                </td>
                <td>
                  <Actions schedule={s} onChange={list.reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** Pause or resume, and run the latest ended date now. */
function Actions(props: { schedule: Schedule; onChange: () => void }) {
  const { client } = useApi();
  const { busy, error, run } = useAction();
  const [done, setDone] = useState<string | null>(null);
  const act = (what: () => Promise<string>) => {
    setDone(null);
    return run(async () => {
      setDone(await what());
      props.onChange();
    });
  };
  const message = error ?? done;
  const s = props.schedule;
  const actions: Array<{ label: string; run: () => Promise<string> }> = [
    s.paused
      ? { label: 'Resume', run: () => client.resumeSchedule(s.id).then(() => 'Resumed') }
      : { label: 'Pause', run: () => client.pauseSchedule(s.id).then(() => 'Paused') },
    {
      label: 'Run now',
      run: async () => `Running ${formatDate((await client.triggerSchedule(s.id)).logicalDate)}`,
    },
  ];
  return (
    <span className="actions">
      {actions.map((action) => (
        <button
          key={action.label}
          type="button"
          className="btn"
          disabled={busy}
          onClick={() => act(action.run)}
        >
          {action.label}
        </button>
      ))}
      {message ? (
        <span role="status" className="muted">
          {message}
        </span>
      ) : null}
    </span>
  );
}

export function SchedulePage(props: { id: string }) {
  const { client } = useApi();
  const now = useNow(true, 30_000);
  const schedule = useLoad(`schedule:${props.id}`, (signal) =>
    client.getSchedule(props.id, { signal }),
  );
  const dates = useLoad(`schedule-dates:${props.id}`, (signal) =>
    client.scheduleDates(props.id, {}, { signal }),
  );
  useTitle(schedule.data ? `Schedule ${schedule.data.name}` : 'Schedule');
  if (schedule.error)
    return <ErrorView error={schedule.error} what="the schedule" retry={schedule.reload} />;
  if (!schedule.data) return <Loading what="the schedule" />;
  const s = schedule.data;
  const reload = () => {
    schedule.reload();
    dates.reload();
  };
  return (
    <div className="page schedule-page">
      <h1>
        {s.name} {s.paused ? <span className="muted">(paused)</span> : null}
      </h1>
      <p className="muted">
        <code>{s.cron}</code> in {s.timezone} · catch-up {s.catchup} · at most {s.maxActiveRuns}{' '}
        active · <span className="mono">{s.notebook}</span>
        {s.ref ? ` @ ${s.ref}` : ''}
        {s.freshnessSlaSeconds ? ` · ${s.freshnessState} (SLA ${s.freshnessSlaSeconds} s)` : ''}
      </p>
      <Actions schedule={s} onChange={reload} />
      <Section title="Logical dates" id="dates">
        {dates.error ? (
          <ErrorView error={dates.error} what="the dates" retry={dates.reload} />
        ) : !dates.data ? (
          <Loading what="the dates" />
        ) : (
          <CalendarStrip dates={dates.data.dates} />
        )}
      </Section>
      <Section title="Upcoming ticks" id="upcoming">
        {s.paused ? (
          <p className="muted">
            Paused: no new dates until resumed (then the catch-up policy applies).
          </p>
        ) : (s.upcoming ?? []).length === 0 ? (
          <p className="muted">No more dates (the end date has passed).</p>
        ) : (
          <ol className="upcoming">
            {(s.upcoming ?? []).map((u) => (
              <li key={u.logicalDate}>
                {formatDate(u.logicalDate)} <span className="muted">due</span>{' '}
                <Time iso={u.dueAt} now={now} />
              </li>
            ))}
          </ol>
        )}
      </Section>
    </div>
  );
}

/** One cell per logical date, oldest first, coloured by its state; a cell with a run links to it. */
export function CalendarStrip(props: { dates: ScheduleDate[] }) {
  if (props.dates.length === 0) return <p className="muted">No logical date is due yet.</p>;
  return (
    <ol className="calendar-strip" aria-label="Logical dates, oldest first">
      {props.dates.map((d) => {
        const label = `${formatDate(d.logicalDate)}: ${STATE_TEXT[d.state]}${d.commitSha ? ` at ${shortSha(d.commitSha)}` : ''}${d.reason ? ` (${d.reason})` : ''}`;
        return (
          <li key={d.logicalDate} className={`date-cell state-${d.state}`} title={label}>
            {d.runId ? (
              <Link href={`/runs/${encodeURIComponent(d.runId)}`} aria-label={label}>
                <span aria-hidden="true">{d.logicalDate.slice(5, 10)}</span>
              </Link>
            ) : (
              <span>
                <span aria-hidden="true">{d.logicalDate.slice(5, 10)}</span>
                <span className="visually-hidden">{label}</span>
              </span>
            )}
          </li>
        );
      })}
    </ol>
  );
}
