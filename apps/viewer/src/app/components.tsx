/** Small pieces every page uses: status badges, errors, loading, labels, times. */
import type { RunStatus } from '@nes/client';
import type { ReactNode } from 'react';
import { describeError } from './api.tsx';
import { formatDate, formatRelative } from './lib/format.ts';

const STATUS_TEXT: Record<RunStatus, string> = {
  queued: 'Queued',
  starting: 'Starting',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
};

export function statusText(status: RunStatus): string {
  return STATUS_TEXT[status] ?? String(status);
}

const STATUS_ICON: Record<RunStatus, string> = {
  queued: '○',
  starting: '◔',
  running: '◑',
  succeeded: '✓',
  failed: '✕',
  cancelled: '⊘',
  timed_out: '⧗',
};

/** The status as an icon and a word (never colour alone). */
export function StatusBadge(props: { status: RunStatus; compact?: boolean }) {
  const { status } = props;
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <span className="badge-icon" aria-hidden="true">
        {STATUS_ICON[status] ?? '?'}
      </span>
      {props.compact ? null : statusText(status)}
      {props.compact ? <span className="visually-hidden">{statusText(status)}</span> : null}
    </span>
  );
}

export function Loading(props: { what: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {props.what}…
    </div>
  );
}

/** An error as a page section; a 401 becomes the sign-in explanation. */
export function ErrorView(props: { error: unknown; retry?: () => void; what?: string }) {
  const info = describeError(props.error);
  if (info.signIn) return <SignIn message={info.message} />;
  return (
    <div className="error-box" role="alert">
      <h2>{props.what ? `${info.title}: ${props.what}` : info.title}</h2>
      <p className="error-message">{info.message}</p>
      {info.code ? (
        <p className="muted">
          Error code <code>{info.code}</code>
          {info.status ? ` (HTTP ${info.status})` : ''}
        </p>
      ) : null}
      {props.retry ? (
        <button type="button" className="btn" onClick={props.retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function SignIn(props: { message?: string }) {
  return (
    <div className="error-box sign-in" role="alert">
      <h2>Sign in to NES</h2>
      <p>
        This browser is not signed in. Open the viewer with the token URL the service printed when
        it started (it looks like <code>http://HOST:PORT/?token=…</code>); the token is exchanged
        for a session cookie and removed from the address bar.
      </p>
      {props.message ? <p className="muted">The service said: {props.message}</p> : null}
    </div>
  );
}

export function Labels(props: { labels: Record<string, string> | null | undefined }) {
  const entries = Object.entries(props.labels ?? {});
  if (entries.length === 0) return null;
  return (
    <span className="labels">
      {entries.map(([k, v]) => (
        <span key={k} className="label-chip" title={`${k}=${v}`}>
          <span className="label-key">{k}</span>
          <span className="label-value">{v}</span>
        </span>
      ))}
    </span>
  );
}

export function Time(props: { iso: string | null; now: number }) {
  if (!props.iso) return <span className="muted">-</span>;
  return (
    <time dateTime={props.iso} title={formatDate(props.iso)}>
      {formatRelative(props.iso, props.now)}
    </time>
  );
}

export function Section(props: {
  title: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  id?: string;
}) {
  const headingId = props.id ? `${props.id}-heading` : undefined;
  return (
    <section className="panel" aria-labelledby={headingId} id={props.id}>
      <header className="panel-header">
        <h2 id={headingId}>{props.title}</h2>
        {props.actions ? <div className="panel-actions">{props.actions}</div> : null}
      </header>
      <div className="panel-body">{props.children}</div>
    </section>
  );
}
