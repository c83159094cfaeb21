/**
 * The wire format of kernel-wire.ts against jupyter_client's own Session (the code every Jupyter
 * kernel and client shares): what Session signs, we accept; what we sign, Session accepts; a
 * message whose signature is wrong is dropped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DELIMITER,
  decodeMessage,
  encodeMessage,
  MessageSigner,
  requestHeader,
  WireError,
} from '../src/kernel-wire.ts';

const PYTHON = fileURLToPath(new URL('../../../.tools/py/bin/python', import.meta.url));
const KEY = 'a0436f6c-1916-498b-8eb9-e81ab9368e84';

/** Runs `script` with jupyter_client's Session keyed with KEY; stdin/stdout carry JSON. */
function withSession(script: string, input: unknown): unknown {
  const prelude = [
    'import json, sys, base64',
    'from jupyter_client.session import Session',
    `session = Session(key=${JSON.stringify(KEY)}.encode(), signature_scheme="hmac-sha256")`,
    'data = json.load(sys.stdin)',
  ].join('\n');
  const result = spawnSync(PYTHON, ['-c', `${prelude}\n${script}`], {
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

const b64 = (frames: Buffer[]) => frames.map((frame) => frame.toString('base64'));

describe('kernel wire format', () => {
  test("jupyter_client's signed messages are read, routing prefix and buffers included", () => {
    const frames = withSession(
      [
        'msg = session.msg("stream", content={"name": "stdout", "text": "h\\u00e9llo\\n"})',
        'parts = session.serialize(msg, ident=[b"topic.stream"]) + [b"\\x00\\x01raw"]',
        'print(json.dumps([base64.b64encode(p).decode() for p in parts]))',
      ].join('\n'),
      null,
    ) as string[];
    const msg = decodeMessage(
      new MessageSigner(KEY),
      frames.map((frame) => Buffer.from(frame, 'base64')),
      'iopub',
    );
    assert.ok(msg, 'signature accepted');
    assert.equal(msg.header.msg_type, 'stream');
    assert.deepEqual(msg.content, { name: 'stdout', text: 'h\u00e9llo\n' });
    assert.equal(msg.channel, 'iopub');
    assert.equal(msg.buffers?.length, 1);
  });

  test('our messages pass Session.deserialize (signature checked) with their content', () => {
    const signer = new MessageSigner(KEY);
    const header = requestHeader('execute_request', 'session-1');
    const content = { code: 'print("\u00e9")', silent: false };
    const frames = encodeMessage(signer, header, content);
    assert.equal(frames[0]?.toString(), DELIMITER);
    const back = withSession(
      [
        'frames = [base64.b64decode(f) for f in data]',
        'idents, rest = session.feed_identities(frames)',
        'msg = session.deserialize(rest)',
        'print(json.dumps({"type": msg["header"]["msg_type"], "content": msg["content"],',
        '                  "version": msg["header"]["version"]}))',
      ].join('\n'),
      b64(frames),
    );
    assert.deepEqual(back, { type: 'execute_request', content, version: '5.4' });
  });

  test('a message with a wrong signature, or signed with another key, is dropped', () => {
    const signer = new MessageSigner(KEY);
    const frames = encodeMessage(signer, requestHeader('status', 's'), { execution_state: 'idle' });
    const tampered = [...frames];
    tampered[5] = Buffer.from(JSON.stringify({ execution_state: 'busy' }));
    assert.equal(decodeMessage(signer, tampered, 'iopub'), null);
    const other = encodeMessage(new MessageSigner('another key'), requestHeader('status', 's'), {});
    assert.equal(decodeMessage(signer, other, 'iopub'), null);
    assert.ok(decodeMessage(signer, frames, 'iopub'));
  });

  test('an empty key means unsigned messages, as jupyter_client writes them', () => {
    const unsigned = new MessageSigner('');
    const frames = encodeMessage(unsigned, requestHeader('kernel_info_request', 's'), {});
    assert.equal(frames[1]?.toString(), '');
    assert.ok(decodeMessage(unsigned, frames, 'shell'));
  });

  test('frames that are not a Jupyter message are refused with a WireError', () => {
    const signer = new MessageSigner(KEY);
    assert.throws(() => decodeMessage(signer, [Buffer.from('hello')], 'shell'), WireError);
    assert.throws(() => new MessageSigner(KEY, 'rsa'), /unsupported signature_scheme rsa/);
  });
});
