import type { WindowBatch } from '../arrow/window-shards';
import type { Normalization } from '../data/normalization';
import { normalizedWindows } from '../dataset/load-split';
import { argmaxRows, classificationMetrics, ClassificationMetrics } from './metrics';
import type { LayersModel, Tensor, Tf } from './tf-types';

/** Runs the model over a batch (with the model's own normalization) and scores it. */
export async function evaluateModel(
  tf: Tf,
  model: LayersModel,
  batch: WindowBatch,
  norm: Normalization,
  classes: string[],
  chunk = 512,
): Promise<ClassificationMetrics> {
  const x = normalizedWindows(batch, norm);
  const width = batch.length * batch.channels;
  const predicted = new Int32Array(batch.count);
  for (let s = 0; s < batch.count; s += chunk) {
    const e = Math.min(batch.count, s + chunk);
    const probs = tf.tidy(() => {
      const input = tf.tensor3d(x.subarray(s * width, e * width), [e - s, batch.length, batch.channels]);
      return model.predict(input) as Tensor;
    });
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    predicted.set(argmaxRows(data, classes.length), s);
  }
  return classificationMetrics(batch.labels, predicted, classes);
}
