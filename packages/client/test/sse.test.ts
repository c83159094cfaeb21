import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../src/sse.ts';

test('fields, multi-line data, comments and defaults', () => {
  const p = new SseParser();
  const out = p.feed(
    ': comment\nevent: progress\nid: 7\ndata: {"a":\ndata:  1}\n\ndata:plain\n\n:only a comment\n\n',
  );
  assert.deepEqual(out, [
    { event: 'progress', data: '{"a":\n 1}', id: '7' },
    { event: 'message', data: 'plain', id: '7' },
  ]);
});

test('CR, LF and CRLF line ends, split anywhere, BOM stripped', () => {
  const text = '\uFEFFevent: a\r\ndata: 1\r\rdata: 2\n\nretry: 1500\nid: x\ndata\n\n';
  for (let size = 1; size <= text.length; size++) {
    const p = new SseParser();
    const out = [];
    for (let i = 0; i < text.length; i += size) out.push(...p.feed(text.slice(i, i + size)));
    assert.deepEqual(
      out,
      [
        { event: 'a', data: '1', id: '' },
        { event: 'message', data: '2', id: '' },
        { event: 'message', data: '', id: 'x' },
      ],
      `chunk size ${size}`,
    );
    assert.equal(p.retryMs, 1500);
  }
});

test('an event without data is not dispatched; id with NUL ignored; bad retry ignored', () => {
  const p = new SseParser();
  assert.deepEqual(p.feed('event: x\nid: 1\n\nid: a\u0000b\nretry: 5s\ndata: y\n\n'), [
    { event: 'message', data: 'y', id: '1' },
  ]);
  assert.equal(p.retryMs, undefined);
  assert.equal(p.lastEventId, '1');
});

test('an unterminated event is held until its blank line', () => {
  const p = new SseParser();
  assert.deepEqual(p.feed('data: x\n'), []);
  assert.deepEqual(p.feed('\n'), [{ event: 'message', data: 'x', id: '' }]);
});
