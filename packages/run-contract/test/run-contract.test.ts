/**
 * The run contract: one exit-code table read both ways, and one reading of a runner's exit,
 * whether it comes from a local worker (code or signal, no result) or a container (code, reason,
 * termination message).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildResult,
  EXIT_CODE_BY_CLASS,
  exitCodeForOutcome,
  exitMeaning,
  FAILURE_CLASSES,
  failureFromExit,
  formatResult,
  outcomeForClass,
  outcomeForExitCode,
  parseRunnerResult,
} from '../src/index.ts';

describe('exit codes', () => {
  test('every class has its own code, and the code reads back as the class', () => {
    const codes = FAILURE_CLASSES.map((c) => EXIT_CODE_BY_CLASS[c]);
    assert.equal(new Set(codes).size, FAILURE_CLASSES.length);
    for (const c of FAILURE_CLASSES) {
      assert.equal(exitMeaning(EXIT_CODE_BY_CLASS[c])?.class, c);
      assert.equal(outcomeForExitCode(EXIT_CODE_BY_CLASS[c]), outcomeForClass(c));
    }
    assert.equal(exitMeaning(2)?.class, 'infra', 'a usage error is the runner being misused');
    assert.equal(exitMeaning(0), undefined);
    assert.equal(exitMeaning(99), undefined);
  });

  test('an outcome without a failure still gets its code', () => {
    assert.equal(exitCodeForOutcome({ status: 'succeeded', error: null }), 0);
    assert.equal(exitCodeForOutcome({ status: 'cancelled', error: null }), 130);
    assert.equal(exitCodeForOutcome({ status: 'timed_out', error: null }), 4);
    assert.equal(exitCodeForOutcome({ status: 'failed', error: null }), 7);
    assert.equal(exitCodeForOutcome({ status: 'failed', error: { class: 'oom' } }), 6);
  });
});

describe('failureFromExit', () => {
  const plain = { exitCode: null, resultMissing: true };
  test('a local worker that died without its result', () => {
    const classOf = (exit: Parameters<typeof failureFromExit>[0], cancel = false) =>
      failureFromExit(exit, cancel).error?.class;
    assert.equal(classOf({ ...plain, exitCode: 5 }), 'kernel_died');
    assert.equal(classOf({ ...plain, exitCode: 3 }), 'source');
    assert.equal(classOf({ ...plain, exitCode: 0 }), 'infra', 'exit 0 without a result');
    assert.equal(classOf({ ...plain, signal: 'SIGKILL' }), 'infra');
    assert.equal(classOf({ ...plain, signal: 'SIGKILL', oomKilled: true }), 'oom');
    assert.equal(classOf({ ...plain, signal: 'SIGKILL' }, true), 'cancelled');
    assert.equal(classOf({ ...plain, exitCode: 130 }, true), 'cancelled');
    const killed = failureFromExit({ ...plain, signal: 'SIGKILL' }, false);
    assert.equal(killed.error?.ename, 'RunnerKilled');
    assert.equal(killed.status, 'failed');
    const timeout = failureFromExit(
      { ...plain, exitCode: 4, lastWords: 'a\nthe deadline\n' },
      false,
    );
    assert.equal(timeout.status, 'timed_out');
    assert.equal(timeout.error?.evalue, 'the deadline');
  });

  test('a container that exited, with and without its result message', () => {
    const message = formatResult(
      buildResult(
        1,
        {
          status: 'failed',
          error: {
            class: 'cell_error',
            ename: 'ValueError',
            evalue: 'bad',
            cellIndex: 4,
            cellNumber: 2,
          },
          outputUri: 'gs://b/runs/r/output.ipynb',
        },
        (t) => t,
      ),
    );
    const verdict = failureFromExit({ exitCode: 1, result: parseRunnerResult(message) }, false);
    assert.deepEqual(verdict, {
      status: 'failed',
      error: {
        class: 'cell_error',
        ename: 'ValueError',
        evalue: 'bad',
        cellIndex: 4,
        cellNumber: 2,
      },
      outputUri: 'gs://b/runs/r/output.ipynb',
    });
    assert.deepEqual(failureFromExit({ exitCode: 0 }, false), {
      status: 'succeeded',
      error: null,
      outputUri: null,
    });
    const oom = failureFromExit({ exitCode: 137, oomKilled: true }, false);
    assert.equal(oom.error?.class, 'oom');
    assert.equal(oom.error?.ename, 'OOMKilled');
    const deleted = failureFromExit({ exitCode: 143 }, false);
    assert.equal(deleted.error?.class, 'infra', 'SIGTERM nobody asked for is not a cancel');
    assert.equal(deleted.error?.ename, 'RunnerTerminated');
    assert.equal(failureFromExit({ exitCode: 143 }, true).status, 'cancelled');
    const unknown = failureFromExit({ exitCode: 137, lastWords: 'Killed' }, false);
    assert.equal(unknown.error?.class, 'infra');
    assert.match(unknown.error?.evalue ?? '', /SIGKILL.*: Killed$/);
  });

  test("a result message is data from the run's container: fields of the wrong type are dropped", () => {
    const parsed = parseRunnerResult(
      '{"class":"cell_error","ename":5,"cellIndex":"x","outputUri":"gs://b/o"}',
    );
    assert.deepEqual(
      { ename: parsed?.ename, cellIndex: parsed?.cellIndex, outputUri: parsed?.outputUri },
      { ename: null, cellIndex: null, outputUri: 'gs://b/o' },
    );
    assert.equal(parseRunnerResult('Traceback (most recent call last):'), null);
    assert.equal(parseRunnerResult('{not json'), null);
    const forged = failureFromExit({ exitCode: 1, result: { class: 'cancelled' as never } }, false);
    assert.equal(forged.error?.class, 'cell_error', 'a result cannot claim a cancel');
  });
});
