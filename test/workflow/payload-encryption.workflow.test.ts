import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { S3Client } from '@aws-sdk/client-s3';
import { loadTf } from '../../lib/tf/backend';
import { buildStorageDeps } from '../../workers/clients';
import { createCodecServer } from '../../workers/codec-server';
import { createCpuWorker, createGpuWorker } from '../../workers/create-workers';
import { AesGcmCodec, codecFromEnv } from '../../workers/payload-codec';
import { CPU_TASK_QUEUE, SA_ASSET_ID, SA_DATASET_VERSION, SA_MODEL_NAME, SA_PIPELINE_STEP, SA_TRIGGER } from '../../workflows/shared';
import type { RetrainOutcome } from '../../workflows/retrain';
import { freshBucket, s3Client, seedSlice, temporalBin, tinySpec } from '../helpers/services';

/** With PDM_PAYLOAD_KEY set, the server only ever stores ciphertext; clients with the key see plain values. */
const key = randomBytes(32);
const codec = new AesGcmCodec(key, 'k1');
let env: TestWorkflowEnvironment;
let s3: S3Client;
let workers: Worker[] = [];
let running: Promise<unknown>;
let client: Client;
let labelAsset = 'cwru-rig';

before(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalBin() }, searchAttributes: [SA_ASSET_ID, SA_MODEL_NAME, SA_DATASET_VERSION, SA_PIPELINE_STEP, SA_TRIGGER] },
  });
  s3 = s3Client();
  const store = await freshBucket(s3, 'enc');
  labelAsset = (await seedSlice(store, [1])).labelAsset;
  const deps = { ...buildStorageDeps(s3, store.bucket), tf: loadTf(), codeVersion: 'enc' };
  const o = { connection: env.nativeConnection, namespace: 'default', deps, dataConverter: { payloadCodecs: [codec] } };
  workers = [await createCpuWorker(o), await createGpuWorker(o)];
  running = Promise.all(workers.map((w) => w.run()));
  client = new Client({ connection: env.connection, dataConverter: { payloadCodecs: [codec] } });
});

after(async () => {
  for (const w of workers) w.shutdown();
  await running;
  await env?.teardown();
  s3?.destroy();
});

void test('codec: round trip, key id checked, tampering detected', async () => {
  const plain = defaultPayloadConverter.toPayload({ secret: 'bearing-42' });
  const [enc] = await codec.encode([plain]);
  assert.ok(!Buffer.from(enc!.data!).toString('latin1').includes('bearing-42'));
  const [dec] = await codec.decode([enc!]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), { secret: 'bearing-42' });
  await assert.rejects(new AesGcmCodec(key, 'k2').decode([enc!]), /encrypted with key "k1"/);
  const tampered = { ...enc!, data: Buffer.from(enc!.data!) };
  tampered.data[20]! ^= 1;
  await assert.rejects(codec.decode([tampered]), /auth|unable/i);
  assert.equal(codecFromEnv({}), undefined);
  assert.throws(() => codecFromEnv({ PDM_PAYLOAD_KEY: 'c2hvcnQ=' }), /32 bytes/);
});

void test('a pipeline run with encryption: history holds ciphertext only, the result decodes', async () => {
  const marker = `labels-${randomBytes(4).toString('hex')}`;
  const spec = tinySpec({ assetId: 'enc-fleet', modelName: 'enc-backbone', prefixes: ['recordings/cwru-load1/'], labelAsset, training: { epochs: 1, patience: 1 } });
  const out = await client.workflow.execute('PretrainWorkflow', {
    taskQueue: CPU_TASK_QUEUE,
    workflowId: 'enc-1',
    args: [{ ...spec, modelName: 'enc-backbone' }, {}],
    memo: { note: marker },
  }) as RetrainOutcome;
  assert.equal(out.modelName, 'enc-backbone');
  const history = temporal.api.history.v1.History.encode(await env.client.workflow.getHandle('enc-1').fetchHistory()).finish();
  const text = Buffer.from(history).toString('latin1');
  assert.ok(!text.includes(marker), 'memo stored in plain text');
  assert.ok(!text.includes('labels/cwru.arrow'), 'spec stored in plain text');
  assert.ok(text.includes('binary/encrypted'));
});

void test('the codec server decodes for the Temporal UI and rejects bad bodies', async () => {
  const server = createCodecServer(codec, 'http://127.0.0.1:8233');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('hello')]);
    const json = { payloads: [{ metadata: Object.fromEntries(Object.entries(enc!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(enc!.data!).toString('base64') }] };
    const res = await fetch(`${base}/decode`, { method: 'POST', body: JSON.stringify(json), headers: { 'Content-Type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
    const body = (await res.json()) as { payloads: { data: string }[] };
    assert.equal(Buffer.from(body.payloads[0]!.data, 'base64').toString(), '"hello"');
    assert.equal((await fetch(`${base}/decode`, { method: 'POST', body: 'nope' })).status, 400);
    assert.equal((await fetch(`${base}/other`, { method: 'POST', body: '{}' })).status, 404);
  } finally {
    server.close();
  }
});
