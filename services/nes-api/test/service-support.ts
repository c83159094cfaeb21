/** What the service tests share: a small HTTP client for the real API and waiting on runs. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ApiRunBody {
  id: string;
  status: string;
  parameters: Record<string, unknown>;
  progress: { cellsDone: number; cellsTotal: number; currentCell: number | null };
  error: { class: string; ename: string; evalue: string } | null;
  outputUri: string | null;
  links: { self: string; notebook: string; viewer: string };
}

export const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];

export class Api {
  readonly url: string;
  readonly token: string;
  constructor(url: string, token: string) {
    this.url = url;
    this.token = token;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; text: string }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (SSE, HTML)
    }
    return { status: response.status, body: parsed as T, text };
  }

  async submit(body: Record<string, unknown>): Promise<ApiRunBody> {
    const response = await this.request<ApiRunBody>('POST', '/v1/runs', body);
    assert.equal(response.status, 201, response.text);
    return response.body;
  }

  async run(id: string): Promise<ApiRunBody> {
    const response = await this.request<ApiRunBody>('GET', `/v1/runs/${id}`);
    assert.equal(response.status, 200, response.text);
    return response.body;
  }

  // biome-ignore lint/suspicious/noExplicitAny: notebook JSON, inspected field by field
  async notebook(id: string): Promise<any> {
    const response = await this.request('GET', `/v1/runs/${id}/notebook`);
    assert.equal(response.status, 200, response.text);
    return response.body;
  }

  async waitFor(
    id: string,
    done: (run: ApiRunBody) => boolean,
    timeoutMs = 60_000,
  ): Promise<ApiRunBody> {
    const giveUp = performance.now() + timeoutMs;
    for (;;) {
      const run = await this.run(id);
      if (done(run)) return run;
      if (performance.now() > giveUp) {
        throw new Error(`run ${id} did not get there in time: ${JSON.stringify(run)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  waitTerminal(id: string, timeoutMs = 60_000): Promise<ApiRunBody> {
    return this.waitFor(id, (run) => TERMINAL.includes(run.status), timeoutMs);
  }
}

/** Text of every stream output of a notebook's code cells. */
// biome-ignore lint/suspicious/noExplicitAny: notebook JSON
export function printed(notebook: any): string {
  return (
    notebook.cells
      // biome-ignore lint/suspicious/noExplicitAny: notebook JSON
      .flatMap((cell: any) => (cell.cell_type === 'code' ? cell.outputs : []))
      // biome-ignore lint/suspicious/noExplicitAny: notebook JSON
      .map((output: any) =>
        output.output_type === 'stream'
          ? Array.isArray(output.text)
            ? output.text.join('')
            : output.text
          : '',
      )
      .join('')
  );
}

export interface ServiceProcess {
  child: ChildProcess;
  api: Api;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const CHILD = fileURLToPath(new URL('./service-child.ts', import.meta.url));

/** `startService` in a child process (as `nes serve` runs it), on port 0. */
export async function spawnService(env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, NES_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = await new Promise<{ url: string; adminToken: string }>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`the service exited (${signal ?? code}) before it started:\n${err}`)),
    );
  });
  return { child, api: new Api(started.url, started.adminToken), stderr: () => err, exited };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** A run's event stream, read to its end (the API ends it after a terminal status). */
export async function runEvents(api: Api, id: string): Promise<SseEvent[]> {
  const response = await api.request('GET', `/v1/runs/${id}/events`);
  assert.equal(response.status, 200);
  return response.text
    .split('\n\n')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      return event === undefined ? null : { event, data: data === '' ? null : JSON.parse(data) };
    })
    .filter((e): e is SseEvent => e !== null);
}
