/** The inputs of a parameters form (new run, rerun), one per declared parameter. */
import type { ParameterField } from './lib/parameter-form.ts';

export function ParameterInputs(props: {
  fields: readonly ParameterField[];
  texts: Readonly<Record<string, string>>;
  onChange(name: string, text: string): void;
  errors?: Readonly<Record<string, string>>;
  idPrefix: string;
}) {
  if (props.fields.length === 0) {
    return (
      <p className="muted">This notebook declares no parameters (no cell tagged “parameters”).</p>
    );
  }
  return (
    <div className="param-grid">
      {props.fields.map((field) => {
        const id = `${props.idPrefix}-${field.name}`;
        const text = props.texts[field.name] ?? field.initial;
        const error = props.errors?.[field.name];
        const changed = text !== field.initial;
        const hint = [field.type ?? kindLabel(field), field.nullable ? 'or empty for None' : '']
          .filter(Boolean)
          .join(', ');
        return (
          <div key={field.name} className={`param-field${changed ? ' changed' : ''}`}>
            <label htmlFor={id} className="param-label">
              <span className="param-name">{field.name}</span>
              <span className="param-type">{hint}</span>
            </label>
            <Input
              field={field}
              id={id}
              text={text}
              onChange={(t) => props.onChange(field.name, t)}
              invalid={Boolean(error)}
            />
            <div className="param-meta">
              {field.help ? <span>{field.help}</span> : null}
              <span className="muted">
                default <code>{field.defaultSource || '""'}</code>
              </span>
            </div>
            {error ? (
              <div className="field-error" role="alert">
                {error}
              </div>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}

function kindLabel(field: ParameterField): string {
  switch (field.kind) {
    case 'any':
      return 'any value';
    case 'json':
      return 'JSON';
    default:
      return field.kind;
  }
}

function Input(props: {
  field: ParameterField;
  id: string;
  text: string;
  invalid: boolean;
  onChange(text: string): void;
}) {
  const { field, id, text } = props;
  const common = { id, 'aria-invalid': props.invalid || undefined };
  switch (field.kind) {
    case 'boolean':
      return (
        <input
          {...common}
          type="checkbox"
          className="param-check"
          checked={text === 'true'}
          onChange={(e) => props.onChange(e.target.checked ? 'true' : 'false')}
        />
      );
    case 'enum':
      return (
        <select
          {...common}
          className="input"
          value={text}
          onChange={(e) => props.onChange(e.target.value)}
        >
          {field.nullable ? <option value="">None</option> : null}
          {field.options.map((option) => {
            const value = JSON.stringify(option);
            return (
              <option key={value} value={value}>
                {typeof option === 'string' ? option : value}
              </option>
            );
          })}
        </select>
      );
    case 'integer':
    case 'number':
      return (
        <input
          {...common}
          className="input mono"
          inputMode={field.kind === 'integer' ? 'numeric' : 'decimal'}
          value={text}
          onChange={(e) => props.onChange(e.target.value)}
        />
      );
    case 'json':
      return (
        <textarea
          {...common}
          className="input mono"
          rows={Math.min(6, Math.max(1, text.split('\n').length))}
          value={text}
          onChange={(e) => props.onChange(e.target.value)}
        />
      );
    default:
      return (
        <input
          {...common}
          className="input mono"
          value={text}
          onChange={(e) => props.onChange(e.target.value)}
        />
      );
  }
}
