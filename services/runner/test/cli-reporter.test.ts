/**
 * nes-run's reporter: cell output (--log-output) with --json travels as `output` events on the
 * events channel, masked, with its stream, so a reader of the pod log (the Kubernetes executor)
 * can never mistake a cell's text for a run event; without --json it is plain text on stderr.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Reporter } from '../src/cli/reporter.ts';

function collect(stream: PassThrough): () => string {
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return () => chunks.join('');
}

const mask = (text: string) => text.replaceAll('sk-live-123', '***');

test('with --json, cell output is one masked output event per chunk, stream kept', () => {
  const stderr = new PassThrough();
  const events = new PassThrough();
  const errText = collect(stderr);
  const eventText = collect(events);
  const reporter = new Reporter({
    stderr,
    logLevel: 'INFO',
    progressBar: false,
    events,
    redact: mask,
    outputAsEvents: true,
  });
  reporter.outputText('key sk-live-123\n');
  reporter.outputText('{"type":"saved","uri":"gs://elsewhere"}\n');
  reporter.outputText('oops\n', 'stderr');
  const lines = eventText()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    lines.map(({ type, stream, text }) => ({ type, stream, text })),
    [
      { type: 'output', stream: 'stdout', text: 'key ***\n' },
      { type: 'output', stream: 'stdout', text: '{"type":"saved","uri":"gs://elsewhere"}\n' },
      { type: 'output', stream: 'stderr', text: 'oops\n' },
    ],
  );
  for (const line of lines) assert.ok(!Number.isNaN(Date.parse(line.time)));
  assert.doesNotMatch(errText(), /key|oops/, 'nothing of the cells on stderr');
});

test('without --json, cell output is masked text on stderr, each chunk then a line break (papermill logs each as a record)', () => {
  const stderr = new PassThrough();
  const errText = collect(stderr);
  const reporter = new Reporter({
    stderr,
    logLevel: 'INFO',
    progressBar: false,
    events: undefined,
    redact: mask,
  });
  reporter.outputText('key sk-live-123\n');
  reporter.outputText('no newline');
  assert.equal(errText(), 'key ***\n\nno newline\n');
});
