/** Timestamp columns as the database drivers return them (a Date, or text), as ISO 8601 text. */

export function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/** `iso`, with SQL NULL (null or undefined) as null. */
export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}
