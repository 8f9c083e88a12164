import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tfjs from '@tensorflow/tfjs';
import { parseRecording } from '../../lib/arrow/recording';
import { adapterOf, adaptRecording, modelInput } from '../../lib/data/input-adapter';
import { lowPassFir, resampledLength, resamplePoly, resampleRatio } from '../../lib/data/resample';
import { buildWindows } from '../../lib/dataset/build-windows';
import { seededRandom } from '../../lib/random';
import { blockCount, buildClassifier, HEAD_LAYER, reestimateBatchNorm, setBackboneTrainable } from '../../lib/model/backbone';
import { augmentWindows, phasesFor } from '../../lib/model/train';
import { parsePipelineSpec, parsePipelineSpecText, TrainingSpec } from '../../lib/spec/pipeline-spec';
import { recordingBytes } from '../helpers/arrow-fixtures';

const tf = tfjs;
void tf.setBackend('cpu');

/** Amplitude of the `hz` component of x sampled at `rate` (single-bin DFT, window long enough for whole cycles). */
function amplitude(x: Float32Array, rate: number, hz: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  for (let i = from; i < to; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * hz * i) / rate);
    im += x[i]! * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / (to - from);
}

const sine = (n: number, rate: number, hz: number) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));

void test('resample: ratio, length, unit DC gain of the anti-alias filter', () => {
  assert.deepEqual(resampleRatio(20000, 12000), { up: 3, down: 5 });
  assert.deepEqual(resampleRatio(48000, 12000), { up: 1, down: 4 });
  assert.throws(() => resampleRatio(20000.5, 12000), /integer/);
  assert.equal(resampledLength(262144, { up: 3, down: 5 }), 157287);
  const h = lowPassFir(50, 0.2, 5, 3);
  assert.equal(h.length, 101);
  assert.ok(Math.abs(h.reduce((a, b) => a + b, 0) - 3) < 1e-9);
  for (let i = 0; i < 50; i++) assert.ok(Math.abs(h[i]! - h[100 - i]!) < 1e-15, 'linear phase (symmetric)');
  const dc = resamplePoly(new Float32Array(2000).fill(1.5), { up: 3, down: 5 });
  assert.equal(dc.length, 1200);
  for (let i = 100; i < 1100; i++) assert.ok(Math.abs(dc[i]! - 1.5) < 1e-3, `DC at ${i}: ${dc[i]}`);
});

void test('resample 20 kHz -> 12 kHz keeps in-band tones and removes what would alias', () => {
  const n = 20000;
  // 1 kHz is in band: same amplitude and frequency at the new rate.
  const pass = resamplePoly(sine(n, 20000, 1000), { up: 3, down: 5 });
  assert.ok(Math.abs(amplitude(pass, 12000, 1000, 600, 11400) - 1) < 0.01);
  // 9 kHz is above the new Nyquist (6 kHz); without a filter it would fold to 3 kHz at full amplitude.
  const stop = resamplePoly(sine(n, 20000, 9000), { up: 3, down: 5 });
  const aliased = amplitude(stop, 12000, 3000, 600, 11400);
  assert.ok(aliased < 0.01, `9 kHz leaks into 3 kHz with amplitude ${aliased}`);
  // Naive decimation (linear interpolation) would alias badly: the check above is meaningful.
  const naive = Float32Array.from({ length: 12000 }, (_, m) => Math.sin((2 * Math.PI * 9000 * (m * 5)) / 3 / 20000));
  assert.ok(amplitude(naive, 12000, 3000, 600, 11400) > 0.5);
});

void test('input adapter: channel map and resampling keep the time span, labels still join', () => {
  const rows = 20000;
  const bytes = recordingBytes({ rows, rateHz: 20000, channels: { accel: sine(rows, 20000, 500) }, metadata: { label: 'x', sample_rate_hz: '20000' } });
  const rec = parseRecording('u.arrow', bytes, { channels: ['accel'], sampleRateHz: 20000, maxNonFiniteFraction: 0 });
  const spec = { channels: [{ name: 'accel' }], channelMap: ['accel', 'zero'], sampleRateHz: 20000, resample: { toHz: 12000 } };
  const a = adapterOf(spec);
  assert.deepEqual(modelInput(a), { channels: ['accel', 'zero'], sampleRateHz: 12000 });
  const out = adaptRecording(rec, a);
  assert.equal(out.rows, 12000);
  assert.equal(out.sampleRateHz, 12000);
  assert.equal(out.channels.length, 2);
  assert.ok(out.channels[1]!.every((v) => v === 0));
  assert.equal(out.startNs, rec.startNs);
  assert.equal(out.endNs, rec.endNs);
  assert.ok(out.timestampsNs[out.rows - 1]! < out.endNs);
  assert.equal(out.timestampsNs[3]! - out.timestampsNs[0]!, 250_000n);
  const dup = adaptRecording(rec, adapterOf({ ...spec, channelMap: ['accel', 'accel'] }));
  assert.deepEqual(Array.from(dup.channels[0]!.subarray(0, 50)), Array.from(dup.channels[1]!.subarray(0, 50)));
  const other = parseRecording('v.arrow', recordingBytes({ rows, rateHz: 20000, startNs: rec.endNs + 1_000_000n, channels: { accel: sine(rows, 20000, 3000) }, metadata: { label: 'y', sample_rate_hz: '20000' } }), {
    channels: ['accel'],
    sampleRateHz: 20000,
    maxNonFiniteFraction: 0,
  });
  const built = buildWindows([out, adaptRecording(other, a)], (r) => r.metadata['label'], { length: 256, hop: 256, classes: ['x', 'y'], split: { train: 0.6, validation: 0.2 } });
  assert.equal(built.batches.train.channels, 2);
  assert.equal(built.counts.train['x'], Math.floor((12000 * 0.6) / 256));
});

void test('spec: resample / channelMap / strategy / augmentation options validate', () => {
  const base = {
    assetId: 'u',
    source: { prefixes: ['recordings/u/'] },
    channels: [{ name: 'accel' }],
    sampleRateHz: 20000,
    window: { length: 1024, hop: 512 },
    classes: ['a', 'b'],
    labels: { kind: 'metadata' },
  };
  const ok = parsePipelineSpec({ ...base, resample: { toHz: 12000 }, channelMap: ['accel', 'accel'], training: { strategy: 'linear-probe' } });
  assert.equal(ok.training.strategy, 'linear-probe');
  assert.deepEqual(ok.training.augment, TrainingSpec.parse({}).augment);
  assert.throws(() => parsePipelineSpec({ ...base, channelMap: ['accel', 'fe'] }), /channelMap\.1/);
  assert.throws(() => parsePipelineSpec({ ...base, channelMap: ['zero'] }), /at least one model input/);
  assert.throws(() => parsePipelineSpec({ ...base, training: { strategy: 'bogus' } }), /strategy/);
});

void test('phasesFor: linear probe, full, two-phase with top blocks, scratch', () => {
  const t = TrainingSpec.parse({ strategy: 'two-phase', headEpochs: 4, epochs: 9, learningRate: 0.01, unfreezeLearningRate: 0.001, unfreezeBlocks: 2 });
  assert.deepEqual(phasesFor(t, false), [{ name: 'scratch', maxEpochs: 9, learningRate: 0.01, backboneTrainable: true }]);
  assert.deepEqual(phasesFor({ ...t, strategy: 'linear-probe' }, true), [{ name: 'head', maxEpochs: 9, learningRate: 0.01, backboneTrainable: false }]);
  assert.deepEqual(phasesFor({ ...t, strategy: 'full' }, true), [{ name: 'full', maxEpochs: 9, learningRate: 0.001, backboneTrainable: true }]);
  const two = phasesFor(t, true);
  assert.equal(two.length, 2);
  assert.deepEqual(two[1], { name: 'full', maxEpochs: 9, learningRate: 0.001, backboneTrainable: true, unfreezeBlocks: 2 });
});

void test('setBackboneTrainable unfreezes only the top blocks when asked', () => {
  const model = buildClassifier(tf, { length: 64, channels: 2 }, 3, { filters: [4, 4, 4, 4], firstKernel: 8, firstStride: 2, kernel: 3 }, 1);
  assert.equal(blockCount(model), 4);
  setBackboneTrainable(model, true, 2);
  const trainable = model.layers.filter((l) => l.trainable && l.weights.length > 0).map((l) => l.name);
  assert.ok(trainable.includes(HEAD_LAYER) && trainable.includes('block3_conv') && trainable.includes('block4_bn'));
  assert.ok(!trainable.includes('block1_conv') && !trainable.includes('block2_bn'));
  setBackboneTrainable(model, false);
  assert.deepEqual(model.layers.filter((l) => l.trainable && l.weights.length > 0).map((l) => l.name), [HEAD_LAYER]);
  model.dispose();
});

void test('augmentation: seeded, per-window circular shift and scaling, repeats, no-op when off', () => {
  const length = 8;
  const x = Float32Array.from({ length: 2 * length * 2 }, (_, i) => i);
  const off = augmentWindows(x, 2, length, 2, 3, { shift: 0, noiseStd: 0, scale: 0 }, seededRandom(1));
  assert.equal(off.length, x.length * 3);
  assert.deepEqual(Array.from(off.subarray(x.length, 2 * x.length)), Array.from(x));
  const a = { shift: 0.5, noiseStd: 0, scale: 0 };
  const s1 = augmentWindows(x, 2, length, 2, 1, a, seededRandom(7));
  const s2 = augmentWindows(x, 2, length, 2, 1, a, seededRandom(7));
  assert.deepEqual(s1, s2, 'same seed, same draw');
  // A circular shift keeps each window's multiset of (channel-interleaved) values and the channel pairing.
  for (let w = 0; w < 2; w++) {
    const src = Array.from(x.subarray(w * 16, w * 16 + 16));
    const got = Array.from(s1.subarray(w * 16, w * 16 + 16));
    assert.deepEqual([...got].sort((p, q) => p - q), [...src].sort((p, q) => p - q));
    for (let t = 0; t < length; t++) assert.equal(got[2 * t + 1]! - got[2 * t]!, 1);
  }
  const scaled = augmentWindows(Float32Array.from({ length: 16 }, () => 1), 1, 8, 2, 1, { shift: 0, noiseStd: 0, scale: 0.2 }, seededRandom(3));
  assert.ok(scaled.every((v) => v === scaled[0]) && scaled[0]! >= 0.8 && scaled[0]! <= 1.2);
  const noisy = augmentWindows(new Float32Array(4000), 1, 2000, 2, 1, { shift: 0, noiseStd: 0.5, scale: 0 }, seededRandom(3));
  const sd = Math.sqrt(noisy.reduce((acc, v) => acc + v * v, 0) / noisy.length);
  assert.ok(Math.abs(sd - 0.5) < 0.03, `noise std ${sd}`);
});

void test('reestimateBatchNorm sets moving statistics to the target data, layer by layer', () => {
  const model = buildClassifier(tf, { length: 32, channels: 2 }, 2, { filters: [4, 4], firstKernel: 4, firstStride: 2, kernel: 3 }, 3);
  const x = tf.add(tf.mul(tf.randomNormal([24, 32, 2], 0, 1, 'float32', 5), 3), 7);
  reestimateBatchNorm(tf, model, x, 10);
  const upTo = (name: string) => tf.model({ inputs: model.inputs, outputs: model.getLayer(name).output });
  const act = upTo('block1_conv').predict(x) as tfjs.Tensor;
  const { mean, variance } = tf.moments(act, [0, 1]);
  const [, , movingMean, movingVar] = model.getLayer('block1_bn').getWeights();
  const relErr = (a: tfjs.Tensor, b: tfjs.Tensor) => Math.max(...Array.from(tf.abs(tf.sub(a, b)).dataSync())) / (1 + Math.max(...Array.from(tf.abs(b).dataSync())));
  assert.ok(relErr(movingMean!, mean) < 1e-4);
  assert.ok(relErr(movingVar!, variance) < 1e-3);
  // In inference mode the second block's BN output is then standardized per channel (gamma 1, beta 0 at init).
  const out = tf.moments(upTo('block2_bn').predict(x) as tfjs.Tensor, [0, 1]);
  for (const v of out.mean.dataSync()) assert.ok(Math.abs(v) < 1e-3, `bn2 output mean ${v}`);
  for (const v of out.variance.dataSync()) assert.ok(Math.abs(v - 1) < 0.01, `bn2 output var ${v}`);
  model.dispose();
});

void test('specs: uestc.yaml brings the UESTC rig to the input spec of the all-CWRU backbone it fine-tunes', () => {
  const load = (name: string) => parsePipelineSpecText(readFileSync(join(__dirname, '..', '..', '..', 'specs', `${name}.yaml`), 'utf8'), name);
  const backbone = load('cwru-backbone-all');
  const target = load('uestc');
  assert.equal(target.backbone, `registry:${backbone.modelName}@production`);
  assert.equal(backbone.backbone, undefined, 'a pretraining spec trains from scratch');
  const produced = modelInput(adapterOf(target));
  const expected = modelInput(adapterOf(backbone));
  assert.equal(produced.sampleRateHz, expected.sampleRateHz);
  assert.equal(produced.channels.length, expected.channels.length);
  assert.equal(target.window.length, backbone.window.length);
  assert.deepEqual(resampleRatio(target.sampleRateHz, produced.sampleRateHz), { up: 3, down: 5 });
  // Every spec in specs/ parses.
  for (const f of readdirSync(join(__dirname, '..', '..', '..', 'specs')).filter((n) => n.endsWith('.yaml'))) load(f.replace(/\.yaml$/, ''));
});
