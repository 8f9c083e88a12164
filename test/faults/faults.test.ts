import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { CancelledFailure, Client, Connection, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadStackConfig, startMinio, startTemporal, stopService } from '../../infra/stack';
import { loadTf } from '../../lib/tf/backend';
import { loadModelFrom, modelLocationFromUri } from '../../lib/model/model-io';
import { ModelRegistry, versionPrefix } from '../../lib/registry/registry';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { getJson } from '../../lib/storage/blob-store';
import type { RetrainOutcome, RetrainProgress } from '../../workflows/retrain';
import { CPU_TASK_QUEUE } from '../../workflows/shared';
import { freshBucket, s3Client, seedSlice, tinySpec } from '../helpers/services';

/**
 * Real faults against real processes: worker processes are SIGKILLed, the Temporal dev server and
 * MinIO are stopped and restarted (same state), and every run must still complete with exactly one
 * valid promotion. Run with `npm run test:faults` (also part of CI).
 */
const ROOT = join(__dirname, '..', '..', '..');
const cfg = loadStackConfig(process.env);
const log = (m: string) => console.log(`  [faults] ${m}`);
let s3: S3Client;
let store: S3BlobStore;
let labelAsset = 'cwru-rig';
const workers = new Map<'cpu-worker' | 'gpu-worker', ChildProcess>();

function startWorker(kind: 'cpu-worker' | 'gpu-worker'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'workers', `${kind}.js`)], {
    env: { ...process.env, PDM_BUCKET: store.bucket, PDM_CODE_VERSION: 'faults' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.set(kind, child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(`${kind} ready`)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`${kind} exited (${code ?? signal}) before ready:\n${seen.slice(-2000)}`)));
  });
}

function kill9(kind: 'cpu-worker' | 'gpu-worker'): void {
  const child = workers.get(kind);
  assert.ok(child?.pid, `${kind} is not running`);
  process.kill(child.pid, 'SIGKILL');
  workers.delete(kind);
}

async function withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  try {
    return await fn(new Client({ connection }));
  } finally {
    await connection.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      /* the server may be restarting */
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Epochs checkpointed by the training in progress (finished trainings delete their checkpoints). */
async function checkpointedEpochs(): Promise<number> {
  const states = (await store.list('artifacts/checkpoints/')).filter((o) => o.key.endsWith('/state.json'));
  let max = 0;
  for (const s of states) {
    const v = await getJson<{ progress: { history: unknown[] } }>(store, s.key);
    max = Math.max(max, v?.value.progress.history.length ?? 0);
  }
  return max;
}

const backboneSpec = (asset: string, epochs: number, seed = 7) =>
  tinySpec({
    assetId: asset,
    modelName: asset,
    prefixes: ['recordings/cwru-load1/', 'recordings/cwru-load2/'],
    labelAsset,
    window: { length: 256, hop: 512 },
    training: { epochs, patience: epochs, learningRate: 0.003, batchSize: 32, seed },
  });

async function start(client: Client, id: string, spec: ReturnType<typeof tinySpec>, force = false): Promise<WorkflowHandle> {
  return client.workflow.start('PretrainWorkflow', { taskQueue: CPU_TASK_QUEUE, workflowId: id, args: [spec, { force }] });
}

/** The promoted model is complete, loads, and `production` was moved exactly once, by this run. */
async function assertSinglePromotion(model: string, out: RetrainOutcome, workflowId: string): Promise<void> {
  assert.equal(out.promotion.promoted, true, JSON.stringify(out.validation.gates));
  const registry = new ModelRegistry(store);
  const alias = await registry.getAlias(model, 'production');
  assert.equal(alias?.doc.version, out.promotion.version);
  assert.equal(alias?.doc.previous, null, 'production was moved once');
  assert.deepEqual((alias?.doc.updatedBy as { workflowId: string }).workflowId, workflowId);
  assert.equal((await registry.listVersions(model)).length, 1);
  const card = await registry.getCard(model, out.promotion.version);
  const { model: loaded } = await loadModelFrom(loadTf(), modelLocationFromUri(`s3://${store.bucket}/${versionPrefix(model, out.promotion.version)}`, () => store), card!.digest);
  loaded.dispose();
}

before(async () => {
  s3 = s3Client();
  store = await freshBucket(s3, 'faults');
  labelAsset = (await seedSlice(store, [1, 2])).labelAsset;
  await Promise.all([startWorker('cpu-worker'), startWorker('gpu-worker')]);
});

after(() => {
  for (const w of workers.values()) w.kill('SIGKILL');
  s3?.destroy();
});

void test('a) GPU worker killed with SIGKILL mid-training: the retry resumes from the last epoch', async () => {
  const epochs = 6;
  await withClient(async (client) => {
    // Uninterrupted reference with another seed (the same seed would be served from the step cache).
    const baseline = (await (await start(client, 'faults-baseline', backboneSpec('f-baseline', epochs, 8))).result()) as RetrainOutcome;
    assert.equal(await checkpointedEpochs(), 0, 'a finished training leaves no checkpoint behind');
    const handle = await start(client, 'faults-kill-gpu', backboneSpec('f-kill-gpu', epochs));
    const t0 = Date.now();
    const k = await until('epoch 2 checkpoint', async () => {
      const n = await checkpointedEpochs();
      return n >= 2 && (await handle.query<RetrainProgress>('progress')).step === 'fineTune' ? n : undefined;
    });
    await sleep(300); // into epoch k+1
    kill9('gpu-worker');
    const killedAt = Date.now();
    log(`killed gpu-worker after ${k} checkpointed epochs (${((killedAt - t0) / 1000).toFixed(1)} s into the run)`);
    await startWorker('gpu-worker');
    const out = (await handle.result()) as RetrainOutcome;
    log(`resumed after epoch ${out.training.resumedFromEpoch}; finished ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill; accuracy ${out.validation.challenger.accuracy.toFixed(3)} vs uninterrupted ${baseline.validation.challenger.accuracy.toFixed(3)}`);
    assert.ok(out.training.resumedFromEpoch !== null && out.training.resumedFromEpoch >= k, `resumed from ${out.training.resumedFromEpoch}, killed after ${k}`);
    assert.equal(out.training.epochs, epochs, 'every epoch ran exactly once in the history');
    // Tiny model, two different runs: same quality within a loose tolerance.
    assert.ok(Math.abs(out.validation.challenger.accuracy - baseline.validation.challenger.accuracy) <= 0.15);
    await assertSinglePromotion('f-kill-gpu', out, 'faults-kill-gpu');
    if (process.env.PDM_RECORD_HISTORIES) {
      // A retried fine-tune, for the replay tests (test/unit/replay.test.ts).
      const history = await client.workflow.getHandle('faults-kill-gpu').fetchHistory();
      writeFileSync(join(ROOT, 'test', 'histories', 'faults-kill-gpu.history.bin'), temporal.api.history.v1.History.encode(history).finish());
    }
  });
});

void test('b) Temporal dev server stopped and restarted mid-run (same state file): the run completes', async () => {
  await withClient(async (client) => {
    const handle = await start(client, 'faults-temporal', backboneSpec('f-temporal', 5), true);
    await until('training', async () => ((await handle.query<RetrainProgress>('progress')).step === 'fineTune' ? true : undefined));
  });
  const down = Date.now();
  await stopService(cfg, 'temporal', log);
  await sleep(3000);
  await startTemporal(cfg, log);
  log(`temporal was down ${((Date.now() - down) / 1000).toFixed(1)} s`);
  const out = await withClient(async (client) => (await client.workflow.getHandle('faults-temporal').result()) as RetrainOutcome);
  log(`finished ${((Date.now() - down) / 1000).toFixed(1)} s after the stop; resumedFromEpoch ${out.training.resumedFromEpoch}`);
  await assertSinglePromotion('f-temporal', out, 'faults-temporal');
});

void test('c) MinIO stopped for ~20 s during training (checkpoint writes fail): retried, then completes', async () => {
  const handle = await withClient(async (client) => {
    const h = await start(client, 'faults-minio', backboneSpec('f-minio', 5), true);
    await until('training', async () => ((await h.query<RetrainProgress>('progress')).step === 'fineTune' ? true : undefined));
    return h.workflowId;
  });
  await sleep(1000);
  const down = Date.now();
  await stopService(cfg, 'minio', log);
  await sleep(20_000);
  await startMinio(cfg, log);
  log(`minio was down ${((Date.now() - down) / 1000).toFixed(1)} s`);
  const out = await withClient(async (client) => (await client.workflow.getHandle(handle).result()) as RetrainOutcome);
  log(`finished ${((Date.now() - down) / 1000).toFixed(1)} s after the stop; training resumedFromEpoch ${out.training.resumedFromEpoch}`);
  await assertSinglePromotion('f-minio', out, 'faults-minio');
});

void test('d) CPU worker killed with SIGKILL during preprocess: retried, output neither duplicated nor corrupted', async () => {
  await withClient(async (client) => {
    const handle = await start(client, 'faults-kill-cpu', { ...backboneSpec('f-kill-cpu', 2), window: { length: 256, hop: 96 } }, true);
    await until('preprocess', async () => ((await handle.query<RetrainProgress>('progress')).step === 'preprocess' ? true : undefined), 60_000);
    kill9('cpu-worker');
    const killedAt = Date.now();
    await startWorker('cpu-worker');
    const out = (await handle.result()) as RetrainOutcome;
    log(`finished ${((Date.now() - killedAt) / 1000).toFixed(1)} s after killing the cpu-worker in preprocess`);
    // The dataset version's shards are exactly those its manifest lists, each complete and decodable.
    const prefix = `datasets/windows/${out.datasetVersion}/`;
    const manifest = (await getJson<{ shards: Record<string, string[]>; counts: Record<string, Record<string, number>> }>(store, `${prefix}manifest.json`))!.value;
    const listed = (await store.list(prefix)).map((o) => o.key).filter((k) => k.endsWith('.arrow')).sort();
    assert.deepEqual(listed, Object.values(manifest.shards).flat().sort());
    const total = Object.values(manifest.counts.train!).reduce((a, b) => a + b, 0);
    assert.equal(out.preprocess.counts.train, total);
    await assertSinglePromotion('f-kill-cpu', out, 'faults-kill-cpu');
  });
});

void test('e) cancelling a run mid-training stops the training activity promptly and frees the GPU worker', async () => {
  await withClient(async (client) => {
    const handle = await start(client, 'faults-cancel', backboneSpec('f-cancel', 200, 11));
    await until('epoch 1 checkpoint', async () => ((await checkpointedEpochs()) >= 1 ? true : undefined));
    const t0 = Date.now();
    await handle.cancel();
    const err = await handle.result().then(
      () => assert.fail('the run should have been cancelled'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
    // The activity saw the cancellation at its next batch and stopped: no more checkpoints appear.
    const settled = await checkpointedEpochs();
    await sleep(3000);
    assert.equal(await checkpointedEpochs(), settled, 'training went on after the cancellation');
    log(`cancelled ${((Date.now() - t0) / 1000).toFixed(1)} s after the request, after ${settled} epoch(s)`);
    // The single-slot GPU worker is free again: a new run trains right away.
    const next = (await (await start(client, 'faults-after-cancel', backboneSpec('f-after-cancel', 1, 12))).result()) as RetrainOutcome;
    assert.equal(next.training.epochs, 1);
  });
});
