/**
 * A kernel this process launches itself and talks to over ZeroMQ, as jupyter_client's
 * KernelManager and BlockingKernelClient do for nbclient and papermill: no Jupyter Server in
 * between, which saves its start (about half a second) and its relay on every message.
 *
 * - Launch (jupyter_client's LocalProvisioner): five free loopback ports and a random key in a
 *   private connection file; the kernelspec's argv with `{connection_file}` and `{resource_dir}`
 *   filled in and a leading `python` replaced by the project environment's Python (jupyter_client
 *   uses its own `sys.executable`); its own session (process group), so an interrupt reaches what
 *   the cell started; JPY_PARENT_PID, so the kernel exits if this process dies without stopping it.
 * - Connection: shell and control are DEALER sockets, IOPub a SUB socket (wire format in
 *   kernel-wire.ts). IOPub only delivers what is published after the subscription has reached the
 *   kernel, so the kernel is "ready" once a kernel_info reply has come AND an IOPub message has
 *   arrived, asking again until one does (Jupyter Server's "nudge").
 * - Death: the process's exit, seen at once (no heartbeat needed for a child process).
 * - Interrupt: SIGINT to the kernel's process group, or an interrupt_request on control when the
 *   kernelspec says `interrupt_mode: message`.
 * - Shutdown: shutdown_request on control, up to 5 s for the kernel to exit (jupyter_client's
 *   shutdown_wait_time), then SIGKILL to its process group.
 *
 * `LocalKernel.attach` talks the same way to a kernel someone else launched (the local executor
 * starts each run's kernel inside the run's sandbox, with `ipc` sockets in the run's directory):
 * the caller says where its sockets are and gives a KernelProcess, how its end is seen and how it
 * is ended.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { KernelMessage } from '@jupyterlab/services';
import type { Dealer, Subscriber } from 'zeromq';
import { raceAbort } from './abort.ts';
import { KillOnExit } from './exit-kill.ts';
import {
  type ExecuteRequest,
  isPythonKernel,
  type KernelClient,
  type KernelDeath,
  NoSuchKernelError,
} from './kernel-client.ts';
import { kernelSpecName } from './kernel-names.ts';
import {
  type Channel,
  decodeMessage,
  encodeMessage,
  type JupyterMessage,
  MessageSigner,
  requestHeader,
} from './kernel-wire.ts';
import {
  availableKernels,
  findKernelSpec,
  type KernelSpec,
  needsProvisioner,
} from './kernelspecs.ts';
import { GATED_METADATA, requestGateCode } from './request-gate.ts';
import { STREAM_CHUNKING } from './stream-chunking.ts';

/** jupyter_client's KernelManager.shutdown_wait_time. */
const SHUTDOWN_WAIT_MS = 5000;
/** How often kernel_info is asked again while IOPub has not delivered anything yet. */
const NUDGE_INTERVAL_MS = 50;
/** How long a kernel_info_request waits for its answer before it is sent again. */
const INFO_RETRY_MS = 1000;
const STDERR_TAIL_BYTES = 8192;
/**
 * Messages a socket queues before it stops reading from the kernel (ZeroMQ's receive high-water
 * mark). IOPub stream messages are up to 1 MiB (python/stream_chunking.py): this bounds what
 * waits here unread when a cell prints faster than the run takes its output in.
 */
const IOPUB_QUEUE_MESSAGES = 16;

/** After the kernel's exit, how long its sockets must stay quiet before it is declared dead. */
const DRAIN_QUIET_MS = 50;
const DRAIN_MAX_MS = 1000;

const YIELD_EVERY_BYTES = 1024 * 1024;
const YIELD_EVERY_MESSAGES = 256;

/** The kernelspec starts through a jupyter_client provisioner: only a Jupyter Server can. */
export class ProvisionerRequiredError extends Error {
  constructor(spec: KernelSpec) {
    super(`kernel '${spec.name}' starts through the '${spec.provisioner}' provisioner`);
    this.name = 'ProvisionerRequiredError';
  }
}

interface LocalKernelOptions {
  kernelName: string;
  /** The kernel's working directory. */
  cwd: string;
  /** The environment the kernel starts from. Default: this process's. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Extra environment for the kernel. */
  env?: Record<string, string>;
  /** Where the project environment's executables are (its `python` replaces argv's). */
  binDir?: string | null;
  signal?: AbortSignal;
}

/** Kernels launched and not yet stopped: killed if this process exits without stopping them. */
const running = new KillOnExit((child) => killGroup(child, 'SIGKILL'));

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * The process behind a kernel, as far as its client needs it: when it is gone, and how to
 * interrupt (signal mode) and end it.
 */
export interface KernelProcess {
  /** Settles when the kernel is gone, saying how it ended ("exit code 1", "signal SIGKILL"). */
  readonly exited: Promise<string>;
  /** SIGINT to the kernel's process group; absent: interrupts go as interrupt_request. */
  interrupt?(): void;
  /** Ends the kernel now (SIGKILL to what it started too). */
  kill(): void;
  /** The end of the kernel's stderr, for the error of a kernel that failed to start. */
  stderrTail(): string;
  /** Keeps this process alive until the kernel is gone (a launched child is unref'd). */
  hold?(): void;
  /**
   * The kernel's owner sees to its end once its client is done (the local executor's sandbox):
   * `shutdown` asks the kernel to shut down and returns on its answer instead of waiting for it
   * to exit, so the kernel's own shutdown is not the run's time.
   */
  ownerEndsIt?: boolean;
}

/** Where an already running kernel's sockets are (ZeroMQ endpoints) and how it signs messages. */
export interface KernelEndpoints {
  shell: string;
  iopub: string;
  control: string;
  key: string;
  signatureScheme: string;
}

/** A launched child process as a KernelProcess. */
function childKernelProcess(child: ChildProcess): KernelProcess {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
    child.once('error', (error) => {
      running.delete(child);
      resolve(`could not be started: ${error.message}`);
    });
  });
  return {
    exited,
    interrupt: () => killGroup(child, 'SIGINT'),
    kill: () => killGroup(child, 'SIGKILL'),
    stderrTail: () => tail,
    hold: () => child.ref(),
  };
}

interface Pending {
  reply: KernelMessage.IShellControlMessage | null;
  idle: boolean;
  onReply: ((reply: KernelMessage.IExecuteReplyMsg) => void) | null;
  resolve: (reply: KernelMessage.IShellControlMessage) => void;
  /** Resolve on the reply alone (requests whose IOPub output nobody waits for). */
  replyOnly: boolean;
}

export class LocalKernel implements KernelClient {
  readonly spec: KernelSpec;
  readonly died: Promise<KernelDeath>;
  readonly #process: KernelProcess;
  readonly #signer: MessageSigner;
  readonly #session = randomUUID();
  readonly #shell: Dealer;
  readonly #control: Dealer;
  readonly #iopub: Subscriber;
  readonly #connectionDir: string | null;
  readonly #pending = new Map<string, Pending>();
  readonly #sending = new Map<Dealer, Promise<void>>();
  readonly #iopubHandlers: Array<(msg: KernelMessage.IIOPubMessage) => void> = [];
  #iopubSeen = false;
  #iopubWaiters: Array<() => void> = [];
  #info: Promise<KernelMessage.IInfoReply> | null = null;
  #death: KernelDeath | null = null;
  #resolveDied!: (death: KernelDeath) => void;
  #exited: Promise<void>;
  #hasExited = false;
  #closing = false;
  #gated = false;
  #gateClosed = false;
  #lastMessageAt = 0;

  private constructor(
    spec: KernelSpec,
    kernelProcess: KernelProcess,
    sockets: { shell: Dealer; control: Dealer; iopub: Subscriber },
    signer: MessageSigner,
    connectionDir: string | null,
  ) {
    this.spec = spec;
    this.#process = kernelProcess;
    this.#signer = signer;
    this.#shell = sockets.shell;
    this.#control = sockets.control;
    this.#iopub = sockets.iopub;
    this.#connectionDir = connectionDir;
    this.died = new Promise((resolve) => {
      this.#resolveDied = resolve;
    });
    this.#exited = kernelProcess.exited.then((how) => {
      this.#hasExited = true;
      const detail = how.startsWith('could not') ? `the kernel ${how}` : `the kernel died (${how})`;
      // What the kernel sent before it died is still to be read (the exit can be seen first):
      // read it, so the run knows which cell it was in (cells may have been sent ahead).
      void this.#drained().then(() => this.#die('dead', detail));
    });
    void this.#receive(this.#shell, 'shell');
    void this.#receive(this.#control, 'control');
    void this.#receive(this.#iopub, 'iopub');
  }

  /**
   * Launches kernel `kernelName` and resolves once it answers and its IOPub is connected.
   * Rejects with NoSuchKernelError for an unknown name; the kernel is stopped on any failure.
   */
  static async start(options: LocalKernelOptions): Promise<LocalKernel> {
    const specName = kernelSpecName(options.kernelName);
    const spec = findKernelSpec(specName, options.baseEnv ?? process.env);
    if (spec === null) {
      throw new NoSuchKernelError(
        options.kernelName,
        availableKernels(options.baseEnv ?? process.env),
        'in the kernelspec directories',
      );
    }
    if (needsProvisioner(spec, options.baseEnv ?? process.env)) {
      throw new ProvisionerRequiredError(spec);
    }
    options.signal?.throwIfAborted();
    return await LocalKernel.#readied(await LocalKernel.#launch(spec, options), options.signal);
  }

  /**
   * A kernel already running elsewhere (launched by the caller), reached at `endpoints`;
   * resolves once it answers and its IOPub is connected. `process` is how its end is seen and
   * brought about. The kernel is ended on any failure.
   */
  static async attach(
    spec: KernelSpec,
    endpoints: KernelEndpoints,
    kernelProcess: KernelProcess,
    signal?: AbortSignal,
  ): Promise<LocalKernel> {
    signal?.throwIfAborted();
    const zmq = await import('zeromq');
    const sockets = connectSockets(zmq, endpoints);
    const signer = new MessageSigner(endpoints.key, endpoints.signatureScheme);
    return await LocalKernel.#readied(
      new LocalKernel(spec, kernelProcess, sockets, signer, null),
      signal,
    );
  }

  static async #readied(kernel: LocalKernel, signal: AbortSignal | undefined) {
    try {
      await kernel.#ready(signal);
    } catch (error) {
      await kernel.shutdown();
      throw error;
    }
    return kernel;
  }

  static async #launch(spec: KernelSpec, options: LocalKernelOptions): Promise<LocalKernel> {
    const zmq = await import('zeromq');
    const ports = await freePorts(5);
    const [shellPort, iopubPort, stdinPort, controlPort, hbPort] = ports as [
      number,
      number,
      number,
      number,
      number,
    ];
    const key = randomUUID();
    const connectionDir = mkdtempSync(join(tmpdir(), 'nes-kernel-'));
    const connectionFile = join(connectionDir, `kernel-${randomBytes(6).toString('hex')}.json`);
    const connection = {
      shell_port: shellPort,
      iopub_port: iopubPort,
      stdin_port: stdinPort,
      control_port: controlPort,
      hb_port: hbPort,
      ip: '127.0.0.1',
      key,
      transport: 'tcp',
      signature_scheme: 'hmac-sha256',
      kernel_name: spec.name,
    };
    writeFileSync(connectionFile, JSON.stringify(connection, null, 1), { mode: 0o600 });

    const baseEnv = options.baseEnv ?? process.env;
    const binDir = options.binDir ?? null;
    const python = binDir ? join(binDir, 'python') : null;
    const argv = spec.argv.map((arg) =>
      arg
        .replaceAll('{connection_file}', connectionFile)
        .replaceAll('{resource_dir}', spec.resourceDir),
    );
    // jupyter_client's format_kernel_cmd: a bare `python` means the Python Jupyter runs in.
    if (python && existsSync(python) && /^python(\d+(\.\d+)?)?$/.test(argv[0] ?? '')) {
      argv[0] = python;
    }
    // The kernel's PATH is the caller's, as under papermill (`!python` and `%%bash` reach what
    // the user's shell would); Node's and the environment's directories only come after it.
    const path = [baseEnv.PATH, dirname(process.execPath), binDir].filter(Boolean).join(delimiter);
    const env: NodeJS.ProcessEnv = { ...baseEnv, ...options.env, PATH: path };
    for (const [name, value] of Object.entries(spec.env)) env[name] = substituteEnv(value, env);
    env.JPY_PARENT_PID = String(process.pid);

    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: options.cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own session and process group (jupyter_client's start_new_session): an interrupt
      // or kill reaches the processes the notebook started too.
      detached: true,
    });
    running.add(child);
    const kernelProcess = childKernelProcess(child);
    child.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();

    const url = (port: number) => `tcp://127.0.0.1:${port}`;
    const sockets = connectSockets(zmq, {
      shell: url(shellPort),
      control: url(controlPort),
      iopub: url(iopubPort),
      key,
      signatureScheme: connection.signature_scheme,
    });
    const signer = new MessageSigner(key, connection.signature_scheme);
    return new LocalKernel(spec, kernelProcess, sockets, signer, connectionDir);
  }

  get death(): KernelDeath | null {
    return this.#death;
  }

  get info(): Promise<KernelMessage.IInfoReply> {
    this.#info ??= this.#request(this.#shell, 'kernel_info_request', {}, true).then(
      (reply) => reply.content as KernelMessage.IInfoReply,
    );
    return this.#info;
  }

  /**
   * kernel_info, asked again every INFO_RETRY_MS until answered (as jupyter_client's
   * wait_for_ready does): a request sent while the kernel is starting can be lost, when the
   * connection first reaches whatever else held that port for a moment.
   */
  async #answeredInfo(): Promise<KernelMessage.IInfoReply> {
    for (;;) {
      const asked = this.#request(this.#shell, 'kernel_info_request', {}, true);
      const reply = await Promise.race([asked, delay(INFO_RETRY_MS).then(() => null)]);
      if (reply !== null) return reply.content as KernelMessage.IInfoReply;
      if (this.#death) throw new Error(`the kernel is gone: ${this.#death.detail}`);
      if (this.#closing) throw new Error('the kernel is being shut down');
    }
  }

  /** The kernel answers on shell and its IOPub messages reach this process. */
  async #ready(signal: AbortSignal | undefined): Promise<void> {
    const failed = this.died.then((death) => {
      throw new Error(`kernel '${this.spec.name}' failed to start: ${death.detail}${this.#tail()}`);
    });
    const iopub = new Promise<void>((resolve) => {
      if (this.#iopubSeen) resolve();
      else this.#iopubWaiters.push(resolve);
    });
    const nudge = async () => {
      this.#info ??= this.#answeredInfo();
      await this.#info;
      while (!this.#iopubSeen && !this.#death) {
        await Promise.race([iopub, delay(NUDGE_INTERVAL_MS)]);
        if (!this.#iopubSeen) {
          const asked = this.#request(this.#shell, 'kernel_info_request', {}, true);
          await Promise.race([asked, delay(INFO_RETRY_MS)]);
        }
      }
    };
    await raceAbort(Promise.race([nudge(), failed]), signal);
    const info = await this.info;
    if (isPythonKernel(info)) await this.#setUpPython(info);
  }

  /**
   * Python kernels: keep stream messages small (python/stream_chunking.py), and on an ipykernel
   * this process launched, install the request gate (python/request_gate.py; its stop file is in
   * the private connection directory). Both best effort: a kernel without the gate gets its
   * cells one at a time.
   */
  async #setUpPython(info: KernelMessage.IInfoReply): Promise<void> {
    const silently = (code: string) =>
      this.requestExecute({
        code,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false,
      }).done.catch(() => null);
    const chunking = silently(STREAM_CHUNKING);
    const stopFile = this.#stopFile;
    const gate =
      info.implementation === 'ipython' && stopFile !== null
        ? silently(requestGateCode(stopFile))
        : null;
    const [, gateReply] = await Promise.race([
      Promise.all([chunking, gate]),
      this.died.then(() => [null, null] as const),
    ]);
    this.#gated = gateReply?.content.status === 'ok';
  }

  get #stopFile(): string | null {
    return this.#connectionDir === null ? null : join(this.#connectionDir, 'stop');
  }

  get gated(): boolean {
    return this.#gated;
  }

  closeGate(): void {
    const stopFile = this.#stopFile;
    if (!this.#gated || this.#gateClosed || stopFile === null) return;
    this.#gateClosed = true;
    try {
      writeFileSync(stopFile, '');
    } catch {
      // the directory is gone: shutdown has begun, nothing more will be sent
    }
  }

  requestExecute(
    content: KernelMessage.IExecuteRequestMsg['content'],
    options: { gated?: boolean } = {},
  ): ExecuteRequest {
    const header = requestHeader('execute_request', this.#session);
    let pending!: Pending;
    const done = new Promise<KernelMessage.IExecuteReplyMsg>((resolve) => {
      pending = {
        reply: null,
        idle: false,
        onReply: null,
        resolve: resolve as (reply: KernelMessage.IShellControlMessage) => void,
        replyOnly: false,
      };
    });
    this.#pending.set(header.msg_id, pending);
    this.#send(this.#shell, header, content, options.gated && this.#gated ? GATED_METADATA : {});
    return {
      msgId: header.msg_id,
      done,
      onReply: (handler) => {
        pending.onReply = handler;
        // A request sent ahead may have its reply before anyone asks for it.
        if (pending.reply) handler(pending.reply as KernelMessage.IExecuteReplyMsg);
      },
    };
  }

  onIOPub(handler: (msg: KernelMessage.IIOPubMessage) => void): void {
    this.#iopubHandlers.push(handler);
  }

  async interrupt(): Promise<void> {
    if (this.#hasExited) return;
    // Before the signal: a cell sent ahead that the kernel has not begun must not begin now.
    this.closeGate();
    if (this.spec.interruptMode === 'message' || this.#process.interrupt === undefined) {
      await Promise.race([
        this.#request(this.#control, 'interrupt_request', {}, true),
        this.died,
        delay(SHUTDOWN_WAIT_MS),
      ]);
      return;
    }
    this.#process.interrupt();
  }

  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#hasExited && this.#process.ownerEndsIt) {
      await Promise.race([
        this.#request(this.#control, 'shutdown_request', { restart: false }, true),
        this.#exited,
        delay(SHUTDOWN_WAIT_MS),
      ]);
    } else if (!this.#hasExited) {
      this.#process.hold?.();
      try {
        this.#send(this.#control, requestHeader('shutdown_request', this.#session), {
          restart: false,
        });
      } catch {
        // the socket is gone: the kill below ends the kernel
      }
      const exited = await Promise.race([
        this.#exited.then(() => true),
        delay(SHUTDOWN_WAIT_MS, false),
      ]);
      if (!exited) {
        this.#process.kill();
        await this.#exited;
      }
    }
    for (const socket of [this.#shell, this.#control, this.#iopub]) socket.close();
    if (this.#connectionDir !== null) {
      rmSync(this.#connectionDir, { recursive: true, force: true });
    }
  }

  /** Once no message has arrived for DRAIN_QUIET_MS (at most DRAIN_MAX_MS). */
  async #drained(): Promise<void> {
    const giveUpAt = performance.now() + DRAIN_MAX_MS;
    await delay(DRAIN_QUIET_MS);
    while (performance.now() < giveUpAt) {
      const quiet = performance.now() - this.#lastMessageAt;
      if (quiet >= DRAIN_QUIET_MS) return;
      await delay(DRAIN_QUIET_MS - quiet);
    }
  }

  #die(reason: KernelDeath['reason'], detail: string): void {
    if (this.#death || this.#closing) return;
    this.#death = { reason, detail };
    this.#resolveDied(this.#death);
  }

  #tail(): string {
    const text = this.#process.stderrTail().trim();
    return text ? `:\n${text.split('\n').slice(-20).join('\n')}` : '';
  }

  #send(
    socket: Dealer,
    header: KernelMessage.IHeader,
    content: object,
    metadata: object = {},
  ): void {
    // zeromq allows one send in progress per socket: chain them. Sends queue in ZeroMQ until the
    // kernel is connected; a send that fails means the socket was closed (only shutdown does).
    const frames = encodeMessage(this.#signer, header, content, metadata);
    const previous = this.#sending.get(socket) ?? Promise.resolve();
    const sent = previous.then(() => socket.send(frames)).catch(() => undefined);
    this.#sending.set(socket, sent);
  }

  /** A request whose reply is all that is awaited. */
  #request(
    socket: Dealer,
    msgType: string,
    content: object,
    replyOnly: boolean,
  ): Promise<KernelMessage.IShellControlMessage> {
    const header = requestHeader(msgType, this.#session);
    const reply = new Promise<KernelMessage.IShellControlMessage>((resolve) => {
      this.#pending.set(header.msg_id, {
        reply: null,
        idle: false,
        onReply: null,
        resolve,
        replyOnly,
      });
    });
    this.#send(socket, header, content);
    return reply;
  }

  async #receive(socket: Dealer | Subscriber, channel: Channel): Promise<void> {
    let pendingBytes = 0;
    let pendingMessages = 0;
    try {
      for await (const frames of socket) {
        this.#lastMessageAt = performance.now();
        // A message already queued is handed over without a turn of the event loop, so under a
        // flood of output this loop would never yield: timers (cell timeouts, autosaves) would
        // not fire, and the memory of received messages is only released by finalizers that
        // run between turns (1 GB printed held about 1 GB here). So give the loop a turn every
        // few MB or few hundred messages.
        for (const frame of frames) pendingBytes += frame.length;
        pendingMessages += 1;
        if (pendingBytes >= YIELD_EVERY_BYTES || pendingMessages >= YIELD_EVERY_MESSAGES) {
          pendingBytes = 0;
          pendingMessages = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
        let msg: JupyterMessage | null;
        try {
          msg = decodeMessage(this.#signer, frames, channel);
        } catch {
          continue; // not a Jupyter message: ignored, as jupyter_client does
        }
        if (msg === null) continue; // bad signature
        if (channel === 'iopub') this.#onIOPubMessage(msg as KernelMessage.IIOPubMessage);
        else this.#onReply(msg as KernelMessage.IShellControlMessage);
      }
    } catch {
      // closed
    }
  }

  #onReply(msg: KernelMessage.IShellControlMessage): void {
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
    const pending = parent === undefined ? undefined : this.#pending.get(parent);
    if (!pending) return;
    pending.reply = msg;
    if (pending.replyOnly) {
      this.#pending.delete(parent as string);
      pending.resolve(msg);
      return;
    }
    pending.onReply?.(msg as KernelMessage.IExecuteReplyMsg);
    this.#settle(parent as string, pending);
  }

  #onIOPubMessage(msg: KernelMessage.IIOPubMessage): void {
    if (!this.#iopubSeen) {
      this.#iopubSeen = true;
      for (const resolve of this.#iopubWaiters.splice(0)) resolve();
    }
    for (const handler of this.#iopubHandlers) handler(msg);
    if (msg.header.msg_type !== 'status') return;
    if ((msg.content as { execution_state?: string }).execution_state !== 'idle') return;
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id;
    const pending = parent === undefined ? undefined : this.#pending.get(parent);
    if (!pending) return;
    pending.idle = true;
    this.#settle(parent as string, pending);
  }

  #settle(msgId: string, pending: Pending): void {
    if (pending.reply === null || !pending.idle) return;
    this.#pending.delete(msgId);
    pending.resolve(pending.reply);
  }
}

/**
 * Shell and control as DEALER sockets, IOPub as a SUB socket, connecting to the kernel's
 * endpoints. A kernel binds its sockets a moment after it starts: ZeroMQ retries every 10 ms.
 */
function connectSockets(
  zmq: typeof import('zeromq'),
  endpoints: KernelEndpoints,
): { shell: Dealer; control: Dealer; iopub: Subscriber } {
  const socketOptions = { linger: 0, reconnectInterval: 10, reconnectMaxInterval: 100 };
  const shell = new zmq.Dealer({ ...socketOptions, routingId: randomUUID() });
  const control = new zmq.Dealer(socketOptions);
  const iopub = new zmq.Subscriber({
    ...socketOptions,
    receiveHighWaterMark: IOPUB_QUEUE_MESSAGES,
  });
  shell.connect(endpoints.shell);
  control.connect(endpoints.control);
  iopub.connect(endpoints.iopub);
  iopub.subscribe();
  return { shell, control, iopub };
}

/** `${NAME}` in a kernelspec's env values, from the kernel's environment (jupyter_client 7+). */
function substituteEnv(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (whole, name: string) => env[name] ?? whole,
  );
}

/** `count` distinct free loopback ports (held together while chosen, so never the same twice). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      const address = server.address();
      ports.push(typeof address === 'object' && address ? address.port : 0);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

function delay<T = void>(ms: number, value?: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value as T), ms).unref());
}
