/**
 * The client declares the API's wire shapes itself (src/types.ts) rather than importing the
 * server's model. This keeps the two from drifting apart: the type checker (part of `npm test`)
 * fails here as soon as the run object the API serves and the one the client expects differ.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Static } from 'typebox';
import type { RunResultsSchema } from '../../../services/nes-api/src/routes/run-results.ts';
import type { RunSchema } from '../../../services/nes-api/src/schemas/run.ts';
import type { Run, RunResults } from '../src/types.ts';

type Served = Static<typeof RunSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const servedIsExpected: Same<Served, Run> = true;
const resultsAreExpected: Same<Static<typeof RunResultsSchema>, RunResults> = true;

test('the run object the API serves is exactly the one the client expects', () => {
  assert.equal(servedIsExpected, true);
  assert.equal(resultsAreExpected, true);
});
