/**
 * One kernel on a Jupyter Server, driven through @jupyterlab/services over a websocket.
 *
 * - The kernel is started by REST in the run's working directory, after checking its name
 *   against /api/kernelspecs (the server answers an unknown name with a bare 500).
 * - The websocket is `ws` with `maxPayload` raised to 256 MiB: at the default 100 MiB a large
 *   output drops the socket, services reconnects, and the execute future never settles.
 * - `died` resolves the moment the kernel can no longer be trusted: it died, the server
 *   restarted it (a fresh kernel has lost the notebook's state), or the connection dropped
 *   (messages may be lost). Whatever the cause, the run stops there.
 */

import {
  type Kernel,
  KernelConnection,
  type KernelMessage,
  ServerConnection,
} from '@jupyterlab/services';
import WebSocket from 'ws';
import { raceAbort } from './abort.ts';
import {
  getKernel,
  JupyterApiError,
  type KernelModel,
  listKernelSpecs,
  type ServerEndpoint,
  shutdownKernel,
  startKernel,
} from './jupyter-api.ts';
import {
  type ExecuteRequest,
  isPythonKernel,
  type KernelClient,
  type KernelDeath,
  KernelNotFoundError,
  NoSuchKernelError,
} from './kernel-client.ts';
import { kernelSpecName } from './kernel-names.ts';
import { STREAM_CHUNKING } from './stream-chunking.ts';

/**
 * The largest kernel message accepted. A message is held whole (bytes, text, parsed object: about
 * three copies) while it is handled, so this bounds the runner's memory. ipykernel's streams are
 * cut into 1 MiB messages (python/stream_chunking.py); a single rich output over this size ends
 * the run with a clear error rather than exhausting memory.
 */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** How long `shutdown` keeps asking a server that is busy restarting the kernel. */
const SHUTDOWN_RETRY_MS = 3000;

interface AttachKernelOptions {
  /** When given, the kernel must be of this kernelspec. */
  kernelName?: string;
  signal?: AbortSignal;
}

interface StartKernelOptions {
  kernelName: string;
  /** Directory relative to the server's root where the kernel starts ('' = the root). */
  path: string;
  signal?: AbortSignal;
}

/** A `ws` WebSocket with a large message cap that reports why it closed. */
function webSocketClass(
  onClose: (code: number, reason: string) => void,
  onError: (error: Error & { code?: string }) => void,
): typeof globalThis.WebSocket {
  class LargeMessageWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { maxPayload: MAX_MESSAGE_BYTES });
      this.on('close', (code: number, reason: Buffer) => onClose(code, reason.toString()));
      this.on('error', (error: Error & { code?: string }) => onError(error));
    }
  }
  return LargeMessageWebSocket as unknown as typeof globalThis.WebSocket;
}

function closeExplanation(code: number, reason: string): string {
  if (code === 1009) {
    return `a kernel message exceeded the ${MAX_MESSAGE_BYTES / 1024 / 1024} MiB limit (websocket close 1009)`;
  }
  return `websocket closed with code ${code}${reason ? ` (${reason})` : ''}`;
}

export class KernelSession implements KernelClient {
  readonly kernel: Kernel.IKernelConnection;
  readonly model: KernelModel;
  readonly died: Promise<KernelDeath>;
  readonly #endpoint: ServerEndpoint;
  #death: KernelDeath | null = null;
  #resolveDied!: (death: KernelDeath) => void;
  #ready = false;
  #closing = false;
  #lastClose = '';

  private constructor(endpoint: ServerEndpoint, model: KernelModel) {
    this.#endpoint = endpoint;
    this.model = model;
    this.died = new Promise((resolve) => {
      this.#resolveDied = resolve;
    });
    const defaults = ServerConnection.makeSettings();
    const serverSettings = ServerConnection.makeSettings({
      baseUrl: endpoint.url,
      token: endpoint.token,
      appendToken: true,
      init: {},
      WebSocket: webSocketClass(
        (code, reason) => {
          this.#lastClose ||= closeExplanation(code, reason);
        },
        (error) => {
          this.#lastClose =
            error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
              ? closeExplanation(1009, '')
              : `websocket error: ${error.message}`;
        },
      ),
      serializer: {
        serialize: defaults.serializer.serialize,
        deserialize: (data, protocol) => {
          const msg = defaults.serializer.deserialize(data, protocol);
          return this.#interceptRestart(msg);
        },
      },
    });
    // handleComms false: the runner is not a widget front end; comm messages are ignored, as
    // nbclient does, instead of being answered with comm_close.
    this.kernel = new KernelConnection({ model, serverSettings, handleComms: false });
    this.kernel.statusChanged.connect((_, status) => {
      if (status === 'dead') this.#die('dead', 'the kernel died');
      if (status === 'restarting' || status === 'autorestarting') {
        this.#die('restarted', 'the kernel died and the server restarted it');
      }
    });
    this.kernel.connectionStatusChanged.connect((_, status) => {
      if (status !== 'connected' && this.#ready) {
        this.#die(
          'connection_lost',
          `lost the connection to the kernel: ${this.#lastClose || status}`,
        );
      }
    });
  }

  static async start(
    endpoint: ServerEndpoint,
    options: StartKernelOptions,
  ): Promise<KernelSession> {
    const specs = await listKernelSpecs(endpoint, options.signal);
    const kernelName = kernelSpecName(options.kernelName);
    if (!specs.names.includes(kernelName)) {
      throw new NoSuchKernelError(options.kernelName, specs.names);
    }
    const model = await startKernel(endpoint, kernelName, options.path, options.signal);
    return await KernelSession.#connect(endpoint, model, options.signal);
  }

  /**
   * Takes over a kernel already running on the server (a warm pool's pre-started kernel). From
   * here the session owns it: `shutdown` ends it on the server, as for a kernel it started.
   */
  static async attach(
    endpoint: ServerEndpoint,
    kernelId: string,
    options: AttachKernelOptions = {},
  ): Promise<KernelSession> {
    let model: KernelModel;
    try {
      model = await getKernel(endpoint, kernelId, options.signal);
    } catch (error) {
      if (error instanceof JupyterApiError && error.status === 404) {
        throw new KernelNotFoundError(kernelId);
      }
      throw error;
    }
    if (options.kernelName !== undefined && model.name !== kernelSpecName(options.kernelName)) {
      await shutdownKernel(endpoint, model.id).catch(() => undefined);
      throw new NoSuchKernelError(options.kernelName, [model.name]);
    }
    if (model.execution_state === 'dead') {
      await shutdownKernel(endpoint, model.id).catch(() => undefined);
      throw new Error(`kernel ${kernelId} is dead`);
    }
    return await KernelSession.#connect(endpoint, model, options.signal);
  }

  static async #connect(
    endpoint: ServerEndpoint,
    model: KernelModel,
    signal: AbortSignal | undefined,
  ): Promise<KernelSession> {
    const session = new KernelSession(endpoint, model);
    try {
      await raceAbort(
        Promise.race([
          session.kernel.info,
          session.died.then((death) => {
            throw new Error(`kernel '${model.name}' failed to start: ${death.detail}`);
          }),
        ]),
        signal,
      );
    } catch (error) {
      await session.shutdown();
      throw error;
    }
    session.#ready = true;
    await session.#chunkPythonStreams();
    return session;
  }

  /** Python kernels: keep stream messages small (python/stream_chunking.py). Best effort. */
  async #chunkPythonStreams(): Promise<void> {
    const info = await this.kernel.info;
    if (!isPythonKernel(info)) return;
    const future = this.kernel.requestExecute(
      { code: STREAM_CHUNKING, silent: true, store_history: false, allow_stdin: false },
      true,
    );
    await Promise.race([future.done.catch(() => undefined), this.died]);
  }

  /** Why the kernel can no longer be used, once that has happened. */
  get death(): KernelDeath | null {
    return this.#death;
  }

  get info(): Promise<KernelMessage.IInfoReply> {
    return this.kernel.info;
  }

  #die(reason: KernelDeath['reason'], detail: string): void {
    if (this.#death || this.#closing) return;
    this.#death = { reason, detail };
    this.#resolveDied(this.#death);
  }

  /**
   * The server announces an automatic restart with an IOPub status `restarting`. services would
   * then reconnect to the fresh kernel, and reject a promise nobody can catch once the connection
   * is closed. The run never uses a restarted kernel: note the death and hand services `dead`
   * instead, which makes it close the connection for good.
   */
  #interceptRestart(msg: KernelMessage.IMessage): KernelMessage.IMessage {
    if (msg.channel !== 'iopub' || msg.header.msg_type !== 'status') return msg;
    const content = msg.content as { execution_state?: string };
    if (content.execution_state !== 'restarting') return msg;
    this.#die('restarted', 'the kernel died and the server restarted it');
    return { ...msg, content: { ...content, execution_state: 'dead' } } as KernelMessage.IMessage;
  }

  requestExecute(content: KernelMessage.IExecuteRequestMsg['content']): ExecuteRequest {
    const future = this.kernel.requestExecute(content, true);
    return {
      msgId: future.msg.header.msg_id,
      done: future.done as Promise<KernelMessage.IExecuteReplyMsg>,
      onReply: (handler) => {
        future.onReply = (reply) => handler(reply as KernelMessage.IExecuteReplyMsg);
      },
    };
  }

  onIOPub(handler: (msg: KernelMessage.IIOPubMessage) => void): void {
    this.kernel.iopubMessage.connect((_, msg) => handler(msg));
  }

  async interrupt(): Promise<void> {
    await this.kernel.interrupt();
  }

  /** Shuts the kernel down on the server and closes the connection. Never throws. */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // A kernel the server is restarting answers DELETE with a bare 500 until the restart is
    // over (a few hundred ms); left running, that restart held the server's own stop for its
    // whole grace period. So retry for a while; 404 means already gone.
    const giveUpAt = performance.now() + SHUTDOWN_RETRY_MS;
    for (;;) {
      try {
        await shutdownKernel(this.#endpoint, this.model.id, AbortSignal.timeout(2000));
        break;
      } catch (error) {
        const retry =
          error instanceof JupyterApiError && error.status >= 500 && performance.now() < giveUpAt;
        if (!retry) break; // Gone (404), or the server stopped: nothing left to shut down.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.kernel.dispose();
  }
}
