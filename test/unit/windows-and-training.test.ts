import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tfjs from '@tensorflow/tfjs';
import { decodeWindowShard, encodeWindowShard } from '../../lib/arrow/window-shards';
import { parseRecording } from '../../lib/arrow/recording';
import { buildWindows } from '../../lib/dataset/build-windows';
import { buildClassifier } from '../../lib/model/backbone';
import { freshProgress, runTraining, TrainProgress } from '../../lib/model/train';
import { recordingBytes } from '../helpers/arrow-fixtures';
import { PdmError } from '../../lib/errors';

// Pure-JS tfjs on purpose: this is the smoke test that the slowest backend still works end to end.
const tf = tfjs;
void tf.setBackend('cpu');

const checks = { channels: ['de_accel', 'fe_accel'], sampleRateHz: 12000, maxNonFiniteFraction: 0 };

function recording(key: string, label: string, freq: number, start: bigint) {
  const rows = 6000;
  const channels = {
    de_accel: Float32Array.from({ length: rows }, (_, i) => Math.sin(i * freq) + 0.1 * Math.sin(i * 0.37)),
    fe_accel: Float32Array.from({ length: rows }, (_, i) => 0.5 * Math.cos(i * freq)),
  };
  return parseRecording(key, recordingBytes({ rows, channels, startNs: start, metadata: { label } }), checks);
}

const recs = [recording('a.arrow', 'slow', 0.05, 0n), recording('b.arrow', 'fast', 0.9, 10_000_000_000n)];
const opts = { length: 64, hop: 64, classes: ['slow', 'fast'], split: { train: 0.6, validation: 0.2 } };

void test('windows: time-block split, train-only normalization, shards round-trip through Arrow', () => {
  const built = buildWindows(recs, (r) => r.metadata['label'], opts);
  assert.deepEqual(built.counts.train, { slow: 56, fast: 56 });
  assert.ok(built.counts.test.slow! > 0 && built.counts.validation.fast! > 0);
  for (const [split, batch] of Object.entries(built.batches)) {
    const back = decodeWindowShard(split, encodeWindowShard(batch));
    assert.equal(back.count, batch.count);
    assert.deepEqual(back.x, batch.x);
    assert.deepEqual(back.labels, batch.labels);
    assert.deepEqual(back.startNs, batch.startNs);
  }
  const trainMax = Math.max(...Array.from(built.batches.train.startNs).filter((_, i) => built.batches.train.recordings[i] === 'a.arrow').map(Number));
  const testMin = Math.min(...Array.from(built.batches.test.startNs).filter((_, i) => built.batches.test.recordings[i] === 'a.arrow').map(Number));
  assert.ok(testMin >= trainMax + (64 * 1e9) / 12000 - 1, 'test windows start after the last training window ends');
});

void test('windows: unknown labels and single-class data are typed errors', () => {
  assert.throws(() => buildWindows(recs, () => 'mystery', opts), (e: unknown) => e instanceof PdmError && e.type === 'InvalidLabels' && /a\.arrow: label "mystery"/.test(e.message));
  assert.throws(() => buildWindows(recs, () => 'slow', opts), (e: unknown) => e instanceof PdmError && e.type === 'InvalidDataset' && /training windows cover 1 class\(es\) \(slow\)/.test(e.message));
  assert.throws(() => buildWindows(recs, () => undefined, opts), (e: unknown) => e instanceof PdmError && /no labelled windows/.test(e.message));
});

void test('training learns a separable problem and resumes from a snapshot exactly where it stopped', async () => {
  const built = buildWindows(recs, (r) => r.metadata['label'], opts);
  const toTensors = (b: typeof built.batches.train) => ({
    x: tf.tensor3d(b.x, [b.count, 64, 2]),
    y: tf.oneHot(tf.tensor1d(b.labels, 'int32'), 2),
  });
  const train = toTensors(built.batches.train);
  const val = toTensors(built.batches.validation);
  const data = { xTrain: train.x, yTrain: train.y, xVal: val.x, yVal: val.y };
  const arch = { filters: [4, 8], firstKernel: 8, firstStride: 2, kernel: 3 };
  const phases = [{ name: 'scratch' as const, maxEpochs: 8, learningRate: 0.03, backboneTrainable: true }];

  // First attempt: "crash" after epoch 2 by throwing from the checkpoint callback.
  let saved: { progress: TrainProgress; bundle: Uint8Array } | undefined;
  const model1 = buildClassifier(tf, { length: 64, channels: 2 }, 2, arch, 1);
  await assert.rejects(
    runTraining(tf, model1, data, phases, {
      batchSize: 16,
      patience: 10,
      onEpochEnd: async (p, snapshot) => {
        saved = { progress: structuredClone(p), bundle: await snapshot() };
        if (p.history.length === 2) throw new Error('worker killed');
      },
    }),
    /worker killed/,
  );
  assert.equal(saved!.progress.history.length, 2);

  // Retry on a fresh model: continues at epoch 3, never repeats 1-2.
  const model2 = buildClassifier(tf, { length: 64, channels: 2 }, 2, arch, 99);
  const epochsRun: number[] = [];
  const progress = await runTraining(tf, model2, data, phases, {
    batchSize: 16,
    patience: 10,
    resume: saved,
    onEpochEnd: (p) => {
      epochsRun.push(p.history.length);
      return Promise.resolve();
    },
  });
  assert.deepEqual(epochsRun, [3, 4, 5, 6, 7, 8]);
  assert.equal(progress.history.length, 8);
  const best = Math.max(...progress.history.map((h) => h.valAccuracy));
  assert.ok(best > 0.9, `best val accuracy ${best}`);
  assert.deepEqual(freshProgress().history, []);
  tf.dispose([train.x, train.y, val.x, val.y]);
  model1.dispose();
  model2.dispose();
});
