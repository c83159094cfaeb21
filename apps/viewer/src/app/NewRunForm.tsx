/**
 * "New run": pick a notebook (browse the service's notebook roots, one run recently, a GitHub
 * repository and ref, or any URI), its parameters load at once (`POST /v1/inspect`) with their
 * types and defaults, each field is checked as it is typed and the API's own per-field errors
 * land on their fields; the submit button says what is still missing. Submitting opens the run.
 */
import type { InspectResult, NotebookRoots, Run } from '@nes/client';
import { type FormEvent, useEffect, useMemo, useState } from 'react';
import { useLocation } from 'wouter';
import { describeError, getText, useApi, useLoad } from './api.tsx';
import { FormError, Loading } from './components.tsx';
import { FormActions, TextField } from './form.tsx';
import { notebookName, shortSha } from './lib/format.ts';
import { buildFields, fieldProblems, type ParameterField } from './lib/parameter-form.ts';
import { parseLabelFilter } from './lib/run-list.ts';
import { planSweep, type SweepInput, type SweepMode } from './lib/sweep-form.ts';
import { ParameterInputs } from './ParameterInputs.tsx';
import { useParameterSubmit } from './use-parameter-submit.ts';

type Source = 'roots' | 'recent' | 'github' | 'uri';

/** What the form is waiting for before it can submit, in words; null when it can. */
export function missingForSubmit(state: {
  notebook: string;
  inspecting: boolean;
  inspectError: string | null;
  inspected: boolean;
  problems: number;
  labelError: string | undefined;
}): string | null {
  if (!state.notebook) return 'Pick a notebook first';
  if (state.inspecting) return 'Loading the notebook’s parameters…';
  if (state.inspectError) return 'The notebook could not be read (see above)';
  if (!state.inspected) return 'Loading the notebook’s parameters…';
  if (state.problems > 0)
    return state.problems === 1
      ? 'Fix the field marked in red'
      : `Fix the ${state.problems} fields marked in red`;
  if (state.labelError) return 'Fix the labels';
  return null;
}

/** `github://owner/repo/path` from the GitHub picker's fields, or '' while one is missing. */
export function githubUri(repository: string, path: string): string {
  const repo = repository
    .trim()
    .replace(/^https:\/\/github\.com\//, '')
    .replace(/\.git$/, '');
  const file = path.trim().replace(/^\/+/, '');
  if (!/^[^/\s]+\/[^/\s]+$/.test(repo) || !file) return '';
  return `github://${repo}/${file}`;
}

/** The distinct notebooks of recent runs, newest first, each with the ref it last ran at. */
function recentNotebooks(
  runs: readonly Run[],
  max = 12,
): Array<{ notebook: string; ref: string | null; at: string }> {
  const seen = new Map<string, { notebook: string; ref: string | null; at: string }>();
  for (const run of runs) {
    if (!seen.has(run.notebook))
      seen.set(run.notebook, { notebook: run.notebook, ref: run.ref, at: run.createdAt });
    if (seen.size >= max) break;
  }
  return [...seen.values()];
}

export function NewRunForm(props: { onClose(): void; initialNotebook?: string }) {
  const api = useApi();
  const { client } = api;
  const [, navigate] = useLocation();
  const [source, setSource] = useState<Source>(props.initialNotebook ? 'uri' : 'roots');
  const [notebook, setNotebook] = useState(props.initialNotebook ?? '');
  const [ref, setRef] = useState('');
  const [repo, setRepo] = useState('');
  const [repoPath, setRepoPath] = useState('');
  const [labels, setLabels] = useState('');
  const [timeout, setTimeoutText] = useState('');
  const form = useParameterSubmit();
  const { texts, busy, error } = form;
  const [tried, setTried] = useState(false);
  const [sweep, setSweep] = useState<SweepInput>({
    mode: 'single',
    parameter: '',
    values: '',
    start: '',
    end: '',
    maxConcurrency: '',
  });

  const target = source === 'github' ? githubUri(repo, repoPath) : notebook.trim();
  const targetRef = ref.trim();
  // Typed input settles before the notebook is read; a pick from a list reads at once.
  const [settled, setSettled] = useState({ notebook: target, ref: targetRef });
  useEffect(() => {
    const delay = source === 'roots' || source === 'recent' ? 0 : 500;
    const timer = setTimeout(() => setSettled({ notebook: target, ref: targetRef }), delay);
    return () => clearTimeout(timer);
  }, [target, targetRef, source]);

  const inspectKey = settled.notebook ? `inspect:${settled.notebook}@${settled.ref}` : null;
  const inspect = useLoad<InspectResult>(inspectKey, (signal) =>
    client.inspect(
      { notebook: settled.notebook, ...(settled.ref ? { ref: settled.ref } : {}) },
      { signal },
    ),
  );
  const fields: ParameterField[] = useMemo(
    () => (inspect.data ? buildFields(inspect.data) : []),
    [inspect.data],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new notebook starts a fresh form
  useEffect(() => {
    form.reset();
    setTried(false);
  }, [inspectKey]);

  const problems = fieldProblems(fields, texts);
  const labelParse = parseLabelFilter(labels);
  const timeoutProblem =
    timeout.trim() && !/^[1-9]\d*$/.test(timeout.trim())
      ? 'The time limit is a whole number of seconds'
      : null;
  const sweepField = fields.find((f) => f.name === sweep.parameter) ?? fields[0];
  const plan =
    sweep.mode === 'single'
      ? null
      : planSweep({ ...sweep, parameter: sweepField?.name ?? '' }, fields);
  const fresh = settled.notebook === target && settled.ref === targetRef;
  const missing =
    missingForSubmit({
      notebook: target,
      inspecting: inspect.loading || !fresh,
      inspectError: inspect.error ? describeError(inspect.error).message : null,
      inspected: inspect.data !== undefined,
      problems: Object.keys(problems).length,
      labelError: labelParse.error,
    }) ??
    (timeoutProblem ? 'Fix the time limit' : null) ??
    (plan && !plan.ok ? plan.problem : null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (missing || busy) return;
    await form.submit(fields, async (parameters) => {
      if (plan?.ok) {
        // The swept parameter comes from each run's set, the rest from the form.
        const { [sweepField?.name ?? '']: _swept, ...base } = parameters;
        const created = await client.submitSweep(
          {
            notebook: target,
            ...(targetRef ? { ref: targetRef } : {}),
            ...(Object.keys(base).length ? { parameters: base } : {}),
            ...plan.body,
            ...(Object.keys(labelParse.labels).length ? { labels: labelParse.labels } : {}),
            ...(timeout.trim() ? { timeoutSeconds: Number(timeout.trim()) } : {}),
          },
          { idempotencyKey: crypto.randomUUID() },
        );
        // The runs list folds the sweep into one row; its id finds it.
        props.onClose();
        navigate(`/?q=${encodeURIComponent(created.id)}`);
        return;
      }
      const run = await client.submitRun(
        {
          notebook: target,
          ...(targetRef ? { ref: targetRef } : {}),
          ...(Object.keys(parameters).length ? { parameters } : {}),
          ...(Object.keys(labelParse.labels).length ? { labels: labelParse.labels } : {}),
          ...(timeout.trim() ? { timeoutSeconds: Number(timeout.trim()) } : {}),
        },
        { idempotencyKey: crypto.randomUUID() },
      );
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    });
  };

  const pick = (uri: string, pickedRef?: string | null) => {
    setNotebook(uri);
    setRef(pickedRef ?? '');
  };
  // The same ref field under both ways of naming a notebook: a GitHub one or a typed URI.
  const refField = (label: string) => (
    <TextField
      label={label}
      mono
      name="ref"
      placeholder="default branch"
      value={ref}
      onChange={setRef}
    />
  );

  return (
    <form className="panel new-run" aria-label="New run" onSubmit={submit} noValidate>
      <header className="panel-header">
        <h2>New run</h2>
        <div className="panel-actions">
          <button type="button" className="btn subtle" onClick={props.onClose}>
            Close
          </button>
        </div>
      </header>
      <div className="panel-body">
        <div className="source-tabs" role="tablist" aria-label="Where the notebook comes from">
          {(
            [
              ['roots', 'Notebook folders'],
              ['recent', 'Recent'],
              ['github', 'GitHub'],
              ['uri', 'Path or URI'],
            ] as const
          ).map(([id, label]) => (
            <button
              key={id}
              type="button"
              role="tab"
              id={`source-${id}`}
              aria-selected={source === id}
              aria-controls="source-panel"
              className={`tab${source === id ? ' active' : ''}`}
              onClick={() => setSource(id)}
            >
              {label}
            </button>
          ))}
        </div>
        <div
          className="source-panel"
          id="source-panel"
          role="tabpanel"
          aria-labelledby={`source-${source}`}
        >
          {source === 'roots' ? (
            <RootsPicker
              load={(signal) => getText(api, '/v1/notebook-roots', signal)}
              selected={notebook}
              onPick={(path) => pick(path)}
            />
          ) : source === 'recent' ? (
            <RecentPicker
              load={(signal) => client.listRuns({ limit: 100 }, { signal })}
              selected={notebook}
              onPick={pick}
            />
          ) : source === 'github' ? (
            <div className="form-row">
              <TextField
                label="Repository"
                grow
                mono
                name="repository"
                placeholder="owner/repo"
                value={repo}
                onChange={setRepo}
              />
              <TextField
                label="Notebook path in the repository"
                grow
                mono
                name="path"
                placeholder="reports/daily.ipynb"
                value={repoPath}
                onChange={setRepoPath}
              />
              {refField('Branch, tag or commit')}
            </div>
          ) : (
            <div className="form-row">
              <TextField
                label="Notebook"
                grow
                mono
                name="notebook"
                placeholder="github://owner/repo/path.ipynb, a GitHub blob URL, gs://bucket/path.ipynb or a local path"
                value={notebook}
                onChange={setNotebook}
              />
              {refField('Ref')}
            </div>
          )}
        </div>

        {target ? (
          <p className="picked" aria-live="polite">
            <span className="muted">Notebook:</span> <strong>{notebookName(target)}</strong>{' '}
            <span className="mono small muted">{target}</span>
          </p>
        ) : null}

        {target && (inspect.loading || !fresh) ? (
          <Loading what="the notebook's parameters" />
        ) : null}
        <FormError message={inspect.error && fresh ? describeError(inspect.error).message : null} />
        {inspect.data && fresh ? (
          <>
            <p className="kernel-line small">
              <KernelLine result={inspect.data} />
            </p>
            {inspect.data.warnings.map((w) => (
              <p key={w} className="warning">
                {w}
              </p>
            ))}
            <fieldset className="fieldset">
              <legend>Parameters</legend>
              <ParameterInputs
                idPrefix="new-run"
                fields={fields}
                texts={texts}
                errors={form.shownErrors(problems)}
                onChange={form.change}
              />
            </fieldset>
            <div className="form-row">
              <TextField
                label="Labels"
                grow
                mono
                name="labels"
                placeholder="team=data env=dev"
                value={labels}
                invalid={Boolean(labelParse.error)}
                onChange={setLabels}
              />
              <TextField
                label="Time limit (seconds)"
                mono
                name="timeoutSeconds"
                inputMode="numeric"
                placeholder="none"
                value={timeout}
                invalid={Boolean(timeoutProblem)}
                onChange={setTimeoutText}
              />
            </div>
            {labelParse.error ? <p className="field-error">{labelParse.error}</p> : null}
            {timeoutProblem ? <p className="field-error">{timeoutProblem}</p> : null}
            {fields.length > 0 ? (
              <SweepFields
                sweep={sweep}
                fields={fields}
                parameter={sweepField?.name ?? ''}
                runs={plan?.ok ? plan.runs : null}
                onChange={(patch) => setSweep((s) => ({ ...s, ...patch }))}
              />
            ) : null}
          </>
        ) : null}
        <FormActions error={error}>
          <button
            type="submit"
            className="btn primary"
            aria-disabled={missing !== null || busy || undefined}
            aria-describedby={missing ? 'new-run-missing' : undefined}
          >
            {busy
              ? 'Submitting…'
              : plan?.ok
                ? `Start ${plan.runs} run${plan.runs === 1 ? '' : 's'}`
                : 'Run notebook'}
          </button>
          {missing ? (
            <span
              id="new-run-missing"
              className={`submit-hint${tried ? ' insist' : ''}`}
              role={tried ? 'alert' : undefined}
            >
              {missing}
            </span>
          ) : null}
        </FormActions>
      </div>
    </form>
  );
}

/** `Runs on the python3 kernel (Python), at commit 1a2b3c4 of main`. */
function KernelLine(props: { result: InspectResult }) {
  const { result } = props;
  const language = result.language
    ? result.language.charAt(0).toUpperCase() + result.language.slice(1)
    : '';
  return (
    <>
      Runs on the <code>{result.kernel ?? 'default'}</code> kernel
      {language ? ` (${language})` : ''}
      {result.commitSha ? (
        <>
          , at commit <code title={result.commitSha}>{shortSha(result.commitSha)}</code>
          {result.ref ? (
            <>
              {' '}
              of <code>{result.ref}</code>
            </>
          ) : null}
        </>
      ) : null}
      .
    </>
  );
}

function RootsPicker(props: {
  load(signal: AbortSignal): Promise<string>;
  selected: string;
  onPick(path: string): void;
}) {
  const listing = useLoad<NotebookRoots>('notebook-roots', async (signal) =>
    JSON.parse(await props.load(signal)),
  );
  const [filter, setFilter] = useState('');
  if (listing.loading) return <Loading what="the notebook folders" />;
  if (listing.error) return <FormError message={describeError(listing.error).message} />;
  const roots = listing.data?.roots ?? [];
  if (roots.length === 0) {
    return (
      <p className="muted">
        The service has no notebook folders (NES_NOTEBOOK_ROOTS). Use GitHub or a URI instead.
      </p>
    );
  }
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  return (
    <div className="picker">
      <input
        className="input"
        type="search"
        aria-label="Filter notebooks"
        placeholder="Filter notebooks…"
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      {roots.map((root) => {
        const notebooks = root.notebooks.filter((n) =>
          words.every((w) => n.relative.toLowerCase().includes(w)),
        );
        return (
          <div key={root.root} className="picker-group">
            <div className="picker-root mono small muted">{root.root}</div>
            {notebooks.length === 0 ? (
              <p className="muted small">No notebook here{words.length ? ' matches' : ''}.</p>
            ) : (
              <ul className="pick-list" aria-label={`Notebooks in ${root.root}`}>
                {notebooks.map((n) => (
                  <li key={n.path}>
                    <button
                      type="button"
                      className={`pick${props.selected === n.path ? ' selected' : ''}`}
                      aria-pressed={props.selected === n.path}
                      onClick={() => props.onPick(n.path)}
                    >
                      <span className="mono">{n.relative}</span>
                    </button>
                  </li>
                ))}
              </ul>
            )}
            {root.truncated ? (
              <p className="muted small">
                Only the first notebooks are listed; filter to find others.
              </p>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}

function RecentPicker(props: {
  load(signal: AbortSignal): Promise<{ runs: Run[] }>;
  selected: string;
  onPick(notebook: string, ref: string | null): void;
}) {
  const runs = useLoad('recent-notebooks', props.load);
  if (runs.loading) return <Loading what="recent notebooks" />;
  if (runs.error) return <FormError message={describeError(runs.error).message} />;
  const recent = recentNotebooks(runs.data?.runs ?? []);
  if (recent.length === 0)
    return <p className="muted">No runs yet: pick from the folders or GitHub.</p>;
  return (
    <ul className="pick-list" aria-label="Recently run notebooks">
      {recent.map((r) => (
        <li key={r.notebook}>
          <button
            type="button"
            className={`pick${props.selected === r.notebook ? ' selected' : ''}`}
            aria-pressed={props.selected === r.notebook}
            onClick={() => props.onPick(r.notebook, r.ref)}
          >
            <strong>{notebookName(r.notebook)}</strong>{' '}
            <span className="mono small muted">
              {r.notebook}
              {r.ref ? ` @ ${r.ref}` : ''}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** One run, or a sweep: a parameter over a list of values or a date range, at most N at once. */
function SweepFields(props: {
  sweep: SweepInput;
  fields: readonly ParameterField[];
  parameter: string;
  runs: number | null;
  onChange(patch: Partial<SweepInput>): void;
}) {
  const { sweep } = props;
  const modes: Array<[SweepMode, string]> = [
    ['single', 'One run'],
    ['list', 'One run per value'],
    ['dates', 'One run per day (backfill)'],
  ];
  return (
    <fieldset className="fieldset sweep-fields">
      <legend>Runs</legend>
      <div className="radio-row">
        {modes.map(([mode, label]) => (
          <label key={mode} className="radio">
            <input
              type="radio"
              name="sweep-mode"
              checked={sweep.mode === mode}
              onChange={() => props.onChange({ mode })}
            />{' '}
            {label}
          </label>
        ))}
      </div>
      {sweep.mode !== 'single' ? (
        <div className="form-row">
          <label className="field">
            <span>Parameter</span>
            <select
              className="input"
              value={props.parameter}
              onChange={(e) => props.onChange({ parameter: e.target.value })}
            >
              {props.fields.map((f) => (
                <option key={f.name} value={f.name}>
                  {f.name}
                </option>
              ))}
            </select>
          </label>
          {sweep.mode === 'list' ? (
            <label className="field grow">
              <span>Values, one per line</span>
              <textarea
                className="input mono"
                rows={4}
                value={sweep.values}
                onChange={(e) => props.onChange({ values: e.target.value })}
              />
            </label>
          ) : (
            <>
              <TextField
                label="First day"
                type="date"
                value={sweep.start}
                onChange={(start) => props.onChange({ start })}
              />
              <TextField
                label="Last day"
                type="date"
                value={sweep.end}
                onChange={(end) => props.onChange({ end })}
              />
            </>
          )}
          <TextField
            label="At most at once"
            mono
            inputMode="numeric"
            placeholder="no limit"
            value={sweep.maxConcurrency}
            onChange={(maxConcurrency) => props.onChange({ maxConcurrency })}
          />
        </div>
      ) : null}
      {sweep.mode !== 'single' && props.runs !== null ? (
        <p className="muted small" aria-live="polite">
          {props.runs} run{props.runs === 1 ? '' : 's'}, each with the other parameters as above
          {sweep.mode === 'dates' ? ` (${props.parameter} = each day as YYYY-MM-DD)` : ''}.
        </p>
      ) : null}
    </fieldset>
  );
}
