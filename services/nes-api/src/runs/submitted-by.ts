/**
 * Who submitted a run, recorded at submit time as the reserved label `nes/submitted-by` (the name
 * of the token that authenticated the request; the viewer's session signs in with one too).
 * Labels are part of the immutable run, are listed and filtered like any other, and need no new
 * column. The service sets it itself: a value sent by the client is replaced, so it cannot be
 * spoofed. A rerun also records `nes/rerun-of`, the run it copies.
 */
import type { StoredToken } from './run-store.ts';

export const SUBMITTED_BY_LABEL = 'nes/submitted-by';
export const RERUN_OF_LABEL = 'nes/rerun-of';

/** The label values the API accepts are at most 256 characters. */
const MAX_VALUE = 256;

export function withSubmitter(
  labels: Record<string, string>,
  token: Pick<StoredToken, 'name'> | null | undefined,
): Record<string, string> {
  const { [SUBMITTED_BY_LABEL]: _claimed, ...rest } = labels;
  if (!token?.name) return rest;
  return { ...rest, [SUBMITTED_BY_LABEL]: token.name.slice(0, MAX_VALUE) };
}
