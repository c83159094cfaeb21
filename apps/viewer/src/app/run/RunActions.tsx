/**
 * A run's actions: cancel (confirmed), rerun with a parameters form prefilled with this run's
 * values, compare with another run of the same notebook, download the .ipynb, open on GitHub.
 */
import { type InspectResult, isTerminal, type Run } from '@nes/client';
import { type FormEvent, type ReactNode, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { describeError, useApi, useLoad } from '../api.tsx';
import { ErrorView, Loading, StatusBadge } from '../components.tsx';
import { FormActions } from '../form.tsx';
import {
  compactParameters,
  elapsedMs,
  formatDate,
  formatDuration,
  shortRunId,
} from '../lib/format.ts';
import { buildFields, fieldProblems } from '../lib/parameter-form.ts';
import { ParameterInputs } from '../ParameterInputs.tsx';
import { useParameterSubmit } from '../use-parameter-submit.ts';

type Open = 'none' | 'cancel' | 'rerun' | 'compare';

export function RunActions(props: { run: Run; github: string | null; onChange(run: Run): void }) {
  const { run } = props;
  const [open, setOpen] = useState<Open>('none');
  const toggle = (which: Open) => setOpen((o) => (o === which ? 'none' : which));
  const id = encodeURIComponent(run.id);
  return (
    <div className="actions">
      {!isTerminal(run.status) ? (
        <button
          type="button"
          className="btn danger"
          aria-expanded={open === 'cancel'}
          onClick={() => toggle('cancel')}
        >
          Cancel run
        </button>
      ) : null}
      <button
        type="button"
        className="btn"
        aria-expanded={open === 'rerun'}
        onClick={() => toggle('rerun')}
      >
        Rerun
      </button>
      <button
        type="button"
        className="btn"
        aria-expanded={open === 'compare'}
        onClick={() => toggle('compare')}
      >
        Compare with…
      </button>
      <a className="btn" href={`/v1/runs/${id}/notebook`} download={`${run.id}.ipynb`}>
        Download .ipynb
      </a>
      {props.github ? (
        <a className="btn" href={props.github} target="_blank" rel="noreferrer">
          View on GitHub
        </a>
      ) : null}
      {open === 'cancel' ? (
        <CancelConfirm
          run={run}
          onDone={(r) => {
            props.onChange(r);
            setOpen('none');
          }}
          onClose={() => setOpen('none')}
        />
      ) : null}
      {open === 'rerun' ? <RerunForm run={run} onClose={() => setOpen('none')} /> : null}
      {open === 'compare' ? <ComparePicker run={run} onClose={() => setOpen('none')} /> : null}
    </div>
  );
}

function Popover(props: { label: string; children: ReactNode; onClose(): void; wide?: boolean }) {
  return (
    <div
      className={`popover${props.wide ? ' wide' : ''}`}
      role="dialog"
      aria-label={props.label}
      onKeyDown={(e) => {
        if (e.key === 'Escape') props.onClose();
      }}
    >
      {props.children}
    </div>
  );
}

function CancelConfirm(props: { run: Run; onDone(run: Run): void; onClose(): void }) {
  const { client } = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      props.onDone(await client.cancelRun(props.run.id));
    } catch (err) {
      setError(describeError(err).message);
      setBusy(false);
    }
  };
  return (
    <Popover label="Cancel run" onClose={props.onClose}>
      <p>
        <strong>Stop this run?</strong>{' '}
        {props.run.startedAt
          ? `It has been running for ${formatDuration(elapsedMs(props.run.startedAt, null, Date.now()))}${
              props.run.progress.cellsTotal > 0
                ? ` (${props.run.progress.cellsDone} of ${props.run.progress.cellsTotal} cells done)`
                : ''
            }. `
          : 'It has not started yet. '}
        The notebook so far is kept; the run ends as cancelled and cannot be resumed.
      </p>
      <FormActions error={error}>
        <button type="button" className="btn danger" onClick={cancel} disabled={busy}>
          {busy ? 'Cancelling…' : 'Yes, cancel the run'}
        </button>
        {/* The safe choice has the focus: Enter or a stray click does not end a long run. */}
        {/* biome-ignore lint/a11y/noAutofocus: the confirmation opens on request */}
        <button type="button" className="btn subtle" onClick={props.onClose} autoFocus>
          Keep running
        </button>
      </FormActions>
    </Popover>
  );
}

function RerunForm(props: { run: Run; onClose(): void }) {
  const { client } = useApi();
  const [, navigate] = useLocation();
  const { run } = props;
  // The parameters as declared at the commit that ran (a rerun runs that commit again).
  const ref = run.commitSha ?? run.ref ?? undefined;
  const inspect = useLoad<InspectResult>(`${run.notebook}@${ref ?? ''}`, (signal) =>
    client.inspect(
      {
        notebook: run.notebook,
        ...(ref ? { ref } : {}),
        ...(run.kernel ? { kernel: run.kernel } : {}),
      },
      { signal },
    ),
  );
  const fields = inspect.data ? buildFields(inspect.data, run.parameters) : [];
  const form = useParameterSubmit();
  const { busy, error } = form;

  const problems = fieldProblems(fields, form.texts);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await form.submit(fields, async (parameters) => {
      const next = await client.rerun(
        run.id,
        Object.keys(parameters).length ? { parameters } : {},
        { idempotencyKey: crypto.randomUUID() },
      );
      navigate(`/runs/${encodeURIComponent(next.id)}`);
    });
  };

  return (
    <Popover label="Rerun" onClose={props.onClose} wide>
      <form onSubmit={submit} aria-label="Rerun with parameters">
        <p className="muted small">
          Runs the same commit with the same kernel. Change any parameter below; the others keep
          this run's values.
        </p>
        {inspect.loading ? <Loading what="the notebook's parameters" /> : null}
        {inspect.error ? (
          <>
            <ErrorView error={inspect.error} what="the notebook's parameters" />
            <p className="muted small">You can still rerun with the same parameters.</p>
          </>
        ) : null}
        {inspect.data ? (
          <ParameterInputs
            idPrefix="rerun"
            fields={fields}
            texts={form.texts}
            errors={form.shownErrors(problems)}
            onChange={form.change}
          />
        ) : null}
        <FormActions error={error}>
          <button
            type="submit"
            className="btn primary"
            disabled={busy || inspect.loading || Object.keys(problems).length > 0}
          >
            {busy ? 'Submitting…' : 'Start rerun'}
          </button>
          {Object.keys(problems).length > 0 ? (
            <span className="submit-hint">Fix the fields marked in red</span>
          ) : null}
          <button type="button" className="btn subtle" onClick={props.onClose}>
            Close
          </button>
        </FormActions>
      </form>
    </Popover>
  );
}

function ComparePicker(props: { run: Run; onClose(): void }) {
  const { client } = useApi();
  const { run } = props;
  const others = useLoad(`compare:${run.notebook}`, (signal) =>
    client.listRuns({ notebook: run.notebook, limit: 20 }, { signal }),
  );
  const candidates = (others.data?.runs ?? []).filter((r) => r.id !== run.id);
  return (
    <Popover label="Compare with" onClose={props.onClose} wide>
      <p className="muted small">Other runs of this notebook, newest first:</p>
      {others.loading ? <Loading what="runs" /> : null}
      {others.error ? <ErrorView error={others.error} /> : null}
      {others.data && candidates.length === 0 ? (
        <p className="muted">No other run of this notebook yet.</p>
      ) : null}
      <ul className="pick-list">
        {candidates.map((other) => (
          <li key={other.id}>
            <Link
              href={`/compare?a=${encodeURIComponent(run.id)}&b=${encodeURIComponent(other.id)}`}
            >
              <StatusBadge status={other.status} compact />{' '}
              <span className="mono">{shortRunId(other.id)}</span>{' '}
              <span className="muted small">{formatDate(other.createdAt)}</span>{' '}
              <span className="mono small">{compactParameters(other.parameters, 60)}</span>
            </Link>
          </li>
        ))}
      </ul>
    </Popover>
  );
}
