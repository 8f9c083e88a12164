import { CancelledFailure, Context } from '@temporalio/activity';
import { buildClassifier, FEATURE_LAYER, withNewHead } from '../lib/model/backbone';
import { capPerClass, loadSplit, normalizedWindows } from '../lib/dataset/load-split';
import { STEP_VERSIONS } from '../lib/dataset/manifests';
import { stepHash } from '../lib/hash';
import { loadModelFrom, ModelDigest, modelLocationFromUri, saveModelToStore } from '../lib/model/model-io';
import type { Tensor } from '../lib/model/tf-types';
import { EpochRecord, inverseFrequencyWeights, Phase, phasesFor, runTraining, TrainProgress } from '../lib/model/train';
import { getJson, putJson, s3Uri } from '../lib/storage/blob-store';
import { parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { ModelDeps, StepOptions } from './deps';
import { typedFailures } from './failures';
import { BackboneRef, loadDatasetManifest } from './model';

export interface TrainResult {
  /** Content address of the training inputs; also the model version id's source. */
  trainingHash: string;
  modelPrefix: string;
  modelUri: string;
  digest: ModelDigest;
  epochs: number;
  bestEpoch: number | null;
  bestValLoss: number | null;
  stoppedEarly: boolean;
  history: EpochRecord[];
  /** Epochs already done by an earlier attempt when this one started (null: started fresh). */
  resumedFromEpoch: number | null;
  trainWindows: number;
  windowsProcessed: number;
  wallSeconds: number;
  reused: boolean;
}

/** What a retry needs to resume; also what the Temporal UI shows as the activity's progress. */
export interface TrainHeartbeat {
  phase: Phase['name'] | 'loading';
  /** Epochs completed (after an epoch) or the epoch in progress (with batch/batches). */
  epoch: number;
  batch?: number;
  batches?: number;
  checkpointStateKey?: string;
  bestValLoss?: number | null;
  lastValAccuracy?: number;
  history?: EpochRecord[];
}

interface CheckpointState {
  trainingHash: string;
  progress: TrainProgress;
  bundleKey: string;
}

export function createTrainingActivities(deps: ModelDeps) {
  return {
    /**
     * Trains a classifier on a dataset version: with a backbone, a frozen-backbone head phase then a
     * full phase at a smaller learning rate; without one, from scratch (pretraining). Checkpoints
     * weights and optimizer state to S3 after every epoch and resumes from them on retry.
     */
    async train(specInput: PipelineSpecInput, datasetVersion: string, backbone: BackboneRef | null, opts: StepOptions = {}): Promise<TrainResult> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(specInput);
        const ctx = Context.current();
        const { tf } = deps;
        const t = spec.training;
        const trainingHash = stepHash('train', {
          v: STEP_VERSIONS.train,
          datasetVersion,
          backbone: backbone ? backbone.digest : null,
          architecture: backbone ? null : spec.architecture,
          training: t,
        });
        const modelPrefix = `artifacts/models/${trainingHash}`;
        const resultKey = `${modelPrefix}/result.json`;
        const done = opts.force ? null : await getJson<TrainResult>(deps.store, resultKey);
        if (done) return { ...done.value, reused: true };

        const started = performance.now();
        ctx.heartbeat({ phase: 'loading', epoch: 0 } satisfies TrainHeartbeat);
        const dataset = await loadDatasetManifest(deps, datasetVersion);
        const classes = dataset.classes;
        const trainBatch = capPerClass(await loadSplit(deps.store, dataset, 'train'), t.maxTrainWindowsPerClass, t.seed);
        const valBatch = await loadSplit(deps.store, dataset, 'validation');
        const shape = (n: number) => [n, dataset.inputShape.length, dataset.inputShape.channels] as [number, number, number];

        const model = backbone
          ? withNewHead(tf, (await loadModelFrom(tf, modelLocationFromUri(backbone.uri, (b) => deps.storeFor(b)), backbone.digest)).model, classes.length, t.seed)
          : buildClassifier(tf, dataset.inputShape, classes.length, spec.architecture, t.seed);
        // Fine-tuning strategy (two-phase, linear probe, full) from the spec; one phase from scratch.
        const phases: Phase[] = phasesFor(t, backbone !== null);

        const stateKey = `artifacts/checkpoints/${trainingHash}/state.json`;
        const details = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
        // S3 holds the checkpoint; heartbeat details tell where it is (and survive a lost state read).
        // --force starts over, except when this is a retry of the forced attempt itself (it has heartbeat details).
        if (opts.force && !details) await deps.store.delete(stateKey);
        const state = (await getJson<CheckpointState>(deps.store, details?.checkpointStateKey ?? stateKey))?.value;
        const resume = state ? { progress: state.progress, bundle: (await deps.store.get(state.bundleKey)).body } : undefined;
        const resumedFromEpoch = state ? state.progress.history.length : null;
        if (state) ctx.log.info('train: resuming from checkpoint', { trainingHash, epoch: resumedFromEpoch, attempt: ctx.info.attempt });

        const tensors: Tensor[] = [];
        const keep = <T extends Tensor>(x: T): T => (tensors.push(x), x);
        try {
          const data = {
            xTrain: keep(tf.tensor3d(normalizedWindows(trainBatch, dataset.normalization), shape(trainBatch.count))),
            yTrain: keep(tf.oneHot(tf.tensor1d(trainBatch.labels, 'int32'), classes.length)),
            xVal: keep(tf.tensor3d(normalizedWindows(valBatch, dataset.normalization), shape(valBatch.count))),
            yVal: keep(tf.oneHot(tf.tensor1d(valBatch.labels, 'int32'), classes.length)),
            classWeight: t.classWeights ? inverseFrequencyWeights(trainBatch.labels, classes.length) : undefined,
          };
          let currentPhase: Phase['name'] = phases[resume?.progress.phaseIndex ?? 0]?.name ?? 'full';
          let lastCheckpoint = state?.bundleKey;
          let epochsDone = resumedFromEpoch ?? 0;
          let lastValAccuracy = state?.progress.history.at(-1)?.valAccuracy;
          const progress = await runTraining(tf, model, data, phases, {
            batchSize: t.batchSize,
            patience: t.patience,
            augment: t.augment,
            minWindowsPerEpoch: t.minWindowsPerEpoch,
            seed: t.seed,
            adaptBatchNorm: backbone !== null && t.adaptBatchNorm,
            resume,
            onBatchEnd: (batch, batches) => {
              if (ctx.cancellationSignal.aborted) throw new CancelledFailure('fine-tune cancelled');
              ctx.heartbeat({ phase: currentPhase, epoch: epochsDone + 1, batch, batches, lastValAccuracy, checkpointStateKey: lastCheckpoint ? stateKey : undefined } satisfies TrainHeartbeat);
            },
            onEpochEnd: async (p, snapshot) => {
              const epoch = p.history.length;
              epochsDone = epoch;
              currentPhase = p.history[epoch - 1]!.phase;
              const bundleKey = `artifacts/checkpoints/${trainingHash}/epoch-${String(epoch).padStart(4, '0')}.bin`;
              await deps.store.put(bundleKey, await snapshot(), { contentType: 'application/octet-stream' });
              await putJson(deps.store, stateKey, { trainingHash, progress: p, bundleKey } satisfies CheckpointState);
              if (lastCheckpoint && lastCheckpoint !== bundleKey) await deps.store.delete(lastCheckpoint);
              lastCheckpoint = bundleKey;
              const last = p.history[epoch - 1]!;
              lastValAccuracy = last.valAccuracy;
              ctx.log.info('train: epoch done', { epoch, phase: last.phase, loss: last.loss, valLoss: last.valLoss, valAccuracy: last.valAccuracy });
              ctx.heartbeat({ phase: last.phase, epoch, checkpointStateKey: stateKey, bestValLoss: p.bestValLoss, lastValAccuracy, history: p.history } satisfies TrainHeartbeat);
            },
          });

          const stored = await saveModelToStore(tf, model, deps.store, modelPrefix);
          const result: TrainResult = {
            trainingHash,
            modelPrefix,
            modelUri: s3Uri(deps.store.bucket, modelPrefix),
            digest: stored.digest,
            epochs: progress.history.length,
            bestEpoch: progress.bestEpoch,
            bestValLoss: progress.bestValLoss,
            stoppedEarly: progress.stoppedEarly,
            history: progress.history,
            resumedFromEpoch,
            trainWindows: trainBatch.count,
            windowsProcessed: progress.history.reduce((n, h) => n + h.windows, 0),
            wallSeconds: (performance.now() - started) / 1000,
            reused: false,
          };
          await putJson(deps.store, resultKey, result);
          // The committed model supersedes the checkpoints; a retry now finds result.json instead.
          await deps.store.delete(stateKey);
          if (lastCheckpoint) await deps.store.delete(lastCheckpoint);
          return result;
        } finally {
          tf.dispose(tensors);
          model.dispose();
        }
      });
    },
  };
}

export { FEATURE_LAYER };
export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
