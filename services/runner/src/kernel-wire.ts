/**
 * Jupyter messages on ZeroMQ frames, as the messaging specification and jupyter_client's
 * `Session` write and read them:
 *
 *   [routing prefix...] "<IDS|MSG>" signature header parent_header metadata content [buffers...]
 *
 * The signature is the hex HMAC (the connection file's `signature_scheme`, hmac-sha256 for every
 * kernel written since 2013) of the four JSON frames in that order, keyed with the connection
 * file's `key`; an empty key means unsigned messages (signature ""). A message whose signature
 * does not match is dropped, as jupyter_client drops it: it did not come from the kernel.
 */
import {
  createHmac,
  createSecretKey,
  type KeyObject,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import type { KernelMessage } from '@jupyterlab/services';

export const DELIMITER = '<IDS|MSG>';
const DELIMITER_BYTES = Buffer.from(DELIMITER);

/** The protocol version this client speaks (ipykernel 6 and 7 answer with 5.3 / 5.4). */
const PROTOCOL_VERSION = '5.4';

export type Channel = 'shell' | 'control' | 'iopub' | 'stdin';

export type JupyterMessage = KernelMessage.IMessage;

export class MessageSigner {
  /** Null for an empty key. A KeyObject made once: a Buffer key is re-imported on every HMAC. */
  readonly #key: KeyObject | null;
  readonly #algorithm: string;

  constructor(key: string, scheme = 'hmac-sha256') {
    const match = /^hmac-(.+)$/.exec(scheme);
    if (!match?.[1]) throw new Error(`unsupported signature_scheme ${scheme}`);
    this.#algorithm = match[1];
    this.#key = key === '' ? null : createSecretKey(Buffer.from(key, 'utf8'));
  }

  sign(frames: readonly (Buffer | string)[]): string {
    if (this.#key === null) return '';
    const hmac = createHmac(this.#algorithm, this.#key);
    for (const frame of frames) hmac.update(frame);
    return hmac.digest('hex');
  }

  verify(signature: Buffer, frames: readonly Buffer[]): boolean {
    if (this.#key === null) return true;
    const expected = Buffer.from(this.sign(frames), 'utf8');
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
}

/** A new request's header, as jupyter_client's Session.msg_header makes it. */
export function requestHeader(msgType: string, session: string): KernelMessage.IHeader {
  return {
    msg_id: randomUUID(),
    msg_type: msgType as KernelMessage.MessageType,
    session,
    username: 'nes',
    date: new Date().toISOString(),
    version: PROTOCOL_VERSION,
  };
}

/** The frames of a message to send (a DEALER adds no routing prefix). */
export function encodeMessage(
  signer: MessageSigner,
  header: KernelMessage.IHeader,
  content: object,
  metadata: object = {},
): Buffer[] {
  const parts = [header, {}, metadata, content].map((part) => Buffer.from(JSON.stringify(part)));
  return [DELIMITER_BYTES, Buffer.from(signer.sign(parts)), ...parts];
}

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/**
 * A received message, or null when its signature is wrong. Throws WireError on frames that are
 * not a Jupyter message at all.
 */
export function decodeMessage(
  signer: MessageSigner,
  frames: readonly Buffer[],
  channel: Channel,
): JupyterMessage | null {
  const at = frames.findIndex((frame) => frame.equals(DELIMITER_BYTES));
  if (at < 0 || frames.length < at + 6) {
    throw new WireError(`a ${channel} message without the ${DELIMITER} delimiter and its parts`);
  }
  const signature = frames[at + 1] as Buffer;
  const parts = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, parts)) return null;
  const [header, parent, metadata, content] = parts.map((part) => JSON.parse(part.toString()));
  const buffers = frames.slice(at + 6).map((frame) => new DataView(toArrayBuffer(frame)));
  return {
    channel,
    header,
    parent_header: parent,
    metadata,
    content,
    buffers,
  } as JupyterMessage;
}

function toArrayBuffer(frame: Buffer): ArrayBuffer {
  return frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer;
}
