import { setBackboneTrainable } from './backbone';
import { decodeTensorBundle, encodeTensorBundle } from './tensor-bundle';
import type { LayersModel, Tensor, Tf } from './tf-types';

/**
 * Phased training with early stopping and resumable progress. Fine-tuning runs a head phase on a
 * frozen backbone, then a full phase with a smaller learning rate; training from scratch is a
 * single phase. Progress plus a weights snapshot after every epoch is all a retry needs to resume.
 */
export interface Phase {
  name: 'head' | 'full' | 'scratch';
  maxEpochs: number;
  learningRate: number;
  backboneTrainable: boolean;
}

export interface EpochRecord {
  phase: Phase['name'];
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
  windows: number;
}

export interface TrainProgress {
  phaseIndex: number;
  /** Epochs completed in the current phase. */
  epochInPhase: number;
  bestValLoss: number | null;
  bestEpoch: number | null;
  epochsSinceBest: number;
  stoppedEarly: boolean;
  history: EpochRecord[];
  done: boolean;
}

export interface TrainData {
  xTrain: Tensor;
  yTrain: Tensor;
  xVal: Tensor;
  yVal: Tensor;
  classWeight?: Record<number, number>;
}

export interface TrainOptions {
  batchSize: number;
  patience: number;
  /** Snapshot of a previous attempt: progress plus the tensor bundle written by `snapshot`. */
  resume?: { progress: TrainProgress; bundle: Uint8Array };
  /** Called after each epoch; `snapshot` serializes weights + best weights + optimizer state. */
  onEpochEnd: (progress: TrainProgress, snapshot: () => Promise<Uint8Array>) => Promise<void>;
  onBatchEnd?: (batch: number, batches: number) => void;
}

export function freshProgress(): TrainProgress {
  return { phaseIndex: 0, epochInPhase: 0, bestValLoss: null, bestEpoch: null, epochsSinceBest: 0, stoppedEarly: false, history: [], done: false };
}

function scalar(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return scalar(v[0]);
  return (v as Tensor).dataSync()[0]!;
}

export async function runTraining(tf: Tf, model: LayersModel, data: TrainData, phases: Phase[], opts: TrainOptions): Promise<TrainProgress> {
  const progress: TrainProgress = opts.resume ? structuredClone(opts.resume.progress) : freshProgress();
  let best: Tensor[] | null = null;
  let restoredOptimizer: Tensor[] | null = null;

  if (opts.resume) {
    const bundle = decodeTensorBundle(tf, opts.resume.bundle);
    const pick = (prefix: string) => bundle.filter((b) => b.name.startsWith(prefix));
    model.setWeights(pick('w/').map((b) => b.tensor));
    const b = pick('b/');
    best = b.length ? b.map((x) => x.tensor) : null;
    const o = pick('o/');
    restoredOptimizer = o.length ? o.map((x) => x.tensor) : null;
    for (const t of pick('w/')) t.tensor.dispose();
  }

  const nTrain = data.xTrain.shape[0];
  const batches = Math.ceil(nTrain / opts.batchSize);

  for (; progress.phaseIndex < phases.length && !progress.done; progress.phaseIndex++) {
    const phase = phases[progress.phaseIndex]!;
    if (phase.maxEpochs === 0) {
      progress.epochInPhase = 0;
      continue;
    }
    setBackboneTrainable(model, phase.backboneTrainable || phase.name === 'scratch');
    const optimizer = tf.train.adam(phase.learningRate);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    if (restoredOptimizer && progress.epochInPhase > 0) {
      await optimizer.setWeights(restoredOptimizer.map((tensor, i) => ({ name: `slot_${i}`, tensor })));
    }
    restoredOptimizer = null;

    while (progress.epochInPhase < phase.maxEpochs && progress.epochsSinceBest < opts.patience) {
      const started = performance.now();
      const h = await model.fit(data.xTrain, data.yTrain, {
        epochs: 1,
        batchSize: opts.batchSize,
        shuffle: true,
        verbose: 0,
        classWeight: data.classWeight,
        callbacks: opts.onBatchEnd
          ? {
              onBatchEnd: (batch) => {
                opts.onBatchEnd!(batch + 1, batches);
                return Promise.resolve();
              },
            }
          : undefined,
      });
      const evalOut = model.evaluate(data.xVal, data.yVal, { batchSize: 256 }) as Tensor[];
      const valLoss = scalar(evalOut[0]);
      const valAccuracy = scalar(evalOut[1]);
      tf.dispose(evalOut);
      progress.epochInPhase++;
      progress.history.push({
        phase: phase.name,
        epoch: progress.history.length + 1,
        loss: scalar(h.history['loss']),
        accuracy: scalar(h.history['acc'] ?? h.history['accuracy']),
        valLoss,
        valAccuracy,
        seconds: (performance.now() - started) / 1000,
        windows: nTrain,
      });
      if (progress.bestValLoss === null || valLoss < progress.bestValLoss - 1e-6) {
        progress.bestValLoss = valLoss;
        progress.bestEpoch = progress.history.length;
        progress.epochsSinceBest = 0;
        if (best) tf.dispose(best);
        best = model.getWeights().map((w) => w.clone());
      } else {
        progress.epochsSinceBest++;
      }
      const phaseOver = progress.epochsSinceBest >= opts.patience || progress.epochInPhase >= phase.maxEpochs;
      if (progress.epochsSinceBest >= opts.patience) progress.stoppedEarly = true;
      const snapshotBest = best;
      await opts.onEpochEnd(progress, async () => {
        const named: { name: string; tensor: Tensor }[] = [];
        model.getWeights().forEach((w, i) => named.push({ name: `w/${i}`, tensor: w }));
        snapshotBest?.forEach((w, i) => named.push({ name: `b/${i}`, tensor: w }));
        (await optimizer.getWeights()).forEach((w, i) => named.push({ name: `o/${i}`, tensor: w.tensor }));
        return encodeTensorBundle(named);
      });
      if (phaseOver) break;
    }
    // Each phase ends on the best weights seen so far, so the next phase starts from them.
    if (best) model.setWeights(best);
    progress.epochInPhase = 0;
    progress.epochsSinceBest = 0;
  }
  progress.done = true;
  if (best) tf.dispose(best);
  return progress;
}

/** Inverse-frequency class weights, normalised so that the mean weight is 1. */
export function inverseFrequencyWeights(labels: Int32Array, numClasses: number): Record<number, number> {
  const counts = new Array<number>(numClasses).fill(0);
  for (const l of labels) counts[l]!++;
  const present = counts.filter((c) => c > 0).length;
  const out: Record<number, number> = {};
  counts.forEach((c, i) => {
    if (c > 0) out[i] = labels.length / (present * c);
  });
  return out;
}
