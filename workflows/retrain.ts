import { ActivityCancellationType, defineQuery, proxyActivities, RetryPolicy, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import type { PipelineSpecInput } from '../lib/spec/pipeline-spec';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE, NON_RETRYABLE_TYPES, SA_ASSET_ID, SA_DATASET_VERSION, SA_MODEL_NAME, SA_PIPELINE_STEP } from './shared';

type Activities = ReturnType<typeof activities.createIngestActivities> &
  ReturnType<typeof activities.createPreprocessActivities> &
  ReturnType<typeof activities.createModelActivities> &
  ReturnType<typeof activities.createTrainingActivities> &
  ReturnType<typeof activities.createValidationActivities> &
  ReturnType<typeof activities.createRegistryActivities>;

const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE_TYPES };

/** Data steps: I/O-bound, heartbeat per object so a dead worker is noticed within half a minute. */
const cpu = proxyActivities<Activities>({
  taskQueue: CPU_TASK_QUEUE,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry,
});

/**
 * Training runs on the GPU queue. The heartbeat timeout is short so that a killed worker is noticed
 * in seconds; the retry resumes from the last epoch's checkpoint, so a loss costs at most one epoch.
 */
const gpu = proxyActivities<Activities>({
  taskQueue: GPU_TASK_QUEUE,
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '15 seconds',
  // A cancelled run ends only once training has stopped and released its worker slot.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
});

export type Step = 'ingest' | 'preprocess' | 'loadBackbone' | 'fineTune' | 'validate' | 'promote' | 'done';

export interface RetrainProgress {
  step: Step;
  datasetVersion?: string;
  reused: Partial<Record<Step, boolean>>;
}

export interface RetrainOutcome {
  assetId: string;
  modelName: string;
  datasetVersion: string;
  ingest: activities.IngestResult;
  preprocess: activities.PreprocessResult;
  backbone: activities.BackboneRef | null;
  training: Omit<activities.TrainResult, 'history'> & { lastEpoch: activities.TrainResult['history'][number] | null };
  validation: activities.ValidationResult;
  promotion: activities.PromoteResult;
  reused: Partial<Record<Step, boolean>>;
}

export const progressQuery = defineQuery<RetrainProgress>('progress');

export interface PipelineOptions {
  /** Recompute every step even where an output for the same inputs exists. */
  force?: boolean;
}

interface RunOptions extends PipelineOptions {
  /** Train from scratch and register as a backbone (pretraining) instead of fine-tuning. */
  pretrain?: boolean;
}

/** The pipeline shared by retraining and pretraining; only the backbone step and the model kind differ. */
export async function runPipeline(spec: PipelineSpecInput, options: RunOptions = {}): Promise<RetrainOutcome> {
  const modelName = spec.modelName ?? spec.assetId;
  const progress: RetrainProgress = { step: 'ingest', reused: {} };
  setHandler(progressQuery, () => progress);
  const enter = (step: Step) => {
    progress.step = step;
    upsertSearchAttributes([{ key: SA_PIPELINE_STEP, value: step }]);
  };
  upsertSearchAttributes([
    { key: SA_ASSET_ID, value: spec.assetId },
    { key: SA_MODEL_NAME, value: modelName },
  ]);

  enter('ingest');
  const step = { force: options.force ?? false };
  const ingest = await cpu.ingest(spec, step);
  progress.reused.ingest = ingest.reused;

  enter('preprocess');
  const preprocess = await cpu.preprocess(spec, ingest.datasetHash, step);
  progress.reused.preprocess = preprocess.reused;
  progress.datasetVersion = preprocess.datasetVersion;
  upsertSearchAttributes([{ key: SA_DATASET_VERSION, value: preprocess.datasetVersion }]);

  let backbone: activities.BackboneRef | null = null;
  if (!options.pretrain) {
    enter('loadBackbone');
    backbone = await cpu.loadBackbone(spec, preprocess.datasetVersion);
  }

  enter('fineTune');
  const trained = await gpu.train(spec, preprocess.datasetVersion, backbone, step);
  progress.reused.fineTune = trained.reused;

  enter('validate');
  const validation = await cpu.validate(spec, preprocess.datasetVersion, trained, step);
  progress.reused.validate = validation.reused;
  upsertMemo({ reportUri: validation.reportUri, passed: validation.passed, accuracy: validation.challenger.accuracy });

  enter('promote');
  const { workflowId, runId } = workflowInfo();
  const promotion = await cpu.promote({
    spec,
    kind: options.pretrain ? 'backbone' : 'classifier',
    datasetVersion: preprocess.datasetVersion,
    trained,
    validation,
    backbone,
    workflowId,
    runId,
  });
  upsertMemo({ modelVersion: promotion.version, promoted: promotion.promoted });
  enter('done');

  const { history, ...trainingSummary } = trained;
  return {
    assetId: spec.assetId,
    modelName,
    datasetVersion: preprocess.datasetVersion,
    ingest,
    preprocess,
    backbone,
    training: { ...trainingSummary, lastEpoch: history[history.length - 1] ?? null },
    validation,
    promotion,
    reused: progress.reused,
  };
}

/** ingest → preprocess → loadBackbone → fineTune → validate → promote, for one asset. */
export async function RetrainWorkflow(spec: PipelineSpecInput, options: PipelineOptions = {}): Promise<RetrainOutcome> {
  return runPipeline(spec, options);
}

/** Trains a backbone from scratch on fleet data and registers it, so that fine-tuning has one to start from. */
export async function PretrainWorkflow(spec: PipelineSpecInput, options: PipelineOptions = {}): Promise<RetrainOutcome> {
  return runPipeline(spec, { ...options, pretrain: true });
}
