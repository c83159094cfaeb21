/**
 * Who submitted a run, recorded at submit time as the reserved label `nes/submitted-by` (the name
 * of the token that authenticated the request; the viewer's session signs in with one too).
 * Labels are part of the immutable run, are listed and filtered like any other, and need no new
 * column. The service sets it itself: a value sent by the client is replaced, so it cannot be
 * spoofed. A rerun also records `nes/rerun-of`, the run it copies. Who cancelled a run is an
 * event of its own (`cancel_requested`, `{by}`), since a run's labels never change.
 */
import type { StoredToken } from './run-store.ts';

export const SUBMITTED_BY_LABEL = 'nes/submitted-by';
export const RERUN_OF_LABEL = 'nes/rerun-of';
/** The run event that records who asked to cancel (`data.by`: the token's name). */
export const CANCEL_REQUESTED_EVENT = 'cancel_requested';

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
