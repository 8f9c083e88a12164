/**
 * The bench's own copy of the backbone, mirroring lib/model/backbone.ts (keep the two in sync; the
 * PyTorch twin is in torch_bench.py). Kept separate so the benchmark measures a fixed architecture
 * even while the production model evolves. Channels-last input [batch, 1024, 2].
 */
import type { Tf } from '../../lib/tf/backend';
import type * as tfTypes from '@tensorflow/tfjs';

export const WINDOW = 1024;
export const CHANNELS = 2;
export const NUM_CLASSES = 10;
export const BATCH = 64;

/** Seeded like lib/model/backbone.ts so two processes (fast paths on/off) start from identical weights. */
export function buildBackbone(tf: Tf, seed = 42): tfTypes.LayersModel {
  const input = tf.input({ shape: [WINDOW, CHANNELS] });
  let x = input;
  let i = 0;
  const block = (filters: number, kernelSize: number, strides: number): void => {
    // No conv bias, as in lib/model/backbone.ts: the following BatchNormalization's beta subsumes it.
    x = tf.layers
      .conv1d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed + i++ }) })
      .apply(x) as tfTypes.SymbolicTensor;
    x = tf.layers.batchNormalization().apply(x) as tfTypes.SymbolicTensor;
    x = tf.layers.reLU().apply(x) as tfTypes.SymbolicTensor;
    x = tf.layers.maxPooling1d({ poolSize: 2 }).apply(x) as tfTypes.SymbolicTensor;
  };
  block(16, 64, 8); // wide first kernel: a learned band-pass over ~5 ms of 12 kHz vibration
  block(32, 3, 1);
  block(64, 3, 1);
  block(64, 3, 1);
  const features = tf.layers.globalAveragePooling1d({ name: 'features' }).apply(x) as tfTypes.SymbolicTensor;
  const out = tf.layers.dense({ units: NUM_CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1000 }) }).apply(features) as tfTypes.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}
