import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Client, Connection, WorkflowExecutionInfo } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadTf } from '../../lib/tf/backend';
import { parsePipelineSpec, PipelineSpec } from '../../lib/spec/pipeline-spec';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { configureBucketNotifications } from '../../lib/triggers/notifications';
import { describeSchedule, listSchedules, resolveScheduleOptions, scheduleHandle, upsertSchedule } from '../../lib/triggers/schedules';
import { buildStorageDeps } from '../../workers/clients';
import { createCpuWorker, createGpuWorker } from '../../workers/create-workers';
import type { DataArrivalState, PollResult } from '../../workflows/data-arrival';
import type { RetrainOutcome } from '../../workflows/retrain';
import { CPU_TASK_QUEUE, dataArrivalWorkflowId, SA_TRIGGER } from '../../workflows/shared';
import { freshBucket, requireEnv, s3Client, seedSlice, SLICE_CLASSES, tinySpec } from '../helpers/services';

/**
 * Schedules and data-arrival triggers against the real stack that test/run-tests.ts started:
 * Temporal, and a MinIO whose webhook target points at PDM_RECEIVER_PORT. The receiver runs as
 * its own process (dist/workers/receiver.js); the workers run in-process against a fresh bucket.
 * Durations are seconds-scale: quiet period 3 s.
 */
const ROOT = join(__dirname, '..', '..', '..');
const QUIET = '3s';
let s3: S3Client;
let store: S3BlobStore;
let connection: Connection;
let client: Client;
let workerConn: NativeConnection;
let workers: Worker[] = [];
let running: Promise<unknown>;
let receiver: ChildProcess | null = null;
let receiverLog = '';
let labelAsset = 'cwru-rig';
const work = mkdtempSync(join(tmpdir(), 'pdm-trg-'));
const specsDir = join(work, 'specs');
const token = () => requireEnv('PDM_RECEIVER_TOKEN');
const receiverUrl = () => `http://127.0.0.1:${requireEnv('PDM_RECEIVER_PORT')}/minio/events`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const specs: Record<string, PipelineSpec> = {};

function writeSpec(assetId: string, prefixes: string[], extra: object = {}): PipelineSpec {
  const raw = tinySpec({ assetId, prefixes, labelAsset, backbone: 'registry:trg-backbone@production', ...extra });
  const spec = parsePipelineSpec(raw);
  writeFileSync(join(specsDir, `${assetId}.json`), JSON.stringify(raw));
  specs[assetId] = spec;
  return spec;
}

function startReceiver(): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'workers', 'receiver.js')], {
    env: { ...process.env, PDM_SPECS_DIR: specsDir, PDM_BUCKET: store.bucket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  receiver = child;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      receiverLog += d.toString();
      if (receiverLog.includes('receiver ready')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}:\n${receiverLog}`)));
  });
}

async function stopReceiver(): Promise<void> {
  const child = receiver;
  if (!child || child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
  receiver = null;
}

/** The load-3 recording of one class, to upload under another asset's prefix. */
function recording(cls: string): Uint8Array {
  const dir = join(ROOT, '..', 'shared', 'data', 'cwru', cls);
  const file = readdirSync(dir).find((f) => f.startsWith('load3_'));
  return readFileSync(join(dir, file!));
}

async function retrainsOf(assetId: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = "RetrainWorkflow" AND AssetId = "${assetId}"` })) out.push(w);
  return out;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 180_000, everyMs = 250): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\nreceiver log:\n${receiverLog}`);
    await sleep(everyMs);
  }
}

const arrivalState = (assetId: string) => client.workflow.getHandle(dataArrivalWorkflowId(assetId)).query<DataArrivalState>('dataArrivalState');

before(async () => {
  s3 = s3Client();
  store = await freshBucket(s3, 'trg');
  const real = await seedSlice(store, [1, 2, 3]);
  labelAsset = real.labelAsset;
  // Notifications after seeding, so only the test's own uploads produce events.
  await configureBucketNotifications(s3, store.bucket);
  connection = await Connection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  client = new Client({ connection });
  workerConn = await NativeConnection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  const deps = { ...buildStorageDeps(s3, store.bucket), tf: loadTf(), codeVersion: 'trg-0' };
  const o = { connection: workerConn, namespace: 'default', deps };
  workers = [await createCpuWorker(o), await createGpuWorker(o)];
  running = Promise.all(workers.map((w) => w.run()));
  // A backbone for the retrains to fine-tune.
  const backbone = tinySpec({ assetId: 'trg-fleet', modelName: 'trg-backbone', prefixes: ['recordings/cwru-load1/', 'recordings/cwru-load2/'], labelAsset, training: { epochs: 2, patience: 2, learningRate: 0.003, batchSize: 32 } });
  await client.workflow.execute('PretrainWorkflow', { taskQueue: CPU_TASK_QUEUE, workflowId: `trg-pretrain-${Date.now()}`, args: [backbone] });
  spawnSync('mkdir', ['-p', specsDir]);
  writeSpec('trg-sched', ['recordings/cwru-load3/'], { trigger: { schedule: { every: '1h', jitter: '1s' } } });
  writeSpec('trg-arrival', ['recordings/trg-arrival/'], { trigger: { dataArrival: { quietPeriod: QUIET, maxWait: '60s' } } });
  writeSpec('trg-poll', ['recordings/trg-poll/'], { trigger: { dataArrival: { quietPeriod: '2s' }, poll: { every: '1h', lookback: '1m' } } });
  await startReceiver();
});

after(async () => {
  await stopReceiver().catch(() => undefined);
  for (const id of ['trg-sched']) await scheduleHandle(client, id).delete().catch(() => undefined);
  for (const id of ['trg-arrival', 'trg-poll']) await client.workflow.getHandle(dataArrivalWorkflowId(id)).terminate('test done').catch(() => undefined);
  for (const w of workers) w.shutdown();
  await running;
  await workerConn?.close();
  await connection?.close();
  s3?.destroy();
});

void test('schedule: create twice updates one schedule; trigger-now starts a run that completes with Trigger=schedule', async () => {
  const spec = specs['trg-sched']!;
  const first = await upsertSchedule(client, spec, resolveScheduleOptions(spec, {}));
  assert.deepEqual(first, { scheduleId: 'retrain-trg-sched', created: true });
  const second = await upsertSchedule(client, spec, resolveScheduleOptions(spec, { every: '2h', pauseOnFailure: true }));
  assert.equal(second.created, false);
  const d = await describeSchedule(client, 'trg-sched');
  assert.equal(d.spec.intervals?.[0]?.every, 2 * 3600_000);
  assert.equal(d.policies.overlap, 'SKIP');
  assert.equal(d.policies.pauseOnFailure, true);
  assert.equal(d.policies.catchupWindow, 3600_000);
  assert.equal((await listSchedules(client)).filter((s) => s.scheduleId === 'retrain-trg-sched').length <= 1, true);

  const t0 = Date.now();
  await scheduleHandle(client, 'trg-sched').trigger();
  const action = await waitFor('the scheduled run', async () => (await describeSchedule(client, 'trg-sched')).info.recentActions[0]);
  const handle = client.workflow.getHandle(action.action.workflow.workflowId);
  const started = (await handle.describe()).startTime.getTime();
  const outcome = (await handle.result()) as RetrainOutcome;
  assert.equal(outcome.assetId, 'trg-sched');
  assert.ok(outcome.promotion.version);
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'COMPLETED');
  assert.equal(desc.typedSearchAttributes.get(SA_TRIGGER), 'schedule');
  assert.equal(desc.memo?.trigger, 'schedule');
  assert.equal(desc.memo?.scheduleId, 'retrain-trg-sched');
  console.log(`# schedule trigger -> run start ${started - t0} ms, run completed after ${Date.now() - t0} ms`);
});

void test('the CLI manages schedules (create = update, pause, describe, list, delete)', () => {
  const env = { ...process.env, PDM_STATE_DIR: join(work, 'no-local-stack') };
  const specFile = join(specsDir, 'trg-sched.json');
  const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'pdmctl.js'), 'schedule', ...args], { env, encoding: 'utf8' });
  const upd = run('create', 'trg-sched', '--spec', specFile, '--cron', '0 3 * * *', '--time-zone', 'Europe/Berlin', '--overlap', 'buffer_one');
  assert.equal(upd.status, 0, upd.stderr);
  assert.match(upd.stdout, /updated schedule retrain-trg-sched/);
  assert.match(upd.stdout, /overlap BUFFER_ONE/);
  assert.match(upd.stdout, /tz Europe\/Berlin/);
  assert.equal(run('pause', 'trg-sched', '--note', 'maintenance').status, 0);
  assert.match(run('describe', 'trg-sched').stdout, /retrain-trg-sched: PAUSED[\s\S]*note: maintenance[\s\S]*runs: 1 taken/);
  const missing = run('describe', 'nope');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^pdmctl: no retrain schedule for asset "nope"/);
  const bad = run('create', 'trg-sched', '--spec', specFile, '--every', 'daily');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^pdmctl: schedule options: every/);
  assert.equal(run('unpause', 'trg-sched').status, 0);
});

async function post(body: string, auth?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(receiverUrl(), { method: 'POST', body, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
  return { status: res.status, json: await res.json() };
}

const eventFor = (key: string, etag: string, size: number) =>
  JSON.stringify({ EventName: 's3:ObjectCreated:Put', Key: `${store.bucket}/${key}`, Records: [{ eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: store.bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), eTag: etag, size } } }] });

void test('the receiver rejects unauthenticated and malformed requests', async () => {
  const ok = eventFor('labels/not-an-asset.arrow', 'e', 1);
  assert.equal((await post(ok)).status, 401);
  assert.equal((await post(ok, 'Bearer wrong-token-wrong-token')).status, 401);
  assert.equal((await post(ok, token())).status, 401, 'the scheme is required');
  assert.equal((await post('{not json', `Bearer ${token()}`)).status, 400);
  assert.equal((await post(JSON.stringify({ Records: [{ eventName: 's3:ObjectCreated:Put' }] }), `Bearer ${token()}`)).status, 400);
  assert.equal((await post(JSON.stringify({ hello: 'world' }), `Bearer ${token()}`)).status, 400);
  assert.equal((await fetch(receiverUrl())).status, 405);
  const ignored = await post(ok, `Bearer ${token()}`);
  assert.equal(ignored.status, 200, 'objects of no asset are acknowledged, not retried forever');
  assert.deepEqual((ignored.json as { ignored: string[] }).ignored, [`${store.bucket}/labels/not-an-asset.arrow`]);
});

void test('uploads (a burst, one reported twice) start exactly one retrain after the quiet period', async () => {
  const keys: string[] = [];
  const times: number[] = [];
  let dup: { key: string; etag: string; size: number } | null = null;
  // Four uploads 1.2 s apart: each arrives inside the 3 s quiet period of the previous one.
  for (const cls of SLICE_CLASSES) {
    const key = `recordings/trg-arrival/${cls}/load3.arrow`;
    const bytes = recording(cls);
    const { etag } = await store.put(key, bytes);
    times.push(Date.now());
    keys.push(key);
    dup ??= { key, etag, size: bytes.byteLength };
    await sleep(1200);
  }
  // The same object reported again (as a retried or duplicated notification would).
  const again = await post(eventFor(dup!.key, dup!.etag, dup!.size), `Bearer ${token()}`);
  assert.equal(again.status, 200);

  const retrain = await waitFor('the data-arrival retrain', async () => (await retrainsOf('trg-arrival'))[0]);
  const handle = client.workflow.getHandle(retrain.workflowId);
  const d = await handle.describe();
  const startedAt = d.startTime.getTime();
  const memo = d.memo as { trigger: string; objectKeys: string[]; objectCount: number; dataArrivalWorkflowId: string; waitedMs: number };
  assert.equal(memo.trigger, 'data-arrival');
  assert.deepEqual(memo.objectKeys, [...keys].sort());
  assert.equal(memo.objectCount, 4);
  assert.equal(memo.dataArrivalWorkflowId, 'data-arrival-trg-arrival');
  assert.equal(d.typedSearchAttributes.get(SA_TRIGGER), 'data-arrival');
  assert.ok(startedAt - times[times.length - 1]! >= 2500, 'not before the quiet period after the last upload');

  const state = await arrivalState('trg-arrival').catch(() => null);
  const outcome = (await handle.result()) as RetrainOutcome;
  assert.equal(outcome.ingest.objects, 4);
  // Quiet period + margin after completion: still exactly one retrain.
  await sleep(5000);
  assert.equal((await retrainsOf('trg-arrival')).length, 1);
  const after = await arrivalState('trg-arrival');
  assert.equal(after.pending, 0);
  assert.ok(after.duplicates >= 1, `duplicates counted: ${JSON.stringify(after)}`);
  assert.equal(after.lastRetrain?.workflowId, retrain.workflowId);
  assert.equal(after.lastRetrain?.status, 'completed');
  console.log(`# data arrival: first upload -> retrain start ${startedAt - times[0]!} ms, last upload -> retrain start ${startedAt - times[times.length - 1]!} ms (quiet period ${QUIET}); ` +
    `reports ${after.reports}, duplicates ${after.duplicates}, batches ${after.batches}; state while running: ${JSON.stringify(state && { running: state.running, pending: state.pending })}`);
});

void test('polling finds files uploaded while the receiver was down; late webhook replays are counted once', async () => {
  const spec = specs['trg-poll']!;
  const poll = () => client.workflow.execute<(s: PipelineSpec) => Promise<PollResult>>('PollPrefixWorkflow', { taskQueue: CPU_TASK_QUEUE, workflowId: `poll-trg-poll-${Date.now()}`, args: [spec] });
  const baseline = await poll();
  assert.equal(baseline.baseline, true);
  assert.equal(baseline.newObjects, 0);

  await stopReceiver();
  const keys: string[] = [];
  for (const cls of SLICE_CLASSES) {
    const key = `recordings/trg-poll/${cls}/load3.arrow`;
    await store.put(key, recording(cls));
    keys.push(key);
  }
  const t0 = Date.now();
  const found = await poll();
  assert.equal(found.baseline, false);
  assert.deepEqual([...found.newKeys].sort(), [...keys].sort());
  assert.equal((await poll()).newObjects, 0, 'a second poll finds nothing new');

  const retrain = await waitFor('the polled retrain', async () => (await retrainsOf('trg-poll'))[0]);
  const startedAt = (await client.workflow.getHandle(retrain.workflowId).describe()).startTime.getTime();
  // The receiver comes back; MinIO replays the events it queued meanwhile: duplicates of what the poller reported.
  await startReceiver();
  await waitFor('MinIO to replay the queued events', async () => (await arrivalState('trg-poll')).reports >= 8, 30_000);
  await client.workflow.getHandle(retrain.workflowId).result();
  await sleep(4000);
  assert.equal((await retrainsOf('trg-poll')).length, 1);
  const st = await arrivalState('trg-poll');
  assert.equal(st.duplicates, 4);
  assert.equal(st.pending, 0);
  console.log(`# polling: poll -> retrain start ${startedAt - t0} ms (quiet period 2s); replayed webhook events after receiver restart: ${st.reports - 4}, counted as duplicates: ${st.duplicates}`);
});
