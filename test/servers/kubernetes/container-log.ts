/**
 * A container's log as the kubelet keeps it (CRI log files): every line of stdout and stderr
 * with the nanosecond time it arrived, readable with the pods/log options (timestamps,
 * sinceTime, sinceSeconds, tailLines, limitBytes, stream) and followable until the container
 * ends.
 */

export interface LogLine {
  /** Nanoseconds since the epoch, strictly increasing within one log. */
  nanos: bigint;
  stream: 'stdout' | 'stderr';
  /** Without the newline. */
  text: string;
}

export interface LogQuery {
  timestamps: boolean;
  /** Nanoseconds since the epoch; lines before it are skipped. */
  sinceNanos?: bigint;
  tailLines?: number;
  limitBytes?: number;
  stream?: 'stdout' | 'stderr';
}

let lastNanos = 0n;

/** Wall-clock nanoseconds, strictly increasing across the process (ties broken by +1 ns). */
export function nowNanos(): bigint {
  const wall = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  lastNanos = wall > lastNanos ? wall : lastNanos + 1n;
  return lastNanos;
}

/**
 * The kubelet's log timestamps: RFC 3339 with always nine fractional digits (its
 * RFC3339NanoFixed, not Go's RFC3339Nano, which trims trailing zeros).
 */
export function formatRfc3339Nano(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  const base = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d+Z$/, '');
  return `${base}.${fraction}Z`;
}

/** Parses RFC 3339 with up to nine fractional digits into epoch nanoseconds. */
export function parseRfc3339(text: string): bigint | null {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(
    text,
  );
  if (!match) return null;
  const [, base = '', fraction = '', zone = 'Z'] = match;
  const millis = Date.parse(`${base}${zone}`);
  if (Number.isNaN(millis)) return null;
  return BigInt(millis) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

export class ContainerLog {
  readonly lines: LogLine[] = [];
  #ended = false;
  readonly #followers = new Set<(line: LogLine | null) => void>();
  readonly #partial = { stdout: '', stderr: '' };

  get ended(): boolean {
    return this.#ended;
  }

  /** Appends raw output; complete lines become log lines at once. */
  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.#partial[stream] + chunk;
    const parts = text.split('\n');
    this.#partial[stream] = parts.pop() ?? '';
    for (const part of parts) this.#push(stream, part);
  }

  /** The container stopped: flush partial lines and release followers. */
  end(): void {
    if (this.#ended) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#push(stream, this.#partial[stream]);
      this.#partial[stream] = '';
    }
    this.#ended = true;
    for (const follower of this.#followers) follower(null);
    this.#followers.clear();
  }

  /** Calls `onLine` for each new line, then with null when the log ends; returns unfollow. */
  follow(onLine: (line: LogLine | null) => void): () => void {
    if (this.#ended) {
      onLine(null);
      return () => {};
    }
    this.#followers.add(onLine);
    return () => this.#followers.delete(onLine);
  }

  select(query: LogQuery): LogLine[] {
    let lines = this.lines.filter(
      (line) =>
        (query.sinceNanos === undefined || line.nanos >= query.sinceNanos) &&
        (query.stream === undefined || line.stream === query.stream),
    );
    if (query.tailLines !== undefined)
      lines = query.tailLines === 0 ? [] : lines.slice(-query.tailLines);
    return lines;
  }

  /** The text tail used by FallbackToLogsOnError: at most `lines` lines and `bytes` bytes. */
  tail(lines: number, bytes: number): string {
    const text = this.lines
      .slice(-lines)
      .map((line) => `${line.text}\n`)
      .join('');
    const buffer = Buffer.from(text);
    return buffer.length <= bytes ? text : buffer.subarray(buffer.length - bytes).toString();
  }

  #push(stream: 'stdout' | 'stderr', text: string): void {
    const line: LogLine = { nanos: nowNanos(), stream, text };
    this.lines.push(line);
    for (const follower of this.#followers) follower(line);
  }
}

export function renderLine(line: LogLine, timestamps: boolean): string {
  return timestamps ? `${formatRfc3339Nano(line.nanos)} ${line.text}\n` : `${line.text}\n`;
}
