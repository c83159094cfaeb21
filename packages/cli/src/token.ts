/**
 * `nes token create|list|revoke`: API tokens, with an admin token. `create` prints the new secret
 * alone on stdout (so `NES_TOKEN=$(nes token create ...)` works) and says on stderr that it is
 * shown this once; `list` never shows a secret (the API has none to give: it keeps a hash).
 */
import type { ApiToken, NesClient, TokenScope } from '@nes/client';
import { EXIT_SUCCEEDED, usageError } from './exit.ts';
import { table } from './format.ts';
import type { Io } from './main.ts';

export const TOKEN_ACTIONS = ['create', 'list', 'revoke'] as const;
const SCOPES: readonly TokenScope[] = ['read', 'submit', 'admin'];
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

export async function token(
  client: NesClient,
  a: Record<string, unknown>,
  io: Io,
  now = Date.now(),
): Promise<number> {
  const json = Boolean(a.json);
  const out = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);
  switch (String(a.action)) {
    case 'create': {
      const name = typeof a.name === 'string' ? a.name.trim() : '';
      if (name === '') throw usageError('nes token create needs --name (what the token is for)');
      const request = {
        name,
        scopes: scopes(a.scope),
        expiresAt: expiry(a.expires, now),
      };
      const created = await client.createToken(request);
      if (json) {
        out(created);
      } else {
        note(
          `Created token ${created.id} "${created.name}" (${created.scopes.join(', ')}; ${created.expiresAt === null ? 'does not expire' : `expires ${created.expiresAt}`}).`,
        );
        note('Its secret follows; it is shown this once (the service keeps only a hash):');
        io.stdout.write(`${created.secret}\n`);
      }
      return EXIT_SUCCEEDED;
    }
    case 'list': {
      const all = await client.listTokens();
      const shown = a.all ? all : all.filter((t) => t.state === 'active');
      if (json) out(shown);
      else if (shown.length === 0)
        note(a.all ? 'no tokens' : 'no active tokens (--all lists every token)');
      else io.stdout.write(tokensTable(shown));
      return EXIT_SUCCEEDED;
    }
    case 'revoke': {
      const id = typeof a.id === 'string' ? a.id : '';
      if (id === '')
        throw usageError('nes token revoke needs the token id (nes token list shows it)');
      const revoked = await client.revokeToken(id);
      if (json) out(revoked);
      else note(`${revoked.id} "${revoked.name}": revoked at ${revoked.revokedAt}`);
      return EXIT_SUCCEEDED;
    }
  }
  throw usageError(`nes token: unknown action ${String(a.action)} (${TOKEN_ACTIONS.join(', ')})`);
}

function tokensTable(tokens: ApiToken[]): string {
  return table(
    ['ID', 'NAME', 'SCOPES', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'],
    tokens.map((t) => [
      t.id,
      t.service ? `${t.name} (service)` : t.name,
      t.scopes.join(','),
      t.state,
      t.createdAt,
      t.expiresAt ?? 'never',
      t.lastUsedAt ?? 'never',
    ]),
  );
}

/** `--scope read --scope submit` or `--scope read,submit`; default read. */
function scopes(value: unknown): TokenScope[] {
  const given = (Array.isArray(value) ? value : value === undefined ? [] : [value])
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (given.length === 0) return ['read'];
  for (const scope of given) {
    if (!SCOPES.includes(scope as TokenScope)) {
      throw usageError(`--scope ${scope}: expected ${SCOPES.join(', ')}`);
    }
  }
  return [...new Set(given)] as TokenScope[];
}

/** `--expires 30d` (s, m, h, d, w), an ISO date or instant, or `never` (the default). */
function expiry(value: unknown, now: number): string | null {
  if (value === undefined || value === 'never') return null;
  const text = String(value).trim();
  const relative = /^(\d+)([smhdw])$/.exec(text);
  if (relative) {
    return new Date(
      now + Number(relative[1]) * (UNIT_SECONDS[relative[2] as string] ?? 0) * 1000,
    ).toISOString();
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw usageError(
      `--expires ${JSON.stringify(text)}: expected a duration (90d, 12h, 2w), a date (2027-01-31) or an instant (2027-01-31T12:00:00Z), or never`,
    );
  }
  return new Date(at).toISOString();
}
