/**
 * One tfjs measurement in its own process: the backend (and TensorFlow's thread pools) are fixed at
 * first load, so each backend gets a fresh process. Prints one JSON line on stdout.
 * argv: <dataDir> <backend cpu|js> <trainBatches> <inferBatches> <threads> [batch] [mode: bench|grads]
 * mode 'grads': one training step from the seeded initial weights on a fixed batch; prints the loss, the
 * gradients and the updated BatchNormalization moving statistics, so run.ts can compare a process with
 * lib/tf/backend.ts' native fast paths (default) against one with PDM_TF_FAST_OPS=0.
 */
import { performance } from 'node:perf_hooks';
import { loadTf, describeTfBackend } from '../../lib/tf/backend';
import { BATCH, buildBackbone, CHANNELS, NUM_CLASSES, WINDOW } from './model';
import { readWindows } from './data';
import type * as tfTypes from '@tensorflow/tfjs';

type Tf = ReturnType<typeof loadTf>;
interface Batch {
  xb: tfTypes.Tensor;
  yb: tfTypes.Tensor;
}

async function main(): Promise<void> {
  const [dataDir = '', backend = 'cpu', trainArg = '60', inferArg = '60', threadsArg = '2', batchArg, mode = 'bench'] = process.argv.slice(2);
  const threads = Number(threadsArg);
  const batch = Number(batchArg ?? BATCH);
  // Same thread budget as PyTorch's set_num_threads / set_num_interop_threads.
  process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  process.env.TF_NUM_INTEROP_THREADS = String(threads);
  const tf = loadTf({ backend: backend === 'js' ? 'js' : 'cpu' });
  const info = describeTfBackend();
  const { x, y, n } = readWindows(dataDir);

  // Fixed, shuffled batches materialized up front: we measure the model step, not data feeding
  // (the production input pipeline is measured separately); PyTorch gets the same treatment.
  const order = mode === 'grads' ? Array.from({ length: n }, (_, i) => (i * 7919) % n) : tf.util.createShuffledIndices(n);
  const nb = Math.floor(n / batch);
  const batchAt = (b: number): Batch => {
    const xs = new Float32Array(batch * WINDOW * CHANNELS);
    const ys = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      const k = order[(b % nb) * batch + i] as number;
      xs.set(x.subarray(k * WINDOW * CHANNELS, (k + 1) * WINDOW * CHANNELS), i * WINDOW * CHANNELS);
      ys[i] = y[k] as number;
    }
    return tf.tidy(() => ({ xb: tf.tensor3d(xs, [batch, WINDOW, CHANNELS]), yb: tf.oneHot(tf.tensor1d(ys, 'int32'), NUM_CLASSES) }));
  };

  const model = buildBackbone(tf);
  const optimizer = tf.train.adam(1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });

  if (mode === 'grads') {
    const b = batchAt(0);
    const { value, grads } = tf.variableGrads(() => lossOf(tf, model, b));
    const out: Record<string, number[]> = { loss: [value.dataSync()[0] as number] };
    for (const [name, g] of Object.entries(grads)) out[`grad:${name.replace(/_\d+\//, '/')}`] = Array.from(g.dataSync());
    for (const w of model.weights) if (/moving/.test(w.originalName)) out[`stat:${w.originalName.replace(/_\d+\//, '/')}`] = Array.from(w.read().dataSync());
    process.stdout.write(`${JSON.stringify({ info, out })}\n`);
    return;
  }

  const trainBatches = Number(trainArg);
  const inferBatches = Number(inferArg);
  const pool = Array.from({ length: Math.min(nb, Math.max(trainBatches, inferBatches, 1)) }, (_, b) => batchAt(b));
  const at = (i: number): Batch => pool[i % pool.length] as Batch;
  const warm = backend === 'js' ? 1 : 3;
  const results: Record<string, number> = {};
  const phaseMs: Record<string, number> = {};

  // (a) Keras-style model.trainOnBatch (what model.fit runs per batch): one loss read-back per batch.
  for (let i = 0; i < warm; i++) await model.trainOnBatch(at(i).xb, at(i).yb);
  let t0 = performance.now();
  for (let i = 0; i < trainBatches; i++) await model.trainOnBatch(at(i).xb, at(i).yb);
  results.trainOnBatch = (trainBatches * batch) / ((performance.now() - t0) / 1000);

  // (b) Custom loop: optimizer.minimize without returning the loss, one sync at the end.
  for (let i = 0; i < warm; i++) minimizeStep(tf, model, optimizer, at(i));
  t0 = performance.now();
  for (let i = 0; i < trainBatches; i++) minimizeStep(tf, model, optimizer, at(i));
  await model.getWeights()[0]?.data(); // the single sync
  results.customLoop = (trainBatches * batch) / ((performance.now() - t0) / 1000);

  if (inferBatches > 0) {
    // Where a training step's time goes: forward (training mode, with loss), forward+backward, and the rest
    // (optimizer) by difference from the custom loop.
    const reps = backend === 'js' ? 0 : Math.min(trainBatches, 30); // pure JS: too slow to be worth it
    t0 = performance.now();
    for (let i = 0; i < reps; i++) tf.tidy(() => void lossOf(tf, model, at(i)).dataSync());
    phaseMs.forward = (performance.now() - t0) / Math.max(reps, 1);
    t0 = performance.now();
    for (let i = 0; i < reps; i++) tf.tidy(() => void Object.values(tf.variableGrads(() => lossOf(tf, model, at(i))).grads)[0]?.dataSync());
    phaseMs.forwardBackward = (performance.now() - t0) / Math.max(reps, 1);
    phaseMs.step = (batch * 1000) / results.customLoop;
    phaseMs.optimizer = phaseMs.step - phaseMs.forwardBackward;
    if (reps > 0) phaseMs.kernelsPerStep = (await tf.profile(() => minimizeStep(tf, model, optimizer, at(0)))).kernels.length;

    // Inference: predict in inference mode, one read-back per batch (what a scoring loop does).
    for (let i = 0; i < warm; i++) tf.tidy(() => (model.predict(at(i).xb) as tfTypes.Tensor).dataSync());
    t0 = performance.now();
    for (let i = 0; i < inferBatches; i++) tf.tidy(() => (model.predict(at(i).xb) as tfTypes.Tensor).dataSync());
    results.infer = (inferBatches * batch) / ((performance.now() - t0) / 1000);
  }

  process.stdout.write(`${JSON.stringify({ info, threads, batch, n, trainBatches, inferBatches, results, phaseMs, numTensors: tf.memory().numTensors })}\n`);
}

/** categoricalCrossentropy on softmax probabilities, the same loss compile() uses. */
function lossOf(tf: Tf, model: tfTypes.LayersModel, b: Batch): tfTypes.Scalar {
  const probs = model.apply(b.xb, { training: true }) as tfTypes.Tensor;
  return tf.metrics.categoricalCrossentropy(b.yb, probs).mean<tfTypes.Scalar>();
}

function minimizeStep(tf: Tf, model: tfTypes.LayersModel, optimizer: tfTypes.Optimizer, b: Batch): void {
  optimizer.minimize(() => lossOf(tf, model, b), false);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
