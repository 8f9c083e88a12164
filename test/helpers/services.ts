import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { PipelineSpecInput } from '../../lib/spec/pipeline-spec';
import { simulateFleet } from '../../lib/sim/fleet';
import { S3BlobStore } from '../../lib/storage/s3-store';
import { buildS3Client } from '../../workers/clients';
import { loadWorkerEnv } from '../../workers/config';

/**
 * Tests reach the real services that test/run-tests.ts started (or that the environment names):
 * a Temporal dev server and a MinIO server. Each test file works in a bucket of its own.
 */
export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`npm test\` (test/run-tests.ts starts the services)`);
  return v;
}

export function temporalBin(): string {
  return requireEnv('PDM_TEMPORAL_BIN');
}

export function s3Client(): S3Client {
  requireEnv('AWS_ENDPOINT_URL_S3');
  return buildS3Client(loadWorkerEnv());
}

export async function freshBucket(client: S3Client, label: string): Promise<S3BlobStore> {
  const bucket = `t-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return new S3BlobStore(client, bucket);
}

export const CWRU_DIR = resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'cwru');

/** Classes used by the small test slices: three fault types at one size, plus a second size. */
export const SLICE_CLASSES = ['inner_race_007', 'ball_007', 'outer_race_007', 'inner_race_021'];

/**
 * Uploads a small slice of the real CWRU data (these classes at these loads) under
 * recordings/<asset>-load<H>/, plus the label table; falls back to the simulated fleet where the
 * real data is absent (a clone outside this workspace).
 */
export async function seedSlice(store: S3BlobStore, loads: number[], classes = SLICE_CLASSES): Promise<{ labelsKey: string; labelAsset: string; real: boolean }> {
  if (existsSync(CWRU_DIR)) {
    for (const cls of classes) {
      for (const file of readdirSync(join(CWRU_DIR, cls))) {
        const load = Number(/^load(\d+)_/.exec(file)?.[1]);
        if (loads.includes(load)) await store.put(`recordings/cwru-load${load}/${cls}/${file}`, readFileSync(join(CWRU_DIR, cls, file)));
      }
    }
    await store.put('labels/cwru.arrow', readFileSync(join(CWRU_DIR, 'labels.arrow')));
    return { labelsKey: 'labels/cwru.arrow', labelAsset: 'cwru-rig', real: true };
  }
  const fleet = simulateFleet({ seed: 3, loads, seconds: 4 });
  for (const r of fleet.recordings) {
    if (classes.includes(r.label)) await store.put(`recordings/cwru-load${r.load}/${r.relPath}`, r.bytes);
  }
  await store.put('labels/cwru.arrow', fleet.labels);
  return { labelsKey: 'labels/cwru.arrow', labelAsset: 'sim-rig', real: false };
}

/** A spec small enough for a test on 2 CPU cores: short windows, sparse hop, a narrow network. */
export function tinySpec(overrides: Partial<PipelineSpecInput> & { assetId: string; prefixes: string[]; labelAsset: string }): PipelineSpecInput {
  const { prefixes, labelAsset, ...rest } = overrides;
  return {
    source: { prefixes },
    channels: [{ name: 'de_accel' }, { name: 'fe_accel' }],
    sampleRateHz: 12000,
    window: { length: 256, hop: 1024 },
    classes: SLICE_CLASSES,
    labels: { kind: 'ranges', key: 'labels/cwru.arrow', assetId: labelAsset },
    architecture: { filters: [8, 16], firstKernel: 16, firstStride: 4, kernel: 3 },
    training: { headEpochs: 1, epochs: 2, patience: 2, learningRate: 0.003, unfreezeLearningRate: 0.001, batchSize: 32 },
    gates: { minAccuracy: 0.25 },
    ...rest,
  };
}
