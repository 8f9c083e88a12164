/**
 * One tfjs measurement in its own process: the backend (and TensorFlow's thread pools) are fixed at
 * first load, so each backend gets a fresh process. Prints one JSON line on stdout.
 * argv: <dataDir> <backend cpu|js> <trainBatches> <inferBatches> <threads>
 */
import { performance } from 'node:perf_hooks';
import { loadTf, describeTfBackend } from '../../lib/tf/backend';
import { BATCH, buildBackbone, CHANNELS, NUM_CLASSES, WINDOW } from './model';
import { readWindows } from './data';
import type * as tfTypes from '@tensorflow/tfjs';


async function main(): Promise<void> {
  const [dataDir, backend, trainArg, inferArg, threadsArg] = process.argv.slice(2);
  const threads = Number(threadsArg);
  // Same thread budget as PyTorch's set_num_threads / set_num_interop_threads.
  process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  process.env.TF_NUM_INTEROP_THREADS = String(threads);
  const tf = loadTf({ backend: backend === 'js' ? 'js' : 'cpu' });
  const info = describeTfBackend();
  const { x, y, n } = readWindows(dataDir);

  // Fixed, shuffled batches materialized up front: we measure the model step, not data feeding
  // (the production input pipeline is measured separately); PyTorch gets the same treatment.
  const order = tf.util.createShuffledIndices(n);
  const nb = Math.floor(n / BATCH);
  const batchAt = (b: number): { xb: tfTypes.Tensor; yb: tfTypes.Tensor } => {
    const xs = new Float32Array(BATCH * WINDOW * CHANNELS);
    const ys = new Int32Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const k = order[(b % nb) * BATCH + i];
      xs.set(x.subarray(k * WINDOW * CHANNELS, (k + 1) * WINDOW * CHANNELS), i * WINDOW * CHANNELS);
      ys[i] = y[k];
    }
    return tf.tidy(() => ({ xb: tf.tensor3d(xs, [BATCH, WINDOW, CHANNELS]), yb: tf.oneHot(tf.tensor1d(ys, 'int32'), NUM_CLASSES) }));
  };

  const model = buildBackbone(tf);
  const optimizer = tf.train.adam(1e-3);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const trainBatches = Number(trainArg);
  const inferBatches = Number(inferArg);
  const pool = Array.from({ length: Math.min(nb, Math.max(trainBatches, inferBatches)) }, (_, b) => batchAt(b));
  const warm = backend === 'js' ? 1 : 3;
  const results: Record<string, number> = {};

  // (a) Keras-style model.trainOnBatch: one loss read-back (device sync) per batch.
  for (let i = 0; i < warm; i++) await model.trainOnBatch(pool[i % pool.length].xb, pool[i % pool.length].yb);
  let t0 = performance.now();
  for (let i = 0; i < trainBatches; i++) await model.trainOnBatch(pool[i % pool.length].xb, pool[i % pool.length].yb);
  results.trainOnBatch = (trainBatches * BATCH) / ((performance.now() - t0) / 1000);

  // (b) Custom loop: optimizer.minimize without returning the loss, one sync at the end.
  for (let i = 0; i < warm; i++) minimizeStep(tf, model, optimizer, pool[i % pool.length]);
  t0 = performance.now();
  for (let i = 0; i < trainBatches; i++) minimizeStep(tf, model, optimizer, pool[i % pool.length]);
  await model.getWeights()[0].data(); // the single sync
  results.customLoop = (trainBatches * BATCH) / ((performance.now() - t0) / 1000);

  // Inference: predict in inference mode, one read-back per batch (what a scoring loop does).
  for (let i = 0; i < warm; i++) tf.tidy(() => (model.predict(pool[i % pool.length].xb) as tfTypes.Tensor).dataSync());
  t0 = performance.now();
  for (let i = 0; i < inferBatches; i++) tf.tidy(() => (model.predict(pool[i % pool.length].xb) as tfTypes.Tensor).dataSync());
  results.infer = (inferBatches * BATCH) / ((performance.now() - t0) / 1000);

  process.stdout.write(`${JSON.stringify({ info, threads, n, trainBatches, inferBatches, results, numTensors: tf.memory().numTensors })}\n`);
}

/** categoricalCrossentropy on softmax probabilities, the same loss compile() uses. */
function minimizeStep(tf: ReturnType<typeof loadTf>, model: tfTypes.LayersModel, optimizer: tfTypes.Optimizer, b: { xb: tfTypes.Tensor; yb: tfTypes.Tensor }): void {
  optimizer.minimize(() => {
    const probs = model.apply(b.xb, { training: true }) as tfTypes.Tensor;
    return tf.metrics.categoricalCrossentropy(b.yb, probs).mean<tfTypes.Scalar>();
  }, false);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
