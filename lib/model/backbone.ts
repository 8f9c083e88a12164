import type { ArchitectureConfig } from '../spec/pipeline-spec';
import type { LayersModel, Tf } from './tf-types';

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

/** Freezes (or unfreezes) every layer but the head. The model must be recompiled afterwards. */
export function setBackboneTrainable(model: LayersModel, trainable: boolean): void {
  for (const layer of model.layers) {
    if (layer.name !== HEAD_LAYER) layer.trainable = trainable;
  }
}

export function inputShapeOf(model: LayersModel): InputShape {
  const shape = model.inputs[0]!.shape;
  return { length: shape[1] as number, channels: shape[2] as number };
}
