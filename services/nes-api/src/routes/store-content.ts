/**
 * How bytes from the output store leave the API. A store is untrusted content: a notebook can
 * write any file into it (its own output directory, or anywhere its credentials reach), and the
 * API answers on the viewer's origin, where a browser sends the viewer's session cookie. An HTML
 * or SVG file rendered there would run its scripts with the viewer's session.
 *
 * So no store object is ever rendered by a browser on this origin: each is sent as an attachment
 * (the browser saves it instead of showing it), never sniffed into another type, and under a
 * `sandbox` policy (were it shown anyway, it would get an opaque origin and no scripts). The
 * viewer reads notebooks with fetch, which the three headers do not affect, and renders them
 * itself; scripted output runs only in the output origin's sandboxed frame.
 */
import { create as contentDisposition } from 'content-disposition';
import type { FastifyReply } from 'fastify';

/** A document shown despite everything gets an opaque origin, no scripts, no plugins, no forms. */
const STORE_CONTENT_POLICY =
  "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

/**
 * What every API response carries (`/v1/...`): JSON, event streams and logs are never a
 * document, so a browser that opens one directly must not sniff it into HTML or run anything.
 */
export const API_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': STORE_CONTENT_POLICY,
};

/** Sets the headers of a response that carries the store object at `key` (as a download). */
export function asStoreDownload(reply: FastifyReply, key: string): FastifyReply {
  const name = key.slice(key.lastIndexOf('/') + 1) || 'download';
  return reply
    .headers(API_RESPONSE_HEADERS)
    .header('content-disposition', contentDisposition(name, { type: 'attachment' }));
}
