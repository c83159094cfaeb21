/**
 * One OpenTelemetry trace per run, exported with the OpenTelemetry JS SDK's OTLP/HTTP exporter
 * to a local stand-in collector (an HTTP server taking POST /v1/traces in OTLP's JSON encoding,
 * the exporter's default): submit -> claim -> launch -> kernel start -> each cell -> save, all
 * children of the run's span, with the run id, notebook and status as attributes.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type StartedService, startService } from '../src/service.ts';
import { cellTimings, tracesEndpoint } from '../src/tracing/run-traces.ts';
import { until } from './notification-receiver.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { Api } from './service-support.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string } }>;
  status?: { code?: number };
}

/** The part of an OTLP/HTTP collector the exporter talks to. */
class Collector {
  readonly spans: OtlpSpan[] = [];
  readonly contentTypes: string[] = [];
  #server: Server | null = null;
  url = '';
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        this.contentTypes.push(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const resource of body.resourceSpans ?? []) {
          for (const scope of resource.scopeSpans ?? []) this.spans.push(...(scope.spans ?? []));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }
}

const attr = (span: OtlpSpan | undefined, key: string) => {
  const value = span?.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
};

describe('traces', () => {
  test('the endpoint comes from the standard OTLP variables', () => {
    assert.equal(tracesEndpoint({}), null);
    assert.equal(
      tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }),
      'http://c:4318/v1/traces',
    );
    assert.equal(
      tracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x',
      }),
      'http://t/x',
    );
  });

  test("cell spans come from papermill's times (UTC), numbered as the author counts", () => {
    const cell = (start: string, end: string, tags: string[] = []) => ({
      cell_type: 'code',
      metadata: { tags, papermill: { start_time: start, end_time: end, status: 'completed' } },
    });
    const timings = cellTimings({
      cells: [
        cell('2026-12-06T10:00:00.000000', '2026-12-06T10:00:01.000000'),
        cell('2026-12-06T10:00:01.000000', '2026-12-06T10:00:01.500000', ['injected-parameters']),
        { cell_type: 'markdown', metadata: {} },
        cell('2026-12-06T10:00:02.000000', '2026-12-06T10:00:03.000000'),
      ],
    });
    assert.deepEqual(
      timings.map((t) => [t.number, t.index, t.start]),
      [
        [1, 0, Date.UTC(2026, 11, 6, 10, 0, 0)],
        [0, 1, Date.UTC(2026, 11, 6, 10, 0, 1)],
        [2, 3, Date.UTC(2026, 11, 6, 10, 0, 2)],
      ],
    );
  });

  const ws = workspace();
  const nb = writeNotebook(ws.notebooks, 'traced.ipynb', [
    'n = 1',
    'import time; time.sleep(0.2)',
    'print(n)',
  ]);
  const collector = new Collector();
  let service: StartedService;
  let api: Api;
  before(async () => {
    await collector.start();
    service = await startService({
      env: {
        NES_DATA_DIR: `${ws.root}/data`,
        NES_PORT: '0',
        NES_NOTEBOOK_ROOTS: ws.notebooks,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      },
      log: () => undefined,
      executor: { warmKernels: { python3: 1 } },
      tracesDelayMs: 100,
    });
    api = new Api(service.url, service.adminToken);
  });
  after(async () => {
    await service?.close(5000);
    await collector.stop();
  });

  test('a run is one trace: queued, launch, kernel start, each cell, save under the run', async () => {
    const submitted = await api.submit({ notebook: nb, parameters: { n: 2 } });
    const run = await api.waitTerminal(submitted.id, 120_000);
    assert.equal(run.status, 'succeeded');
    const root = await until('the run span', () =>
      collector.spans.find((s) => s.name === 'run' && attr(s, 'nes.run.id') === run.id),
    );
    const children = await until('its children', () => {
      const found = collector.spans.filter((s) => s.parentSpanId === root.spanId);
      return found.length >= 7 ? found : null;
    });
    assert.deepEqual(
      children.map((s) => s.name).sort(),
      [
        'cell (injected parameters)',
        'cell 1',
        'cell 2',
        'cell 3',
        'kernel start',
        'launch',
        'queued',
        'save',
      ].sort(),
    );
    assert.ok(children.every((s) => s.traceId === root.traceId));
    assert.equal(attr(root, 'nes.notebook'), nb);
    assert.equal(attr(root, 'nes.status'), 'succeeded');
    const ns = (s: OtlpSpan | undefined, which: 'start' | 'end') =>
      BigInt(which === 'start' ? (s?.startTimeUnixNano ?? '0') : (s?.endTimeUnixNano ?? '0'));
    const byName = (name: string) => children.find((s) => s.name === name);
    const order = ['queued', 'launch', 'kernel start', 'cell 1', 'cell 2', 'cell 3', 'save'].map(
      byName,
    );
    for (let i = 1; i < order.length; i++) {
      assert.ok(
        ns(order[i], 'start') >= ns(order[i - 1], 'start'),
        `${order[i]?.name} after ${order[i - 1]?.name}`,
      );
    }
    assert.ok(
      ns(root, 'start') <= ns(order[0], 'start') && ns(root, 'end') >= ns(byName('save'), 'end'),
    );
    const sleeping = byName('cell 2');
    assert.ok(
      ns(sleeping, 'end') - ns(sleeping, 'start') >= 150_000_000n,
      'the sleeping cell takes its time',
    );
    assert.ok(collector.contentTypes.every((t) => t.startsWith('application/json')));
  });
});
