/**
 * "New run": a notebook (and ref), its parameters from `POST /v1/inspect` with their types and
 * defaults, labels; submitting navigates to the new run.
 */
import type { InspectResult } from '@nes/client';
import { type FormEvent, useState } from 'react';
import { useLocation } from 'wouter';
import { describeError, useApi } from './api.tsx';
import {
  buildFields,
  collectParameters,
  ParameterError,
  type ParameterField,
} from './lib/parameter-form.ts';
import { parseLabelFilter } from './lib/run-list.ts';
import { ParameterInputs } from './ParameterInputs.tsx';

export function NewRunForm(props: { onClose(): void; initialNotebook?: string }) {
  const { client } = useApi();
  const [, navigate] = useLocation();
  const [notebook, setNotebook] = useState(props.initialNotebook ?? '');
  const [ref, setRef] = useState('');
  const [labels, setLabels] = useState('');
  const [inspected, setInspected] = useState<{
    key: string;
    result: InspectResult;
    fields: ParameterField[];
  } | null>(null);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'inspect' | 'submit' | null>(null);

  const key = `${notebook.trim()}@${ref.trim()}`;
  const current = inspected?.key === key ? inspected : null;

  const inspect = async () => {
    if (!notebook.trim()) {
      setError('Enter the notebook: a github:// path, a GitHub blob URL, gs://… or a local path.');
      return;
    }
    setBusy('inspect');
    setError(null);
    try {
      const result = await client.inspect({
        notebook: notebook.trim(),
        ...(ref.trim() ? { ref: ref.trim() } : {}),
      });
      setInspected({ key, result, fields: buildFields(result) });
      setTexts({});
      setFieldErrors({});
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(null);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!current) {
      await inspect();
      return;
    }
    const labelParse = parseLabelFilter(labels);
    if (labelParse.error) {
      setError(labelParse.error);
      return;
    }
    let parameters: Record<string, unknown>;
    try {
      parameters = collectParameters(current.fields, texts);
    } catch (err) {
      if (err instanceof ParameterError) {
        setFieldErrors({ [err.field]: err.message });
        return;
      }
      throw err;
    }
    setBusy('submit');
    setError(null);
    setFieldErrors({});
    try {
      const run = await client.submitRun(
        {
          notebook: notebook.trim(),
          ...(ref.trim() ? { ref: ref.trim() } : {}),
          ...(Object.keys(parameters).length ? { parameters } : {}),
          ...(Object.keys(labelParse.labels).length ? { labels: labelParse.labels } : {}),
        },
        { idempotencyKey: crypto.randomUUID() },
      );
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (err) {
      setError(describeError(err).message);
      setBusy(null);
    }
  };

  return (
    <form className="panel new-run" aria-label="New run" onSubmit={submit}>
      <header className="panel-header">
        <h2>New run</h2>
        <div className="panel-actions">
          <button type="button" className="btn subtle" onClick={props.onClose}>
            Close
          </button>
        </div>
      </header>
      <div className="panel-body">
        <div className="form-row">
          <label className="field grow">
            <span>Notebook</span>
            <input
              className="input mono"
              name="notebook"
              placeholder="github://owner/repo/path/notebook.ipynb"
              value={notebook}
              onChange={(e) => setNotebook(e.target.value)}
              // biome-ignore lint/a11y/noAutofocus: the form opens on request, to be typed into
              autoFocus
            />
          </label>
          <label className="field">
            <span>Ref</span>
            <input
              className="input mono"
              name="ref"
              placeholder="default branch"
              value={ref}
              onChange={(e) => setRef(e.target.value)}
            />
          </label>
          <button type="button" className="btn" onClick={inspect} disabled={busy !== null}>
            {busy === 'inspect' ? 'Loading…' : 'Load parameters'}
          </button>
        </div>
        {current ? (
          <>
            <p className="muted small">
              {current.result.commitSha ? (
                <>
                  at <code>{current.result.commitSha.slice(0, 7)}</code>
                  {current.result.ref ? ` (${current.result.ref})` : ''},{' '}
                </>
              ) : null}
              kernel {current.result.kernel ?? 'default'}, {current.result.language}
            </p>
            {current.result.warnings.map((w) => (
              <p key={w} className="warning">
                {w}
              </p>
            ))}
            <fieldset className="fieldset">
              <legend>Parameters</legend>
              <ParameterInputs
                idPrefix="new-run"
                fields={current.fields}
                texts={texts}
                errors={fieldErrors}
                onChange={(name, text) => setTexts((t) => ({ ...t, [name]: text }))}
              />
            </fieldset>
            <label className="field">
              <span>Labels</span>
              <input
                className="input mono"
                name="labels"
                placeholder="team=data env=dev"
                value={labels}
                onChange={(e) => setLabels(e.target.value)}
              />
            </label>
          </>
        ) : null}
        {error ? (
          <div className="form-error" role="alert">
            {error}
          </div>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="btn primary" disabled={busy !== null || !current}>
            {busy === 'submit' ? 'Submitting…' : 'Run notebook'}
          </button>
        </div>
      </div>
    </form>
  );
}
