/** The two pages the server writes itself: the viewer is not built, and a sign-in that failed. */
import { escapeAttribute } from './dist.ts';

const STYLE = 'font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto';

/** In place of the viewer when `apps/viewer/dist` is missing: how to build it, and the API. */
export function notBuiltPage(viewerDir: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>NES</title></head>
<body style="${STYLE}">
<h1>NES is running</h1>
<p>The runs viewer is not built: there is no <code>index.html</code> in
<code>${escapeAttribute(viewerDir)}</code>. Build it with <code>npm run build -w @nes/viewer</code>
(or point <code>NES_VIEWER_DIR</code> at a build) and reload this page; no restart is needed.</p>
<p>The API is here meanwhile:</p>
<ul>
<li><a href="/docs">/docs</a>: the API reference (OpenAPI; like the API it needs a token: open the token URL once, or send it as the bearer token)</li>
<li><a href="/openapi.json">/openapi.json</a>: the OpenAPI 3 document (a token too)</li>
<li><a href="/livez">/livez</a>, <a href="/readyz">/readyz</a>: health</li>
</ul>
<p>From a terminal: <code>export NES_URL=... NES_TOKEN=...</code> (printed by <code>nes serve</code>), then <code>nes list</code>.</p>
</body>
</html>
`;
}

/** A `?token=` the store does not know (mistyped, revoked, another server's). */
export function signInFailedPage(continueTo: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>NES: sign-in failed</title></head>
<body style="${STYLE}">
<h1>Sign-in failed</h1>
<p>The token in this link is not valid: it is mistyped, revoked, or belongs to another NES
server. Open the viewer URL that <code>nes serve</code> (or <code>npm start</code>) prints, or
ask whoever runs this server for a token.</p>
<p><a href="${escapeAttribute(continueTo)}">Continue without signing in</a></p>
</body>
</html>
`;
}
