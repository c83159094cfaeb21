/**
 * Structured logs: with NES_LOG_FORMAT=json every service line is a JSON object with its level
 * and component, and every line about a run carries the run id as a field given where it is
 * logged (never read out of the text): a timed-out run's refused webhook deliveries and the HTTP
 * request log of its routes in the service spawned as `nes serve` runs it, and every log call in
 * the source that names a run (the scheduler's and executors' lines are failure paths).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { logFormat, serviceLog, structuredLine } from '../src/service-log.ts';
import { Receiver } from './notification-receiver.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { spawnService } from './service-support.ts';

describe('service log lines', () => {
  test('component and level come from the line, the run id from the fields given', () => {
    const now = new Date('2026-12-06T10:00:00.000Z');
    assert.deepEqual(
      structuredLine(
        'nes executor warn: run 01kbx3v6q7m8n9p0r1s2t3v4w5: The runner died',
        { runId: '01kbx3v6q7m8n9p0r1s2t3v4w5' },
        now,
      ),
      {
        time: '2026-12-06T10:00:00.000Z',
        level: 'warn',
        component: 'executor',
        msg: 'run 01kbx3v6q7m8n9p0r1s2t3v4w5: The runner died',
        runId: '01kbx3v6q7m8n9p0r1s2t3v4w5',
      },
    );
    assert.deepEqual(structuredLine('nes: listening on http://127.0.0.1:1', {}, now), {
      time: '2026-12-06T10:00:00.000Z',
      level: 'info',
      component: 'service',
      msg: 'listening on http://127.0.0.1:1',
    });
    // The run id is a field given where the line is logged, never read out of the text.
    assert.equal(
      structuredLine('nes executor warn: run 01kbx3v6q7m8n9p0r1s2t3v4w5: x', {}, now).runId,
      undefined,
    );
    const lines: string[] = [];
    serviceLog('json', (text) => lines.push(text))('nes scheduler error: boom');
    assert.equal(JSON.parse(lines[0] ?? '').level, 'error');
    serviceLog('text', (text) => lines.push(text))('nes scheduler error: boom');
    assert.equal(lines[1], 'nes scheduler error: boom\n');
    assert.throws(() => logFormat('yaml'), /NES_LOG_FORMAT: expected text or json/);
  });

  test('every log call that names a run passes its id as a field', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    // A log call whose message names a run: `log(...'run ${id}...`...)` up to the call's end.
    const call =
      /\b(?:log|#log|log\?\.)\(\s*(?:'(?:info|warn|error)',\s*)?`[^`]*\brun \$\{[^`]*`([^;]*);/g;
    const found: string[] = [];
    const missing: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(src, file), 'utf8');
      for (const match of text.matchAll(call)) {
        found.push(file);
        if (!/\brunId\b/.test(match[1] ?? '')) missing.push(`${file}: ${match[0].slice(0, 120)}`);
      }
    }
    assert.ok(found.length >= 10, `the scan found ${found.length} log calls naming a run`);
    assert.deepEqual(missing, [], 'log calls naming a run without a runId field');
  });

  test('the lines about a run carry its id: its deliveries, its routes', async () => {
    const ws = workspace();
    const nb = writeNotebook(ws.notebooks, 'logged.ipynb', ['import time\ntime.sleep(120)']);
    const receiver = new Receiver();
    receiver.status = 500;
    await receiver.start();
    const service = await spawnService({
      NES_DATA_DIR: `${ws.root}/data`,
      NES_NOTEBOOK_ROOTS: ws.notebooks,
      NES_LOG_FORMAT: 'json',
      NES_LOG_LEVEL: 'info',
      NES_NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      NES_NOTIFY_BACKOFF_MS: '50',
    });
    try {
      const subscribed = await service.api.request('POST', '/v1/notifications/subscriptions', {
        name: 'all',
        events: ['timed_out', 'cancelled', 'failed'],
        target: { kind: 'webhook', url: `${receiver.url}/hook` },
      });
      assert.equal(subscribed.status, 201, subscribed.text);
      const run = await service.api.submit({ notebook: nb, timeoutSeconds: 1 });
      await service.api.waitTerminal(run.id, 120_000);
      const parsed = () =>
        service
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      const deadline = Date.now() + 120_000;
      let lines = parsed();
      const about = (l: Record<string, unknown>) => l.runId === run.id;
      while (
        !(
          lines.some((l) => about(l) && l.component === 'notifications') &&
          lines.some((l) => about(l) && l.res !== undefined)
        )
      ) {
        assert.ok(
          Date.now() < deadline,
          `no delivery and request lines with the run id:\n${service.stderr().slice(-3000)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        lines = parsed();
      }
      const text = service
        .stderr()
        .split('\n')
        .filter((line) => line.trim() !== '');
      assert.ok(
        text.every((line) => line.startsWith('{')),
        `every line is JSON:\n${text.slice(0, 5).join('\n')}`,
      );
      // Every line that mentions the run anywhere (its text, the request URL, the event id) has
      // the field, and the field names the right run.
      const mentioning = lines.filter((l) => JSON.stringify(l).includes(run.id));
      assert.ok(mentioning.length >= 2);
      for (const line of mentioning) assert.equal(line.runId, run.id, JSON.stringify(line));
      // A delivery line does not name the run in its text: the field is how it is found.
      const delivery = lines.find((l) => about(l) && l.component === 'notifications');
      assert.ok(delivery && !String(delivery.msg).includes(run.id), JSON.stringify(delivery));
      assert.ok(delivery.deliveryId !== undefined && delivery.eventId !== undefined);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
      await receiver.down();
    }
  });
});
