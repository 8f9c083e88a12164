import type { ArchitectureConfig } from '../spec/pipeline-spec';
import type { LayersModel, Tensor, Tf } from './tf-types';

/** Name of the layer whose output is the backbone's feature vector; heads attach here. */
export const FEATURE_LAYER = 'features';
export const HEAD_LAYER = 'head';

export interface InputShape {
  length: number;
  channels: number;
}

/**
 * A WDCNN-style 1D CNN for raw vibration windows: a wide, strided first kernel acts as a learned
 * band-pass filter bank and cuts the sequence length early (cheap on CPU), then small kernels stack
 * up receptive field. Global average pooling makes the features independent of exact timing.
 */
export function buildClassifier(tf: Tf, input: InputShape, numClasses: number, arch: ArchitectureConfig, seed = 42): LayersModel {
  const inp = tf.input({ shape: [input.length, input.channels], name: 'window' });
  let x = inp;
  arch.filters.forEach((filters, i) => {
    const first = i === 0;
    x = tf.layers
      .conv1d({
        filters,
        kernelSize: first ? arch.firstKernel : arch.kernel,
        strides: first ? arch.firstStride : 1,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
        name: `block${i + 1}_conv`,
      })
      .apply(x) as typeof x;
    x = tf.layers.batchNormalization({ name: `block${i + 1}_bn` }).apply(x) as typeof x;
    x = tf.layers.reLU({ name: `block${i + 1}_relu` }).apply(x) as typeof x;
    x = tf.layers.maxPooling1d({ poolSize: 2, padding: 'same', name: `block${i + 1}_pool` }).apply(x) as typeof x;
  });
  const features = tf.layers.globalAveragePooling1d({ name: FEATURE_LAYER }).apply(x) as typeof x;
  const out = headLayer(tf, numClasses, seed).apply(features) as typeof x;
  return tf.model({ inputs: inp, outputs: out, name: 'pdm_classifier' });
}

function headLayer(tf: Tf, numClasses: number, seed: number) {
  return tf.layers.dense({
    units: numClasses,
    activation: 'softmax',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1000 }),
    name: HEAD_LAYER,
  });
}

/** Backbone up to its feature layer plus a fresh head for `numClasses` classes. */
export function withNewHead(tf: Tf, backbone: LayersModel, numClasses: number, seed = 42): LayersModel {
  const features = backbone.getLayer(FEATURE_LAYER).output as ReturnType<Tf['input']>;
  const out = headLayer(tf, numClasses, seed).apply(features) as ReturnType<Tf['input']>;
  return tf.model({ inputs: backbone.inputs, outputs: out, name: 'pdm_finetuned' });
}

/** Number of conv blocks (layers named block<i>_*) of a model built by buildClassifier. */
export function blockCount(model: LayersModel): number {
  let n = 0;
  for (const layer of model.layers) {
    const m = /^block(\d+)_/.exec(layer.name);
    if (m) n = Math.max(n, Number(m[1]));
  }
  return n;
}

/**
 * Freezes (or unfreezes) every layer but the head. With `topBlocks` > 0 and trainable, only the top
 * `topBlocks` conv blocks become trainable and the lower ones stay frozen. Recompile afterwards.
 */
export function setBackboneTrainable(model: LayersModel, trainable: boolean, topBlocks = 0): void {
  const blocks = blockCount(model);
  for (const layer of model.layers) {
    if (layer.name === HEAD_LAYER) continue;
    const m = /^block(\d+)_/.exec(layer.name);
    const inTop = topBlocks <= 0 || (m !== null && Number(m[1]) > blocks - topBlocks);
    layer.trainable = trainable && inTop;
  }
}

export function inputShapeOf(model: LayersModel): InputShape {
  const shape = model.inputs[0]!.shape;
  return { length: shape[1] as number, channels: shape[2] as number };
}

/**
 * Re-estimates every BatchNormalization layer's moving mean/variance on `x` (the target's training windows),
 * layer by layer from the input up, so inference-mode statistics describe the target domain instead of the
 * pretraining data (AdaBN). Weights are untouched. tfjs-layers updates moving statistics with momentum 0.99
 * per training step, so without this a few-label fine-tune (a handful of steps per epoch) validates and tests
 * for many epochs with statistics that are still mostly the source domain's.
 */
export function reestimateBatchNorm(tf: Tf, model: LayersModel, x: Tensor, chunk = 256): void {
  const n = x.shape[0];
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input });
    let sum: Tensor | null = null;
    let sumSq: Tensor | null = null;
    let count = 0;
    const accumulate = (acc: Tensor | null, v: Tensor): Tensor => {
      if (!acc) return v;
      const next = tf.add(acc, v);
      tf.dispose([acc, v]);
      return next;
    };
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      const act: Tensor = tf.tidy(() => probe.predict(tf.slice(x, [s, 0, 0], [e - s, -1, -1])) as Tensor);
      const axes = [...Array(act.rank - 1).keys()];
      sum = accumulate(sum, tf.sum(act, axes));
      sumSq = accumulate(sumSq, tf.tidy(() => tf.sum(tf.square(act), axes)));
      count += act.size / act.shape[act.rank - 1]!;
      act.dispose();
    }
    if (!sum || !sumSq) return;
    const [gamma, beta] = layer.getWeights();
    const total = count;
    const mean = tf.div(sum, total);
    const sq = sumSq;
    const variance = tf.tidy(() => tf.relu(tf.sub(tf.div(sq, total), tf.square(mean))));
    layer.setWeights([gamma!, beta!, mean, variance]);
    tf.dispose([sum, sumSq, mean, variance]);
  }
}
