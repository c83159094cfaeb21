/** How times, durations, sizes, commits and parameter values read on every page. */

/** `950 ms`, `4.2 s`, `3m 05s`, `2h 04m`, `3d 4h`; `-` for a missing or negative span. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.floor(seconds)} s`;
  const total = Math.floor(seconds);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600) % 24;
  const d = Math.floor(total / 86400);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  return `${m}m ${pad(s)}s`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Milliseconds between two ISO times; a missing end means "until now" (a ticking clock). */
export function elapsedMs(start: string | null, end: string | null, now: number): number | null {
  if (!start) return null;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return null;
  return Math.max(0, to - from);
}

/** `just now`, `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`; beyond a week the date. */
export function formatRelative(iso: string | null, now: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d ago`;
  return formatDate(iso);
}

/** `2026-11-22 13:41:19` in the browser's time zone (ISO-like, sortable, unambiguous). */
export function formatDate(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '-';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** `13:41:19.204`: for timelines, where the date is shown once. */
export function formatClock(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '-';
  const ms = String(d.getMilliseconds()).padStart(3, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${ms}`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * A run (or sweep) id shortened to what tells it apart: its last 8 characters. Ids are ULIDs,
 * whose first 10 characters are the creation time, the same for runs started together.
 */
export function shortRunId(id: string): string {
  return id.slice(-8);
}

export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 7) : '';
}

/** A parameter value as Python-ish text: strings quoted, the rest as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return '';
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `name="NES" count=3`, cut to `max` characters. */
export function compactParameters(parameters: Record<string, unknown>, max = 80): string {
  const text = Object.entries(parameters ?? {})
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The last part of a notebook URI: what a person calls the notebook. */
export function notebookName(uri: string): string {
  const clean = uri.replace(/[?#].*$/, '').replace(/\/+$/, '');
  return clean.slice(clean.lastIndexOf('/') + 1) || uri;
}

/**
 * The full local date and time with its zone, for hover text:
 * `2026-11-22 13:41:19 GMT+1 (UTC+01:00)`, so a time read in another zone is never ambiguous.
 */
export function formatDateZone(iso: string | null): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '-';
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const utc = `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  let zone = '';
  try {
    zone =
      new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
        .formatToParts(d)
        .find((part) => part.type === 'timeZoneName')?.value ?? '';
  } catch {
    // no Intl time zone names: the offset says enough
  }
  return `${formatDate(iso)} ${zone && zone !== utc ? `${zone} (${utc})` : utc}`;
}

/**
 * Seconds written by machines inside a message (`deadline of 4.968991905999999 s`) as people
 * read durations (`deadline of 5.0 s`); the rest of the text is kept.
 */
export function humanizeSeconds(text: string): string {
  return text.replace(/\b(\d+(?:\.\d+)?)\s?(?:s|seconds)\b/g, (whole, value: string) => {
    const seconds = Number(value);
    return Number.isFinite(seconds) ? formatDuration(seconds * 1000) : whole;
  });
}

/** The first non-empty line of a text, cut to `max` characters. */
export function firstLine(text: string, max = 160): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}

/** Where a notebook comes from, for the Ref column of runs that have no Git ref. */
export function notebookOrigin(uri: string): 'github' | 'gcs' | 'https' | 'local' {
  if (uri.startsWith('github://') || /^https:\/\/[^/]+\/[^/]+\/[^/]+\/blob\//.test(uri))
    return 'github';
  if (uri.startsWith('gs://')) return 'gcs';
  if (uri.startsWith('https://') || uri.startsWith('http://')) return 'https';
  return 'local';
}
