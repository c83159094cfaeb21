/**
 * The viewer's session cookie. Signing in (`?token=` on a viewer URL) seals the token into the
 * cookie with AES-256-GCM under a key derived from the admin token: the value is unreadable and
 * unforgeable in the browser, needs no server-side table (it survives a restart and works on
 * every replica that shares the admin token), and the token inside is verified against the store
 * on every request (no cache), so revoking the token ends the session on its next request, and
 * the cookie expires with the token at the latest. Rotating the admin token ends every session. The cookie is HttpOnly (no script reads it), SameSite=Strict, Path=/, and Secure when
 * the public URL is https.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { CookieSessions } from '../auth/auth.ts';

export const SESSION_COOKIE = 'nes_session';
/** How long a sign-in lasts. */
export const SESSION_SECONDS = 7 * 24 * 3600;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_INFO = 'nes viewer session cookie v1';

export interface SessionOptions {
  /** The admin token: the key is derived from it (HKDF-SHA256), never the token itself. */
  secret: string;
  /** Whether the viewer is served over https (adds Secure). Read per cookie: ports settle late. */
  secure: () => boolean;
  /** Origins whose unsafe requests the cookie may authenticate (the viewer's own). */
  trustedOrigins: () => string[];
  /** Seconds since the epoch; injectable for tests. */
  now?: () => number;
}

export class SessionCookies implements CookieSessions {
  readonly #key: Buffer;
  readonly #secure: () => boolean;
  readonly #origins: () => string[];
  readonly #now: () => number;

  constructor(options: SessionOptions) {
    this.#key = Buffer.from(hkdfSync('sha256', options.secret, '', KEY_INFO, 32));
    this.#secure = options.secure;
    this.#origins = options.trustedOrigins;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * The Set-Cookie value signing this token in; it lasts SESSION_SECONDS, or until the token
   * expires when that comes first (the token is checked on every request anyway).
   */
  issue(token: string, tokenExpiresAt: string | null = null): string {
    const now = this.#now();
    const tokenLeft =
      tokenExpiresAt === null ? Infinity : Math.floor(Date.parse(tokenExpiresAt) / 1000) - now;
    const seconds = Math.max(0, Math.min(SESSION_SECONDS, tokenLeft));
    const expires = now + seconds;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const sealed = Buffer.concat([cipher.update(`${expires}:${token}`, 'utf8'), cipher.final()]);
    const value = Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
    return this.#cookie(value, seconds);
  }

  /** The Set-Cookie value that signs out. */
  clear(): string {
    return this.#cookie('', 0);
  }

  token(request: FastifyRequest): string | null {
    const value = readCookie(request.headers.cookie, SESSION_COOKIE);
    return value === null ? null : this.open(value);
  }

  /** The token sealed in a cookie value; null when it was tampered with, foreign or expired. */
  open(value: string): string | null {
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      const colon = plain.indexOf(':');
      const expires = Number(plain.slice(0, colon));
      if (colon < 1 || !(expires > this.#now())) return null;
      return plain.slice(colon + 1);
    } catch {
      return null; // not sealed under this key
    }
  }

  fromViewer(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return false;
    // A form post is a navigation; the viewer changes things with fetch only.
    if (request.headers['sec-fetch-mode'] === 'navigate') return false;
    // The page's own origin as this request reached it: the viewer opened under another name
    // of this host (localhost for 127.0.0.1). The cookie is bound to that host, so another
    // site cannot borrow it this way; the output origin differs by port and never matches.
    const own = `${request.protocol}://${request.host}`;
    return origin === own || this.#origins().includes(origin);
  }

  #cookie(value: string, maxAge: number): string {
    const secure = this.#secure() ? '; Secure' : '';
    return `${SESSION_COOKIE}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict${secure}`;
  }
}

/** One cookie's value from a Cookie header (RFC 6265 syntax: `a=1; b=2`). */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals).trim() === name) {
      const value = part.slice(equals + 1).trim();
      return value === '' ? null : value;
    }
  }
  return null;
}
