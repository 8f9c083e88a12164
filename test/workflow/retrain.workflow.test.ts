import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadTf } from '../../lib/tf/backend';
import { ModelRegistry } from '../../lib/registry/registry';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { buildStorageDeps } from '../../workers/clients';
import { createCpuWorker, createGpuWorker } from '../../workers/create-workers';
import { CPU_TASK_QUEUE, SA_ASSET_ID, SA_DATASET_VERSION, SA_MODEL_NAME, SA_PIPELINE_STEP, SA_TRIGGER } from '../../workflows/shared';
import type { RetrainOutcome } from '../../workflows/retrain';
import { freshBucket, s3Client, seedSlice, temporalBin, tinySpec } from '../helpers/services';

/**
 * Workflows on a real local Temporal server (the project's own `temporal` binary via
 * TestWorkflowEnvironment.createLocal) with the real activities against a real MinIO bucket.
 */
let env: TestWorkflowEnvironment;
let s3: S3Client;
let store: S3BlobStore;
let workers: Worker[] = [];
let running: Promise<unknown>;
let labelAsset = 'cwru-rig';

before(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBin() },
      searchAttributes: [SA_ASSET_ID, SA_MODEL_NAME, SA_DATASET_VERSION, SA_PIPELINE_STEP, SA_TRIGGER],
    },
  });
  s3 = s3Client();
  store = await freshBucket(s3, 'wf');
  labelAsset = (await seedSlice(store, [1, 2, 3])).labelAsset;
  const deps = { ...buildStorageDeps(s3, store.bucket), tf: loadTf(), codeVersion: 'test-0' };
  const o = { connection: env.nativeConnection, namespace: env.namespace ?? 'default', deps };
  workers = [await createCpuWorker(o), await createGpuWorker(o)];
  running = Promise.all(workers.map((w) => w.run()));
});

after(async () => {
  // `PDM_RECORD_HISTORIES=1 npm test -- workflow` refreshes the histories that test/unit/replay.test.ts replays.
  if (process.env.PDM_RECORD_HISTORIES) {
    for (const id of ['wf-pretrain-1', 'wf-retrain-1', 'wf-retrain-2', 'wf-retrain-bad']) {
      try {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        writeFileSync(join(__dirname, '..', '..', '..', 'test', 'histories', `${id}.history.bin`), temporal.api.history.v1.History.encode(history).finish());
      } catch (err) {
        console.error(`could not record ${id}: ${String(err)}`);
      }
    }
  }
  for (const w of workers) w.shutdown();
  await running;
  await env?.teardown();
  s3?.destroy();
});

const backboneSpec = () => tinySpec({ assetId: 'wf-fleet', modelName: 'wf-backbone', prefixes: ['recordings/cwru-load1/', 'recordings/cwru-load2/'], labelAsset, training: { epochs: 3, patience: 3, learningRate: 0.003, batchSize: 32 } });
const targetSpec = () => tinySpec({ assetId: 'wf-load3', prefixes: ['recordings/cwru-load3/'], labelAsset, backbone: 'registry:wf-backbone@production' });

async function run(kind: 'PretrainWorkflow' | 'RetrainWorkflow', spec: ReturnType<typeof tinySpec>, id: string): Promise<RetrainOutcome> {
  return env.client.workflow.execute<(s: typeof spec) => Promise<RetrainOutcome>>(kind, { taskQueue: CPU_TASK_QUEUE, workflowId: id, args: [spec] });
}

void test('pretrain registers a backbone; retrain fine-tunes, validates and promotes with full lineage', async () => {
  const pre = await run('PretrainWorkflow', backboneSpec(), 'wf-pretrain-1');
  assert.equal(pre.promotion.promoted, true, `backbone not promoted: ${JSON.stringify(pre.validation.gates)}`);
  assert.equal(pre.backbone, null);

  const out = await run('RetrainWorkflow', targetSpec(), 'wf-retrain-1');
  assert.equal(out.promotion.promoted, true, JSON.stringify(out.validation.gates));
  assert.equal(out.backbone?.modelName, 'wf-backbone');
  assert.equal(out.backbone?.version, pre.promotion.version);
  assert.ok(out.training.epochs >= 2, 'head phase then full phase');

  const registry = new ModelRegistry(store);
  const alias = await registry.getAlias('wf-load3', 'production');
  assert.equal(alias?.doc.version, out.promotion.version);
  const card = await registry.getCard('wf-load3', out.promotion.version);
  assert.ok(card);
  assert.deepEqual(card.lineage.backbone?.version, pre.promotion.version);
  assert.equal(card.lineage.datasetVersion, out.datasetVersion);
  assert.equal(card.lineage.workflowId, 'wf-retrain-1');
  assert.ok(card.lineage.runId.length > 10);
  assert.equal(card.lineage.codeVersion, 'test-0');
  assert.equal(card.kind, 'classifier');
  assert.deepEqual(card.classes, targetSpec().classes);
  assert.ok(await store.head(`registry/wf-load3/versions/${out.promotion.version}/report.md`));

  // Payloads are references and summaries: small, and free of credentials.
  const history = temporal.api.history.v1.History.encode(await env.client.workflow.getHandle('wf-retrain-1').fetchHistory()).finish();
  assert.ok(history.length < 64 * 1024, `history is ${history.length} bytes`);
  const text = Buffer.from(history).toString('latin1');
  for (const secret of [process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_ACCESS_KEY_ID]) assert.ok(secret && !text.includes(secret), 'credentials leaked into history');

  const desc = await env.client.workflow.getHandle('wf-retrain-1').describe();
  assert.equal(desc.typedSearchAttributes.get(SA_DATASET_VERSION), out.datasetVersion);
  assert.equal(desc.typedSearchAttributes.get(SA_ASSET_ID), 'wf-load3');
});

void test('a second run on the same data reuses every step and leaves production as it was', async () => {
  const first = await new ModelRegistry(store).getAlias('wf-load3', 'production');
  const out = await run('RetrainWorkflow', targetSpec(), 'wf-retrain-2');
  assert.deepEqual(out.reused, { ingest: true, preprocess: true, fineTune: true, validate: false });
  assert.equal(out.ingest.reused && out.preprocess.reused && out.training.reused, true);
  // Validation reruns because the champion changed (it is now the first run's model, same weights).
  assert.equal(out.validation.champion?.version, first?.doc.version);
  assert.equal(out.promotion.reason, 'already production');
  assert.equal((await new ModelRegistry(store).getAlias('wf-load3', 'production'))?.etag, first?.etag);
});

void test('a truncated Arrow file fails the run non-retryably, naming the object; production is untouched', async () => {
  const registry = new ModelRegistry(store);
  const before = await registry.getAlias('wf-load3', 'production');
  const good = (await store.list('recordings/cwru-load3/'))[0]!;
  const bytes = (await store.get(good.key)).body;
  await store.put('recordings/bad-asset/ok.arrow', bytes);
  await store.put('recordings/bad-asset/cut.arrow', bytes.subarray(0, Math.floor(bytes.length / 2)));
  const spec = { ...targetSpec(), assetId: 'wf-load3', modelName: 'wf-load3', source: { prefixes: ['recordings/bad-asset/'] } };
  const err = await run('RetrainWorkflow', spec, 'wf-retrain-bad').then(
    () => assert.fail('the run should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.ok(err.cause instanceof ActivityFailure);
  assert.equal(err.cause.activityType, 'ingest');
  const app = err.cause.cause;
  assert.ok(app instanceof ApplicationFailure);
  assert.equal(app.type, 'InvalidDataset');
  assert.equal(app.nonRetryable, true);
  assert.match(app.message, /recordings\/bad-asset\/cut\.arrow: truncated Arrow IPC file/);
  const after = await registry.getAlias('wf-load3', 'production');
  assert.equal(after?.etag, before?.etag);
});
