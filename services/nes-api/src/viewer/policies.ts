/**
 * The Content-Security-Policy of each kind of page, and the headers every page carries.
 *
 * The viewer runs only its own scripts (no inline script, no eval) and frames only the output
 * origin. Notebook output is untrusted code: it runs in `frame.html` on the output origin, a
 * different origin that holds no cookie and no API, where its inline scripts and CDN libraries
 * (plotly, vega) may run, that may talk to no server, and that only the viewer may frame.
 */

/** What the viewer page (index.html) may load. */
export function viewerPolicy(outputOrigin: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // KaTeX positions glyphs with inline styles.
    "style-src 'self' 'unsafe-inline'",
    // Markdown shows external images (logos, badges); an image runs no script, and Referrer-Policy
    // no-referrer keeps the page's URL (and any token in it) out of the request.
    "img-src 'self' data: blob: https:",
    "font-src 'self' data:",
    "connect-src 'self'",
    `frame-src ${outputOrigin}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** What the output frame may load: anything a notebook's own HTML does, but no connections. */
export function outputPolicy(outputOrigin: string, viewerOrigins: string[]): string {
  return [
    "default-src 'none'",
    `script-src 'self' ${outputOrigin} 'unsafe-inline' 'unsafe-eval' https:`,
    `style-src 'self' ${outputOrigin} 'unsafe-inline' https:`,
    `img-src 'self' ${outputOrigin} data: blob: https:`,
    `font-src 'self' ${outputOrigin} data: https:`,
    `media-src 'self' ${outputOrigin} data: blob:`,
    // Embedded pages (IPython's IFrame, folium's srcdoc maps) inherit the frame's sandbox.
    `frame-src 'self' ${outputOrigin} data: blob: https:`,
    "worker-src 'self' blob:",
    "connect-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${viewerOrigins.join(' ')}`,
  ].join('; ');
}

/** A page with no script at all (sign-in error, not built). */
export const STATIC_PAGE_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers of every HTML page: no MIME sniffing, no Referer (a URL may carry a token). */
export const PAGE_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
