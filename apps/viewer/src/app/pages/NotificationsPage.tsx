/**
 * Notifications (`/notifications`, admins): subscriptions (which runs, which events, which
 * target), created with a webhook's signing secret shown once, deleted after a confirmation; and
 * the delivery log, newest first, with each delivery's attempts and the receiver's status codes,
 * and a Redeliver action (the same event id, so receivers deduplicate). Without the admin scope
 * the API refuses and the page says so.
 */
import {
  type CreatedSubscription,
  type Delivery,
  NOTIFICATION_EVENT_TYPES,
  type NotificationEventType,
  type NotificationTargetKind,
  type Subscription,
  subscriptionSelection,
} from '@nes/client';
import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { useApi, useLoad, useTitle } from '../api.tsx';
import { ErrorView, Loading, SecretShownOnce } from '../components.tsx';
import {
  CheckboxSet,
  ConfirmButton,
  CreatePanel,
  NameField,
  RowError,
  TableHead,
  TextField,
  useAction,
} from '../form.tsx';
import { formatDate, shortRunId } from '../lib/format.ts';
import { parseLabelFilter } from '../lib/run-list.ts';

const EVENT_TEXT: Record<NotificationEventType, string> = {
  failed: 'failed',
  succeeded: 'succeeded',
  cancelled: 'cancelled',
  timed_out: 'timed out',
  sweep_finished: 'sweep finished',
  freshness_missed: 'freshness missed',
};

/** How often the log is read again while a delivery is still pending. */
const PENDING_POLL_MS = 2000;

export default function NotificationsPage() {
  const { client } = useApi();
  useTitle('Notifications');
  const subscriptions = useLoad<Subscription[]>('subscriptions', (signal) =>
    client.listSubscriptions({ signal }),
  );
  const [created, setCreated] = useState<CreatedSubscription | null>(null);
  const [logOf, setLogOf] = useState<string | null>(null);
  return (
    <div className="page notifications-page">
      <h1>Notifications</h1>
      <p className="muted">
        A subscription tells a webhook (signed JSON) or a Slack channel when runs end. Each delivery
        carries an event id and is retried until the receiver answers 2xx.
      </p>
      {subscriptions.error ? (
        <ErrorView
          error={subscriptions.error}
          what="the subscriptions"
          retry={subscriptions.reload}
        />
      ) : !subscriptions.data ? (
        <Loading what="the subscriptions" />
      ) : (
        <>
          {created?.secret ? (
            <SecretShownOnce
              label="New subscription secret"
              title={`Subscription “${created.subscription.name}” created`}
              secret={created.secret}
              onDone={() => setCreated(null)}
            >
              Each delivery is signed with it: <code>X-NES-Signature: t=…,v1=…</code> is HMAC-SHA256
              over <code>t.body</code>.
            </SecretShownOnce>
          ) : (
            <CreateForm
              onCreated={(answer) => {
                setCreated(answer);
                subscriptions.reload();
              }}
            />
          )}
          <SubscriptionTable
            subscriptions={subscriptions.data}
            logOf={logOf}
            onShowLog={setLogOf}
            onDeleted={(id) => {
              if (logOf === id) setLogOf(null);
              subscriptions.reload();
            }}
          />
          <DeliveryLog
            subscriptionId={logOf}
            subscriptions={subscriptions.data}
            onShowAll={() => setLogOf(null)}
          />
        </>
      )}
    </div>
  );
}

function CreateForm(props: { onCreated: (answer: CreatedSubscription) => void }) {
  const { client } = useApi();
  const [name, setName] = useState('');
  const [events, setEvents] = useState<NotificationEventType[]>(['failed', 'timed_out']);
  const [kind, setKind] = useState<NotificationTargetKind>('webhook');
  const [url, setUrl] = useState('');
  const [notebook, setNotebook] = useState('');
  const [labels, setLabels] = useState('');
  const [sweepId, setSweepId] = useState('');
  const [scheduleId, setScheduleId] = useState('');
  const { busy, error, setError, run } = useAction();

  const submit = () => {
    if (name.trim() === '') return setError('Give the subscription a name: what it is for.');
    if (events.length === 0) return setError('Choose at least one event.');
    if (url.trim() === '') return setError('Give the URL to deliver to.');
    const selector = parseLabelFilter(labels);
    if (selector.error) return setError(selector.error);
    return run(async () => {
      props.onCreated(
        await client.createSubscription({
          name: name.trim(),
          events,
          target: { kind, url: url.trim() },
          ...(notebook.trim() ? { notebook: notebook.trim() } : {}),
          ...(Object.keys(selector.labels).length > 0 ? { labels: selector.labels } : {}),
          ...(sweepId.trim() ? { sweepId: sweepId.trim() } : {}),
          ...(scheduleId.trim() ? { scheduleId: scheduleId.trim() } : {}),
        }),
      );
      setName('');
      setUrl('');
    });
  };

  return (
    <CreatePanel
      title="New subscription"
      submitLabel="Create subscription"
      busy={busy}
      error={error}
      onSubmit={submit}
    >
      <div className="form-row">
        <NameField placeholder="etl failures…" value={name} onChange={setName} />
        <label className="field">
          <span>Target</span>
          <select
            className="input"
            name="kind"
            value={kind}
            onChange={(e) => setKind(e.target.value as NotificationTargetKind)}
          >
            <option value="webhook">Webhook (signed JSON)</option>
            <option value="slack">Slack incoming webhook</option>
          </select>
        </label>
        <TextField
          label="URL"
          name="url"
          type="url"
          grow
          mono
          maxLength={2000}
          placeholder="https://hooks.example.com/nes"
          value={url}
          onChange={setUrl}
        />
      </div>
      <CheckboxSet
        legend="Events"
        name="event"
        options={NOTIFICATION_EVENT_TYPES}
        chosen={events}
        onChange={setEvents}
        text={(type) => EVENT_TEXT[type]}
      />
      <div className="form-row">
        <TextField
          label="Only runs of notebook (optional)"
          name="notebook"
          grow
          mono
          placeholder="github://org/repo/etl.ipynb"
          value={notebook}
          onChange={setNotebook}
        />
        <TextField
          label="Only runs with labels (optional)"
          name="labels"
          grow
          mono
          placeholder="team=data env=prod"
          value={labels}
          onChange={setLabels}
        />
      </div>
      <div className="form-row">
        <TextField
          label="Only runs of sweep (optional)"
          name="sweep"
          grow
          mono
          placeholder="sweep id"
          value={sweepId}
          onChange={setSweepId}
        />
        <TextField
          label="Only runs of schedule (optional)"
          name="schedule"
          grow
          mono
          placeholder="schedule id"
          value={scheduleId}
          onChange={setScheduleId}
        />
      </div>
    </CreatePanel>
  );
}

/** Which runs a subscription is about, in one phrase. */
function SubscriptionTable(props: {
  subscriptions: Subscription[];
  logOf: string | null;
  onShowLog: (id: string) => void;
  onDeleted: (id: string) => void;
}) {
  if (props.subscriptions.length === 0) return <div className="empty">No subscriptions yet.</div>;
  return (
    <div className="table-wrap">
      <table className="files-table tokens-table" aria-label="Subscriptions">
        <TableHead columns={['Name', 'Events', 'Runs', 'Target', 'Created']} actions />
        <tbody>
          {props.subscriptions.map((s) => (
            <SubscriptionRow
              key={s.id}
              subscription={s}
              showingLog={props.logOf === s.id}
              onShowLog={() => props.onShowLog(s.id)}
              onDeleted={() => props.onDeleted(s.id)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SubscriptionRow(props: {
  subscription: Subscription;
  showingLog: boolean;
  onShowLog: () => void;
  onDeleted: () => void;
}) {
  const { client } = useApi();
  const s = props.subscription;
  const remove = async () => {
    await client.deleteSubscription(s.id);
    props.onDeleted();
  };
  return (
    <tr data-subscription-id={s.id} aria-label={`Subscription ${s.name}`}>
      <td>
        {s.name}
        <div className="mono small muted">{s.id}</div>
      </td>
      <td className="small">{s.events.map((e) => EVENT_TEXT[e]).join(', ')}</td>
      <td className="mono small">{subscriptionSelection(s)}</td>
      <td className="small">
        {s.target.kind} <span className="mono">{s.target.url}</span>
      </td>
      <td className="small">{formatDate(s.createdAt)}</td>
      <td>
        <button
          type="button"
          className="btn small"
          aria-pressed={props.showingLog}
          onClick={props.onShowLog}
        >
          Deliveries
        </button>{' '}
        <ConfirmButton verb="Delete" what={s.name} onConfirm={remove} />
      </td>
    </tr>
  );
}

function DeliveryLog(props: {
  subscriptionId: string | null;
  subscriptions: Subscription[];
  onShowAll: () => void;
}) {
  const { client } = useApi();
  const id = props.subscriptionId;
  const log = useLoad<Delivery[]>(`deliveries:${id ?? ''}`, (signal) =>
    client.listDeliveries(id ? { subscriptionId: id } : {}, { signal }),
  );
  // Pending deliveries change on their own: read the log again until none is left.
  const pending = log.data?.some((d) => d.status === 'pending') ?? false;
  const { reload } = log;
  // biome-ignore lint/correctness/useExhaustiveDependencies: each new answer arms the next read
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(reload, PENDING_POLL_MS);
    return () => clearTimeout(timer);
  }, [pending, reload, log.data]);
  const names = new Map(props.subscriptions.map((s) => [s.id, s.name]));
  const of = id ? names.get(id) : undefined;
  return (
    <section className="panel" aria-label="Delivery log">
      <header className="panel-header">
        <h2>Delivery log{of ? ` of “${of}”` : ''}</h2>
        {id ? (
          <button type="button" className="btn small subtle" onClick={props.onShowAll}>
            All subscriptions
          </button>
        ) : null}
        <button type="button" className="btn small subtle" onClick={reload}>
          Refresh
        </button>
      </header>
      {log.error ? (
        <ErrorView error={log.error} what="the delivery log" retry={reload} />
      ) : !log.data ? (
        <Loading what="the delivery log" />
      ) : log.data.length === 0 ? (
        <div className="empty">No deliveries yet.</div>
      ) : (
        <div className="table-wrap">
          <table className="files-table" aria-label="Deliveries">
            <TableHead
              columns={[
                'Event',
                'Status',
                'Attempts',
                'Last answer',
                'Run',
                'Subscription',
                'Created',
              ]}
              actions
            />
            <tbody>
              {log.data.map((d) => (
                <DeliveryRow
                  key={d.id}
                  delivery={d}
                  subscription={names.get(d.subscriptionId) ?? d.subscriptionId}
                  onChanged={reload}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** "503", "no answer: connection refused", "-" (not tried yet). */
function answerText(status: number | null, error: string | null): string {
  if (status !== null) return error ? `${status}: ${error}` : String(status);
  return error ? `no answer: ${error}` : '-';
}

function DeliveryRow(props: { delivery: Delivery; subscription: string; onChanged: () => void }) {
  const { client } = useApi();
  const d = props.delivery;
  const [attempts, setAttempts] = useState<Delivery['log'] | null>(null);
  const { busy, error, run: act } = useAction();
  const toggleAttempts = () =>
    attempts
      ? setAttempts(null)
      : act(async () => setAttempts((await client.getDelivery(d.id)).log ?? []));
  const redeliver = () =>
    act(async () => {
      await client.redeliver(d.id);
      setAttempts(null);
      props.onChanged();
    });
  return (
    <>
      <tr data-delivery-id={d.id} aria-label={`Delivery ${d.id}`}>
        <td className="small">
          {EVENT_TEXT[d.eventType]}
          <div className="mono small muted" title="The same in every attempt and redelivery">
            {d.eventId}
          </div>
        </td>
        <td>
          <span className={`badge delivery-${d.status}`}>{d.status}</span>
        </td>
        <td className="small">{d.attempts}</td>
        <td className="mono small">{answerText(d.lastStatus, d.lastError)}</td>
        <td className="mono small">
          {d.runId ? (
            <Link href={`/runs/${encodeURIComponent(d.runId)}`}>{shortRunId(d.runId)}</Link>
          ) : (
            '-'
          )}
        </td>
        <td className="small">{props.subscription}</td>
        <td className="small">{formatDate(d.createdAt)}</td>
        <td>
          <button
            type="button"
            className="btn small subtle"
            aria-expanded={attempts !== null}
            onClick={toggleAttempts}
            disabled={busy}
          >
            Attempts
          </button>{' '}
          {d.status === 'pending' ? null : (
            <button type="button" className="btn small" onClick={redeliver} disabled={busy}>
              Redeliver
            </button>
          )}
          <RowError message={error} />
        </td>
      </tr>
      {attempts ? (
        <tr className="delivery-attempts">
          <td colSpan={8}>
            {attempts.length === 0 ? (
              <span className="muted small">Not attempted yet.</span>
            ) : (
              <table className="files-table" aria-label={`Attempts of delivery ${d.id}`}>
                <TableHead columns={['#', 'Time', 'Status code', 'Duration', 'Error']} />
                <tbody>
                  {attempts.map((a) => (
                    <tr key={a.attempt}>
                      <td className="small">{a.attempt}</td>
                      <td className="small">{formatDate(a.time)}</td>
                      <td className="mono small">{a.statusCode ?? 'no answer'}</td>
                      <td className="small">{a.durationMs} ms</td>
                      <td className="small">{a.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </td>
        </tr>
      ) : null}
    </>
  );
}
