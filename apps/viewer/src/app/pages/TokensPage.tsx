/**
 * API tokens (`/tokens`, admins): create one (name, scopes, expiry) and see its secret once, list
 * every token (never a secret: the service keeps only hashes) and revoke one. A revoked token
 * fails on its next request, and every viewer session signed in with it ends there too. Without
 * the admin scope the API refuses the listing and the page says so.
 */
import type { ApiToken, CreatedToken, TokenScope } from '@nes/client';
import { useState } from 'react';
import { useApi, useLoad, useTitle } from '../api.tsx';
import { ErrorView, Loading, SecretShownOnce } from '../components.tsx';
import {
  CheckboxSet,
  ConfirmButton,
  CreatePanel,
  NameField,
  TableHead,
  useAction,
} from '../form.tsx';
import { formatDate } from '../lib/format.ts';

/** What each scope allows, in the order the form lists them. */
const SCOPE_TEXT: Record<TokenScope, string> = {
  read: 'runs, events, notebooks, logs, the store',
  submit: 'read, and submit, rerun, cancel runs and sweeps',
  admin: 'everything, tokens included',
};
const SCOPES = Object.keys(SCOPE_TEXT) as TokenScope[];

const EXPIRIES: Array<{ label: string; days: number | null }> = [
  { label: 'Never', days: null },
  { label: '7 days', days: 7 },
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
];

export default function TokensPage() {
  const { client } = useApi();
  useTitle('API tokens');
  const tokens = useLoad<ApiToken[]>('tokens', (signal) => client.listTokens({ signal }));
  const [created, setCreated] = useState<CreatedToken | null>(null);
  return (
    <div className="page tokens-page">
      <h1>API tokens</h1>
      <p className="muted">
        Tokens authenticate the API, the <code>nes</code> command and viewer sign-in. Only a hash of
        each is stored: a new token&apos;s secret is shown once, when it is created.
      </p>
      {tokens.error ? (
        <ErrorView error={tokens.error} what="the tokens" retry={tokens.reload} />
      ) : !tokens.data ? (
        <Loading what="the tokens" />
      ) : (
        <>
          {created ? (
            <NewSecret token={created} onDone={() => setCreated(null)} />
          ) : (
            <CreateForm
              onCreated={(token) => {
                setCreated(token);
                tokens.reload();
              }}
            />
          )}
          <TokenTable tokens={tokens.data} onRevoked={tokens.reload} />
        </>
      )}
    </div>
  );
}

function CreateForm(props: { onCreated: (token: CreatedToken) => void }) {
  const { client } = useApi();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<TokenScope[]>(['read']);
  const [days, setDays] = useState<number | null>(null);
  const { busy, error, setError, run } = useAction();

  const submit = () => {
    if (name.trim() === '') return setError('Give the token a name: what or who it is for.');
    if (scopes.length === 0) return setError('Choose at least one scope.');
    return run(async () => {
      const expiresAt =
        days === null ? null : new Date(Date.now() + days * 86_400_000).toISOString();
      props.onCreated(await client.createToken({ name: name.trim(), scopes, expiresAt }));
      setName('');
    });
  };

  return (
    <CreatePanel
      title="New token"
      submitLabel="Create token"
      busy={busy}
      error={error}
      onSubmit={submit}
    >
      <div className="form-row">
        <NameField placeholder="airflow-prod, alice laptop…" value={name} onChange={setName} />
        <label className="field">
          <span>Expires</span>
          <select
            className="input"
            name="expires"
            value={days === null ? '' : String(days)}
            onChange={(e) => setDays(e.target.value === '' ? null : Number(e.target.value))}
          >
            {EXPIRIES.map((option) => (
              <option key={option.label} value={option.days === null ? '' : String(option.days)}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <CheckboxSet
        legend="Scopes"
        name="scope"
        options={SCOPES}
        chosen={scopes}
        onChange={setScopes}
        text={(scope) => (
          <>
            <strong>{scope}</strong> <span className="muted small">({SCOPE_TEXT[scope]})</span>
          </>
        )}
      />
    </CreatePanel>
  );
}

/** The one time a token's secret is shown. */
function NewSecret(props: { token: CreatedToken; onDone: () => void }) {
  return (
    <SecretShownOnce
      label="New token secret"
      title={`Token “${props.token.name}” created`}
      secret={props.token.secret}
      onDone={props.onDone}
    >
      Use it as <code>Authorization: Bearer …</code>, as <code>NES_TOKEN</code>, or in a viewer URL
      (<code>?token=…</code>).
    </SecretShownOnce>
  );
}

function TokenTable(props: { tokens: ApiToken[]; onRevoked: () => void }) {
  if (props.tokens.length === 0) return <div className="empty">No tokens yet.</div>;
  return (
    <div className="table-wrap">
      <table className="files-table tokens-table" aria-label="Tokens">
        <TableHead
          columns={['Name', 'Scopes', 'State', 'Created', 'Expires', 'Last used']}
          actions
        />
        <tbody>
          {props.tokens.map((token) => (
            <TokenRow key={token.id} token={token} onRevoked={props.onRevoked} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TokenRow(props: { token: ApiToken; onRevoked: () => void }) {
  const { client } = useApi();
  const { token } = props;
  const revoke = async () => {
    await client.revokeToken(token.id);
    props.onRevoked();
  };
  return (
    <tr data-token-id={token.id} aria-label={`Token ${token.name}`}>
      <td>
        {token.name}
        {token.service ? <span className="muted small"> (service admin token)</span> : null}
        <div className="mono small muted">{token.id}</div>
      </td>
      <td className="mono small">{token.scopes.join(', ')}</td>
      <td>
        <span className={`badge token-${token.state}`}>{token.state}</span>
      </td>
      <td className="small">{formatDate(token.createdAt)}</td>
      <td className="small">{token.expiresAt ? formatDate(token.expiresAt) : 'never'}</td>
      <td className="small">{token.lastUsedAt ? formatDate(token.lastUsedAt) : 'never'}</td>
      <td>
        {token.state === 'active' ? (
          <ConfirmButton verb="Revoke" what={token.name} onConfirm={revoke} />
        ) : null}
      </td>
    </tr>
  );
}
