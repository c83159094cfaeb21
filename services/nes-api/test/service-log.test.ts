/**
 * Structured logs: with NES_LOG_FORMAT=json every service line is a JSON object with its level,
 * component and the run id it names, and the HTTP request log of a run's routes carries the
 * run id too (the service spawned as `nes serve` runs it).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { logFormat, serviceLog, structuredLine } from '../src/service-log.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { spawnService } from './service-support.ts';

describe('service log lines', () => {
  test('fields are lifted from the line: component, level, run id', () => {
    const now = new Date('2026-12-06T10:00:00.000Z');
    assert.deepEqual(
      structuredLine('nes executor warn: run 01kbx3v6q7m8n9p0r1s2t3v4w5: The runner died', now),
      {
        time: '2026-12-06T10:00:00.000Z',
        level: 'warn',
        component: 'executor',
        msg: 'run 01kbx3v6q7m8n9p0r1s2t3v4w5: The runner died',
        runId: '01kbx3v6q7m8n9p0r1s2t3v4w5',
      },
    );
    assert.deepEqual(structuredLine('nes: listening on http://127.0.0.1:1', now), {
      time: '2026-12-06T10:00:00.000Z',
      level: 'info',
      component: 'service',
      msg: 'listening on http://127.0.0.1:1',
    });
    assert.equal(structuredLine('run ABC is not an id', now).runId, undefined);
    const lines: string[] = [];
    serviceLog('json', (text) => lines.push(text))('nes scheduler error: boom');
    assert.equal(JSON.parse(lines[0] ?? '').level, 'error');
    serviceLog('text', (text) => lines.push(text))('nes scheduler error: boom');
    assert.equal(lines[1], 'nes scheduler error: boom\n');
    assert.throws(() => logFormat('yaml'), /NES_LOG_FORMAT: expected text or json/);
  });

  test('the service logs JSON lines, and a run route request carries the run id', async () => {
    const ws = workspace();
    const nb = writeNotebook(ws.notebooks, 'logged.ipynb', ['x = 1']);
    const service = await spawnService({
      NES_DATA_DIR: `${ws.root}/data`,
      NES_NOTEBOOK_ROOTS: ws.notebooks,
      NES_LOG_FORMAT: 'json',
      NES_LOG_LEVEL: 'info',
    });
    try {
      const run = await service.api.submit({ notebook: nb });
      await service.api.waitTerminal(run.id, 120_000);
      const deadline = Date.now() + 10_000;
      let lines: Array<Record<string, unknown>> = [];
      while (Date.now() < deadline) {
        lines = service
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line));
        if (lines.some((l) => l.runId === run.id)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const text = service
        .stderr()
        .split('\n')
        .filter((line) => line.trim() !== '');
      assert.ok(
        text.every((line) => line.startsWith('{')),
        `every line is JSON:\n${text.slice(0, 5).join('\n')}`,
      );
      const request = lines.find((l) => l.runId === run.id && l.res !== undefined);
      assert.ok(request, 'a request to the run route logged with its run id');
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  });
});
