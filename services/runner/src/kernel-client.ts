/**
 * What the engine needs of a running kernel, whichever way it talks to it: a kernel it launched
 * itself and reaches over ZeroMQ (local-kernel.ts), or one on a Jupyter Server reached through a
 * websocket (kernel-session.ts).
 */
import type { KernelMessage } from '@jupyterlab/services';

export interface KernelDeath {
  reason: 'dead' | 'restarted' | 'connection_lost';
  detail: string;
}

/** One execute request in flight. */
export interface ExecuteRequest {
  readonly msgId: string;
  /**
   * Settles once the reply and the kernel's `idle` status for the request have both arrived
   * (all its output is in); rejects when the connection to the kernel is gone.
   */
  readonly done: Promise<KernelMessage.IExecuteReplyMsg>;
  /** Called with the shell reply as soon as it arrives (its output may still be coming). */
  onReply(handler: (reply: KernelMessage.IExecuteReplyMsg) => void): void;
}

export interface KernelClient {
  /** Resolves the moment the kernel can no longer be trusted; the run stops there. */
  readonly died: Promise<KernelDeath>;
  readonly death: KernelDeath | null;
  readonly info: Promise<KernelMessage.IInfoReply>;
  /**
   * Sends an execute request. `gated`: a request sent ahead of the cell running now; only for a
   * kernel whose `gated` is true, which aborts it (reply status `aborted`, nothing run) once a
   * cell has failed with stop_on_error or `closeGate` was called (request-gate.ts).
   */
  requestExecute(
    content: KernelMessage.IExecuteRequestMsg['content'],
    options?: { gated?: boolean },
  ): ExecuteRequest;
  /** The kernel runs the request gate: cells may be sent ahead. Absent: it does not. */
  readonly gated?: boolean;
  /** From now on the kernel aborts every gated request instead of running it. */
  closeGate?(): void;
  /** Every IOPub message, in order. */
  onIOPub(handler: (msg: KernelMessage.IIOPubMessage) => void): void;
  /** Interrupts the running cell; the run ends after an interrupt, so the gate closes first. */
  interrupt(): Promise<void>;
  /** Ends the kernel and closes the connection. Never throws. */
  shutdown(): Promise<void>;
}

export class NoSuchKernelError extends Error {
  readonly available: string[];
  constructor(name: string, available: string[], where = 'on the Jupyter Server') {
    super(
      `No kernel named '${name}' ${where}; available kernels: ${available.join(', ') || '(none)'}`,
    );
    this.name = 'NoSuchKernelError';
    this.available = available;
  }
}

/** The kernel to attach to is not (or no longer) on the server. */
export class KernelNotFoundError extends Error {
  constructor(id: string) {
    super(`No kernel with id ${id} on the Jupyter Server`);
    this.name = 'KernelNotFoundError';
  }
}

/** ipykernel's stream messages are kept small by this code, run once at start. */
export function isPythonKernel(info: KernelMessage.IInfoReply): boolean {
  return info.implementation === 'ipython' || info.language_info?.name === 'python';
}
