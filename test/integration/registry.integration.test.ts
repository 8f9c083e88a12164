import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { PdmError } from '../../lib/errors';
import { ModelCard, ModelRegistry } from '../../lib/registry/registry';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { freshBucket, s3Client } from '../helpers/services';

/** Alias moves against a real MinIO: conditional writes decide races, not timing luck. */
let s3: S3Client;
let store: S3BlobStore;
let registry: ModelRegistry;

function card(version: string): ModelCard {
  return {
    modelName: 'race',
    version,
    kind: 'classifier',
    createdAt: new Date().toISOString(),
    input: { length: 8, channels: ['a'], sampleRateHz: 1, normalization: { mean: [0], std: [1] } },
    classes: ['x', 'y'],
    featureLayer: 'features',
    architecture: { filters: [1], firstKernel: 1, firstStride: 1, kernel: 1 },
    digest: { modelJsonSha256: '0', weightsSha256: '0' },
    lineage: { assetId: 'race', datasetVersion: 'd', backbone: null, codeVersion: 't', workflowId: 'w', runId: 'r', trainingHash: version },
  };
}

before(async () => {
  s3 = s3Client();
  store = await freshBucket(s3, 'reg');
  registry = new ModelRegistry(store);
  await store.put('m/model.json', '{}');
  await store.put('m/weights.bin', new Uint8Array(4));
  for (const v of ['v1', 'v2', 'v3', 'v4']) await registry.registerVersion(card(v), { modelJsonKey: 'm/model.json', weightsKey: 'm/weights.bin' });
});

after(() => s3?.destroy());

async function race(expected: string | null, contenders: string[]): Promise<PromiseSettledResult<unknown>[]> {
  return Promise.allSettled(contenders.map((v) => registry.moveAlias('race', 'production', v, expected, { user: `promoter-${v}` })));
}

void test('registering a version twice keeps the first card', async () => {
  const again = await registry.registerVersion({ ...card('v1'), createdAt: 'later' }, { modelJsonKey: 'm/model.json', weightsKey: 'm/weights.bin' });
  assert.equal(again.created, false);
  assert.notEqual((await registry.getCard('race', 'v1'))?.createdAt, 'later');
});

void test('two first promotions at once: exactly one wins (If-None-Match), the other gets PromotionConflict', async () => {
  const results = await race(null, ['v1', 'v2']);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.ok(lost[0]!.reason instanceof PdmError && lost[0]!.reason.type === 'PromotionConflict', String(lost[0]!.reason));
});

void test('racing promotions against the same champion: exactly one wins (If-Match), previous is recorded', async () => {
  const champion = (await registry.getAlias('race', 'production'))!.doc.version;
  for (let round = 0; round < 3; round++) {
    const current = (await registry.getAlias('race', 'production'))!.doc.version;
    const contenders = ['v3', 'v4'].filter((v) => v !== current);
    const results = await race(current, [...contenders, ...contenders]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}`);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as PdmError).type, 'PromotionConflict');
    const now = (await registry.getAlias('race', 'production'))!.doc;
    assert.equal(now.previous, current);
  }
  assert.ok(champion);
});

void test('rollback restores the previous version; a stale expectation is refused', async () => {
  const before = (await registry.getAlias('race', 'production'))!.doc;
  const rolled = await registry.rollback('race', 'tester');
  assert.equal(rolled.version, before.previous);
  assert.equal(rolled.previous, before.version);
  assert.equal((await registry.getAlias('race', 'previous'))?.doc.version, before.version);
  await assert.rejects(registry.moveAlias('race', 'production', 'v1', before.version, { user: 'stale' }), (e: unknown) => e instanceof PdmError && e.type === 'PromotionConflict');
  await assert.rejects(registry.moveAlias('race', 'production', 'v9', rolled.version, { user: 'x' }), (e: unknown) => e instanceof PdmError && e.type === 'ModelNotFound');
});
