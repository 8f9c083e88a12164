/** The tfjs namespace, whatever backend (tfjs-node-gpu, tfjs-node, pure JS) provided it. */
export type Tf = typeof import('@tensorflow/tfjs');
export type LayersModel = import('@tensorflow/tfjs').LayersModel;
export type Tensor = import('@tensorflow/tfjs').Tensor;
