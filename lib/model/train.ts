import { seededRandom } from '../random';
import type { TrainingConfig } from '../spec/pipeline-spec';
import { reestimateBatchNorm, setBackboneTrainable } from './backbone';
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
  /** With backboneTrainable: only the top N conv blocks are unfrozen (0 or absent: all). */
  unfreezeBlocks?: number;
}

/** Per-epoch training-set augmentation (see TrainingSpec.augment). */
export interface AugmentConfig {
  shift: number;
  noiseStd: number;
  scale: number;
}

/** The phases a training config asks for: fine-tuning strategies with a backbone, one phase from scratch. */
export function phasesFor(t: Pick<TrainingConfig, 'strategy' | 'headEpochs' | 'epochs' | 'learningRate' | 'unfreezeLearningRate' | 'unfreezeBlocks'>, fineTune: boolean): Phase[] {
  if (!fineTune) return [{ name: 'scratch', maxEpochs: t.epochs, learningRate: t.learningRate, backboneTrainable: true }];
  switch (t.strategy) {
    case 'linear-probe':
      return [{ name: 'head', maxEpochs: t.epochs, learningRate: t.learningRate, backboneTrainable: false }];
    case 'full':
      return [{ name: 'full', maxEpochs: t.epochs, learningRate: t.unfreezeLearningRate, backboneTrainable: true }];
    case 'two-phase':
      return [
        { name: 'head', maxEpochs: t.headEpochs, learningRate: t.learningRate, backboneTrainable: false },
        { name: 'full', maxEpochs: t.epochs, learningRate: t.unfreezeLearningRate, backboneTrainable: true, unfreezeBlocks: t.unfreezeBlocks },
      ];
  }
}

function augmentActive(a: AugmentConfig | undefined): a is AugmentConfig {
  return !!a && (a.shift > 0 || a.noiseStd > 0 || a.scale > 0);
}

/**
 * Writes `repeats` augmented copies of the windows `x` ([n, length, channels], channels-last) into a new
 * array: circular shift by up to shift * length samples, amplitude scaling in [1 - scale, 1 + scale] and
 * gaussian noise of std noiseStd; one draw per window (shift, scale) or sample (noise) from `rand`.
 */
export function augmentWindows(x: Float32Array, n: number, length: number, channels: number, repeats: number, a: AugmentConfig | undefined, rand: () => number): Float32Array {
  const width = length * channels;
  const out = new Float32Array(n * repeats * width);
  const on = augmentActive(a);
  const maxShift = on ? Math.floor(a.shift * length) : 0;
  let spare: number | null = null;
  const gauss = (): number => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    const u = Math.max(rand(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * rand();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
  for (let rep = 0; rep < repeats; rep++) {
    for (let w = 0; w < n; w++) {
      const src = w * width;
      const dst = (rep * n + w) * width;
      if (!on) {
        out.set(x.subarray(src, src + width), dst);
        continue;
      }
      const shift = maxShift > 0 ? Math.floor(rand() * (2 * maxShift + 1)) - maxShift : 0;
      const s = ((shift % length) + length) % length;
      const gain = a.scale > 0 ? 1 + (2 * rand() - 1) * a.scale : 1;
      // out[t] = x[(t + s) mod length]: the part after s first, then the wrapped start.
      const head = (length - s) * channels;
      for (let i = 0; i < head; i++) out[dst + i] = x[src + s * channels + i]! * gain;
      for (let i = 0; i < s * channels; i++) out[dst + head + i] = x[src + i]! * gain;
      if (a.noiseStd > 0) for (let i = 0; i < width; i++) out[dst + i]! += a.noiseStd * gauss();
    }
  }
  return out;
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
  /** Training-set augmentation, drawn per epoch from `seed` and the epoch number (so a resumed run redraws the same). */
  augment?: AugmentConfig;
  /** An epoch repeats the training set until it covers at least this many windows (0: one pass). */
  minWindowsPerEpoch?: number;
  seed?: number;
  /** Re-estimate BatchNorm statistics on the training windows before the first epoch (fine-tuning; not on resume). */
  adaptBatchNorm?: boolean;
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
  let adaptSeconds = 0;
  if (opts.adaptBatchNorm && !opts.resume) {
    const t0 = performance.now();
    reestimateBatchNorm(tf, model, data.xTrain);
    adaptSeconds = (performance.now() - t0) / 1000;
  }
  const repeats = opts.minWindowsPerEpoch && nTrain > 0 ? Math.max(1, Math.ceil(opts.minWindowsPerEpoch / nTrain)) : 1;
  const perEpoch = nTrain * repeats;
  const batches = Math.ceil(perEpoch / opts.batchSize);
  const fresh = augmentActive(opts.augment) || repeats > 1;
  const [, length, channels] = data.xTrain.shape as unknown as [number, number, number];
  const rawX = fresh ? (data.xTrain.dataSync() as Float32Array) : null;
  const yEpoch = fresh && repeats > 1 ? tf.tile(data.yTrain, [repeats, 1]) : data.yTrain;

  for (; progress.phaseIndex < phases.length && !progress.done; progress.phaseIndex++) {
    const phase = phases[progress.phaseIndex]!;
    if (phase.maxEpochs === 0) {
      progress.epochInPhase = 0;
      continue;
    }
    setBackboneTrainable(model, phase.backboneTrainable || phase.name === 'scratch', phase.name === 'scratch' ? 0 : (phase.unfreezeBlocks ?? 0));
    const optimizer = tf.train.adam(phase.learningRate);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    if (restoredOptimizer && progress.epochInPhase > 0) {
      await optimizer.setWeights(restoredOptimizer.map((tensor, i) => ({ name: `slot_${i}`, tensor })));
    }
    restoredOptimizer = null;

    while (progress.epochInPhase < phase.maxEpochs && progress.epochsSinceBest < opts.patience) {
      const started = performance.now();
      const epochIndex = progress.history.length;
      const xEpoch = rawX
        ? tf.tensor3d(augmentWindows(rawX, nTrain, length, channels, repeats, opts.augment, seededRandom(((opts.seed ?? 0) * 7919 + epochIndex * 104729 + 1) >>> 0)), [perEpoch, length, channels])
        : data.xTrain;
      const h = await model.fit(xEpoch, yEpoch, {
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
      if (xEpoch !== data.xTrain) xEpoch.dispose();
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
        seconds: (performance.now() - started) / 1000 + (progress.history.length === 0 ? adaptSeconds : 0),
        windows: perEpoch,
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
  if (yEpoch !== data.yTrain) yEpoch.dispose();
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
