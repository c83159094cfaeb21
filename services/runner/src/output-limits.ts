/**
 * Output caps. A notebook that prints without end must neither fill the output store nor the
 * runner's memory: past a cap, output is counted and dropped, and a visible note says how much.
 *
 * Defaults: 10 MiB per output (a 10 MB log or a large image fits) and 50 MiB per notebook
 * (notebook viewers struggle long before that). Memory follows from them: saving a notebook costs
 * a few times its size while it is serialized, so a notebook printing 1 GB keeps the runner
 * under 300 MB resident; the 64 MiB message cap (kernel-session.ts) bounds a single message.
 */
import type { MimeBundle, Output, StreamOutput } from '@nes/notebook';
import type { OutputLimits } from './execution-types.ts';

const MiB = 1024 * 1024;

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = {
  perOutputBytes: 10 * MiB,
  perNotebookBytes: 50 * MiB,
};

/**
 * Rich outputs (display_data, execute_result) one notebook keeps; later ones are dropped like
 * output past the notebook cap, with the same note. Each output costs memory and serialization
 * work beyond its bytes (its objects, nbformat's framing): 100,000 one-character displays took the
 * runner to 370 MB while their data was under 1 MB. No notebook viewer shows that many anyway.
 */
export const MAX_RICH_OUTPUTS = 10_000;

export function resolveOutputLimits(limits: Partial<OutputLimits> | undefined): OutputLimits {
  const resolved = { ...DEFAULT_OUTPUT_LIMITS, ...limits };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`limits.${key} must be a non-negative number of bytes, got ${value}`);
    }
  }
  return resolved;
}

/** The note that replaces dropped output. */
export function truncationNote(droppedBytes: number, reason: 'output' | 'notebook'): string {
  const limit = reason === 'output' ? 'per-output limit' : 'notebook output limit';
  return `\n[NES: output truncated: ${droppedBytes} bytes dropped (${limit} reached)]\n`;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The longest prefix of `text` that is at most `maxBytes` long in UTF-8. */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  if (byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  // A multi-byte character cut in half decodes as U+FFFD: leave it out.
  return cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut;
}

function bundleBytes(data: MimeBundle): number {
  let total = 0;
  for (const value of Object.values(data)) {
    total += byteLength(typeof value === 'string' ? value : JSON.stringify(value));
  }
  return total;
}

function outputBytes(output: Output): number {
  switch (output.output_type) {
    case 'stream':
      return byteLength(output.text);
    case 'error':
      return (
        byteLength(output.ename) + byteLength(output.evalue) + bundleBytes({ tb: output.traceback })
      );
    default:
      return bundleBytes(output.data);
  }
}

interface TruncatedStream {
  kept: string;
  dropped: number;
  reason: 'output' | 'notebook';
}

/**
 * Byte accounting for the outputs of one notebook. It decides what is kept; the caller
 * (OutputCollector) owns the outputs themselves.
 */
export class OutputBudget {
  readonly limits: OutputLimits;
  #used = 0;
  #richCount = 0;
  #sizes = new WeakMap<Output, number>();
  #rich = new WeakSet<Output>();
  #truncated = new WeakMap<StreamOutput, TruncatedStream>();

  constructor(limits: OutputLimits) {
    this.limits = limits;
  }

  /** Bytes currently held by kept outputs. */
  get usedBytes(): number {
    return this.#used;
  }

  /** True once the notebook cap is reached: nothing more is kept. */
  get notebookFull(): boolean {
    return this.#used >= this.limits.perNotebookBytes;
  }

  /** Whether this stream output already dropped text (further text is only counted). */
  isTruncated(output: StreamOutput): boolean {
    return this.#truncated.has(output);
  }

  #room(current: number): number {
    return Math.max(
      0,
      Math.min(this.limits.perOutputBytes - current, this.limits.perNotebookBytes - this.#used),
    );
  }

  #reasonFor(current: number): 'output' | 'notebook' {
    return this.limits.perOutputBytes - current <= this.limits.perNotebookBytes - this.#used
      ? 'output'
      : 'notebook';
  }

  /** Appends stream text to `output` within the caps; past them, counts and notes the excess. */
  appendStream(output: StreamOutput, chunk: string): void {
    const truncated = this.#truncated.get(output);
    if (truncated) {
      truncated.dropped += byteLength(chunk);
      output.text = truncated.kept + truncationNote(truncated.dropped, truncated.reason);
      return;
    }
    const current = this.#sizes.get(output) ?? 0;
    const chunkBytes = byteLength(chunk);
    const room = this.#room(current);
    if (chunkBytes <= room) {
      output.text += chunk;
      this.#sizes.set(output, current + chunkBytes);
      this.#used += chunkBytes;
      return;
    }
    const reason = this.#reasonFor(current);
    const prefix = utf8Prefix(chunk, room);
    const prefixBytes = byteLength(prefix);
    const state: TruncatedStream = {
      kept: output.text + prefix,
      dropped: chunkBytes - prefixBytes,
      reason,
    };
    this.#truncated.set(output, state);
    this.#sizes.set(output, current + prefixBytes);
    this.#used += prefixBytes;
    output.text = state.kept + truncationNote(state.dropped, reason);
  }

  /** Whether a new rich output of `bytes` fits; if so it is counted as kept. */
  admit(
    output: Output,
  ): { ok: true } | { ok: false; bytes: number; reason: 'output' | 'notebook' } {
    const bytes = outputBytes(output);
    if (output.output_type === 'error') {
      // Errors are what a failed run is read for: always kept.
      this.#track(output, bytes);
      return { ok: true };
    }
    if (bytes > this.limits.perOutputBytes) return { ok: false, bytes, reason: 'output' };
    if (this.#used + bytes > this.limits.perNotebookBytes) {
      return { ok: false, bytes, reason: 'notebook' };
    }
    const rich = output.output_type === 'display_data' || output.output_type === 'execute_result';
    if (rich && this.#richCount >= MAX_RICH_OUTPUTS) {
      return { ok: false, bytes, reason: 'notebook' };
    }
    if (rich) {
      this.#richCount += 1;
      this.#rich.add(output);
    }
    this.#track(output, bytes);
    return { ok: true };
  }

  /** Re-counts an output whose data was replaced (update_display_data). False: over a cap. */
  replaceData(output: Output, data: MimeBundle): boolean {
    const old = this.#sizes.get(output) ?? 0;
    const bytes = bundleBytes(data);
    if (bytes > this.limits.perOutputBytes) return false;
    if (this.#used - old + bytes > this.limits.perNotebookBytes) return false;
    this.#used += bytes - old;
    this.#sizes.set(output, bytes);
    return true;
  }

  /** Outputs removed by clear_output give their bytes back. */
  release(outputs: Iterable<Output>): void {
    for (const output of outputs) {
      this.#used -= this.#sizes.get(output) ?? 0;
      this.#sizes.delete(output);
      if (this.#rich.delete(output)) this.#richCount -= 1;
    }
  }

  #track(output: Output, bytes: number): void {
    this.#sizes.set(output, bytes);
    this.#used += bytes;
  }
}
