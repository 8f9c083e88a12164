import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';

/**
 * Replays recorded histories of representative runs (pretrain, retrain, a fully reused retrain, a
 * failed one) against the current workflow code: a change that would alter the commands of a
 * running workflow fails here and must be guarded with `patched()`.
 */
const DIR = join(__dirname, '..', '..', '..', 'test', 'histories');

void test('recorded workflow histories replay without non-determinism', async () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.history.bin'));
  assert.ok(files.length >= 3, `expected recorded histories in ${DIR}`);
  const histories = files.map((f) => ({ workflowId: f.replace(/\.history\.bin$/, ''), history: temporal.api.history.v1.History.decode(readFileSync(join(DIR, f))) }));
  const results = [];
  for await (const r of Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows') }, histories)) results.push(r);
  assert.equal(results.length, files.length);
  for (const r of results) assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
});
