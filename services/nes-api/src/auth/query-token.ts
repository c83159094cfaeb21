/**
 * A token in a query string (`?token=`: event streams and downloads, where a browser cannot set
 * headers; the viewer's sign-in URL). fastify decodes parameter names before the routes see them,
 * so `?%74oken=` is `token` too: the log redaction must decode names the same way, or such a URL
 * would authenticate and reach the log in clear. This module is that one rule for both.
 */
export const TOKEN_PARAMETER = 'token';

/** Whether a raw (still encoded) query parameter name names the token once decoded. */
function isTokenParameter(rawName: string): boolean {
  let name = rawName.replaceAll('+', ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // Malformed escapes stay as they are (the query parser keeps them too).
  }
  // Wider than the parser (which is case-sensitive): redacting `?TOKEN=` too costs nothing.
  return name.trim().toLowerCase() === TOKEN_PARAMETER;
}

/** A URL (path and query) with every token parameter's value replaced, for log lines. */
export function redactTokenParameters(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const hash = url.indexOf('#', question);
  const query = url.slice(question + 1, hash < 0 ? undefined : hash);
  const redacted = query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      return isTokenParameter(name) ? `${name}=[REDACTED]` : pair;
    })
    .join('&');
  return `${url.slice(0, question + 1)}${redacted}${hash < 0 ? '' : url.slice(hash)}`;
}
