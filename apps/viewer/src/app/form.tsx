/**
 * Form and table pieces the admin pages (tokens, notifications, schedules) and the new-run form
 * share: a labelled text field, a set of checkboxes, a create form in a panel, an action that is
 * busy while it runs and says what went wrong, a button that asks before it acts, a table head.
 */
import { type FormEvent, type HTMLAttributes, type ReactNode, useState } from 'react';
import { describeError } from './api.tsx';
import { FormError } from './components.tsx';

/**
 * An async action's state: `busy` while it runs, `error` the message of its last failure.
 * `run` clears the error first; `setError` is for what a form finds wrong before it runs.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** `<label class="field"><span>label</span><input class="input"/></label>`, the form row cell. */
export function TextField(props: {
  label: ReactNode;
  value: string;
  onChange(value: string): void;
  name?: string;
  placeholder?: string;
  /** Takes the row's spare width. */
  grow?: boolean;
  /** Monospaced: ids, paths, URLs. */
  mono?: boolean;
  type?: 'url' | 'date';
  maxLength?: number;
  inputMode?: HTMLAttributes<HTMLInputElement>['inputMode'];
  /** Marked invalid for assistive technology (the message is shown elsewhere). */
  invalid?: boolean;
}) {
  return (
    <label className={props.grow ? 'field grow' : 'field'}>
      <span>{props.label}</span>
      <input
        className={props.mono ? 'input mono' : 'input'}
        name={props.name}
        type={props.type}
        maxLength={props.maxLength}
        inputMode={props.inputMode}
        placeholder={props.placeholder}
        value={props.value}
        aria-invalid={props.invalid || undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}

/** What a created token or subscription is called: required, at most 100 characters (the API's limit). */
export function NameField(props: {
  value: string;
  onChange(value: string): void;
  placeholder: string;
}) {
  return (
    <TextField
      label="Name"
      name="name"
      grow
      maxLength={100}
      placeholder={props.placeholder}
      value={props.value}
      onChange={props.onChange}
    />
  );
}

/** A fieldset of checkboxes choosing a subset of `options`, kept in the order they were ticked. */
export function CheckboxSet<T extends string>(props: {
  legend: string;
  name: string;
  options: readonly T[];
  chosen: readonly T[];
  onChange(chosen: T[]): void;
  text(option: T): ReactNode;
}) {
  const toggle = (option: T) =>
    props.onChange(
      props.chosen.includes(option)
        ? props.chosen.filter((o) => o !== option)
        : [...props.chosen, option],
    );
  return (
    <fieldset className="fieldset">
      <legend>{props.legend}</legend>
      {props.options.map((option) => (
        <label key={option} className="checkbox">
          <input
            type="checkbox"
            name={props.name}
            value={option}
            checked={props.chosen.includes(option)}
            onChange={() => toggle(option)}
          />{' '}
          {props.text(option)}
        </label>
      ))}
    </fieldset>
  );
}

/** A "New …" form in a panel: its fields, what went wrong, and a submit button busy while it runs. */
export function CreatePanel(props: {
  title: string;
  submitLabel: string;
  busy: boolean;
  error: string | null;
  onSubmit(): void;
  children: ReactNode;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    props.onSubmit();
  };
  return (
    <form className="panel" aria-label={props.title} onSubmit={submit}>
      <header className="panel-header">
        <h2>{props.title}</h2>
      </header>
      <div className="panel-body">
        {props.children}
        <FormActions error={props.error}>
          <button type="submit" className="btn primary" disabled={props.busy}>
            {props.busy ? 'Creating…' : props.submitLabel}
          </button>
        </FormActions>
      </div>
    </form>
  );
}

/** Under a form's fields: what went wrong with the last submit, then the submit button and its hints. */
export function FormActions(props: { error: string | null; children: ReactNode }) {
  return (
    <>
      <FormError message={props.error} />
      <div className="form-actions">{props.children}</div>
    </>
  );
}

/**
 * A destructive action behind a confirmation: `verb` ("Revoke"), then "Yes, revoke <what>" or
 * "Keep"; a failure shows under the buttons.
 */
export function ConfirmButton(props: { verb: string; what: string; onConfirm(): Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const confirm = () =>
    action.run(async () => {
      await props.onConfirm();
      setConfirming(false);
    });
  return (
    <>
      {confirming ? (
        <span className="confirm">
          <button type="button" className="btn small danger" onClick={confirm}>
            Yes, {props.verb.toLowerCase()} {props.what}
          </button>{' '}
          <button type="button" className="btn small subtle" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </span>
      ) : (
        <button type="button" className="btn small" onClick={() => setConfirming(true)}>
          {props.verb}
        </button>
      )}
      <RowError message={action.error} />
    </>
  );
}

/** A row action's failure, under its buttons. */
export function RowError(props: { message: string | null }) {
  if (!props.message) return null;
  return (
    <div className="field-error" role="alert">
      {props.message}
    </div>
  );
}

/** A table's column headings; `actions` adds a last column for row buttons, named for screen readers. */
export function TableHead(props: { columns: readonly string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {props.columns.map((column) => (
          <th key={column}>{column}</th>
        ))}
        {props.actions ? (
          <th>
            <span className="visually-hidden">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}
