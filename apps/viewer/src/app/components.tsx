/** Small pieces every page uses: status badges, errors, loading, labels, times. */
import type { RunStatus } from '@nes/client';
import { type ReactNode, useState } from 'react';
import { describeError } from './api.tsx';
import { formatDateZone, formatRelative, shortSha } from './lib/format.ts';

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

/** Drawn status glyphs (16px grid), so they look the same whatever fonts the system has. */
function StatusIcon(props: { status: RunStatus }) {
  const stroke = {
    fill: 'none',
    stroke: 'currentColor',
    strokeWidth: 1.6,
    strokeLinecap: 'round' as const,
  };
  let body: ReactNode;
  switch (props.status) {
    case 'succeeded':
      body = <path d="M3.5 8.5l3 3 6-7" {...stroke} strokeWidth={2} />;
      break;
    case 'failed':
      body = <path d="M4.5 4.5l7 7M11.5 4.5l-7 7" {...stroke} strokeWidth={2} />;
      break;
    case 'cancelled':
      body = (
        <>
          <circle cx="8" cy="8" r="5.5" {...stroke} />
          <path d="M4.2 11.8l7.6-7.6" {...stroke} />
        </>
      );
      break;
    case 'timed_out':
      body = (
        <>
          <circle cx="8" cy="8" r="5.5" {...stroke} />
          <path d="M8 5v3.2l2.2 1.4" {...stroke} />
        </>
      );
      break;
    case 'running':
      body = (
        <>
          <circle cx="8" cy="8" r="5.5" {...stroke} opacity={0.3} />
          <path d="M8 2.5a5.5 5.5 0 0 1 5.5 5.5" {...stroke} strokeWidth={2} />
        </>
      );
      break;
    case 'starting':
      body = <circle cx="8" cy="8" r="5.5" {...stroke} strokeDasharray="2.5 2" />;
      break;
    default:
      body = <circle cx="8" cy="8" r="5" {...stroke} />;
  }
  return (
    <svg className="badge-icon" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
      {body}
    </svg>
  );
}

/** The status as an icon and a word (never colour alone). */
export function StatusBadge(props: { status: RunStatus; compact?: boolean }) {
  const { status } = props;
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <StatusIcon status={status} />
      {props.compact ? (
        <span className="visually-hidden">{statusText(status)}</span>
      ) : (
        statusText(status)
      )}
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
/** What went wrong with what the user just did (a form's submit, a confirmation); nothing if none. */
export function FormError(props: { message: string | null }) {
  if (!props.message) return null;
  return (
    <p className="form-error" role="alert">
      {props.message}
    </p>
  );
}

export function ErrorView(props: { error: unknown; retry?: () => void; what?: string }) {
  const info = describeError(props.error);
  if (info.signIn) return <SignIn />;
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

export function SignIn() {
  return (
    <div className="error-box sign-in" role="alert">
      <h2>Sign in to NES</h2>
      <p>
        This browser is not signed in, or the token it signed in with was revoked or has expired.
        Open the viewer with the token URL the service printed when it started, or with another
        token (<code>http://HOST:PORT/?token=…</code>); the token is exchanged for a session cookie
        and removed from the address bar.
      </p>
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
    <time dateTime={props.iso} title={formatDateZone(props.iso)}>
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

/**
 * The one time a secret (a token, a webhook signing secret) is shown: copy it now. The service
 * keeps no way to show it again, and once dismissed it is gone from the page.
 */
export function SecretShownOnce(props: {
  /** The region's accessible name. */
  label: string;
  title: string;
  secret: string;
  /** What the secret is for, after "Copy it now: it is shown this once." */
  children: ReactNode;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      setCopied(false); // no clipboard permission: the field stays there to select by hand
    }
  };
  return (
    <section className="panel new-secret" aria-label={props.label}>
      <header className="panel-header">
        <h2>{props.title}</h2>
      </header>
      <div className="panel-body">
        <p>
          Copy the secret now: <strong>it is shown this once</strong>. {props.children}
        </p>
        <div className="form-row">
          <input
            className="input mono secret-input"
            aria-label="Secret"
            readOnly
            value={props.secret}
            onFocus={(e) => e.target.select()}
          />
          <button type="button" className="btn" onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </button>
          <button type="button" className="btn primary" onClick={props.onDone}>
            Done
          </button>
        </div>
      </div>
    </section>
  );
}

/** " @abc1234" after a ref, the full commit on hover; nothing without a commit. */
export function CommitSha(props: { sha: string | null | undefined }) {
  if (!props.sha) return null;
  return (
    <span className="sha" title={props.sha}>
      {' '}
      @{shortSha(props.sha)}
    </span>
  );
}
