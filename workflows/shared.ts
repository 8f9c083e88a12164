import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Names shared by workflows, workers, the CLI and the local stack. Plain constants only: this
 * module is bundled into the deterministic workflow sandbox.
 */
export const CPU_TASK_QUEUE = 'pdm-cpu';
export const GPU_TASK_QUEUE = 'pdm-gpu';

export const SA_ASSET_ID = defineSearchAttributeKey('AssetId', SearchAttributeType.KEYWORD);
export const SA_MODEL_NAME = defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD);
export const SA_DATASET_VERSION = defineSearchAttributeKey('DatasetVersion', SearchAttributeType.KEYWORD);
export const SA_PIPELINE_STEP = defineSearchAttributeKey('PipelineStep', SearchAttributeType.KEYWORD);
export const SA_TRIGGER = defineSearchAttributeKey('Trigger', SearchAttributeType.KEYWORD);

/** Registered on the dev server with `--search-attribute Name=Keyword`. */
export const SEARCH_ATTRIBUTES = [SA_ASSET_ID, SA_MODEL_NAME, SA_DATASET_VERSION, SA_PIPELINE_STEP, SA_TRIGGER].map((k) => k.name);

/** Why a run started: the Trigger search attribute and the `trigger` memo field. */
export const TRIGGER_MANUAL = 'manual';
export const TRIGGER_SCHEDULE = 'schedule';
export const TRIGGER_DATA_ARRIVAL = 'data-arrival';

/** One Temporal Schedule per asset and kind, one DataArrivalWorkflow per asset; ids derive from the asset id. */
export const retrainScheduleId = (assetId: string) => `retrain-${assetId}`;
export const pollScheduleId = (assetId: string) => `poll-${assetId}`;
export const dataArrivalWorkflowId = (assetId: string) => `data-arrival-${assetId}`;
export const NEW_OBJECTS_SIGNAL = 'newObjects';

/** Failure types that retrying cannot fix; activities also mark them non-retryable themselves. */
export const NON_RETRYABLE_TYPES = ['InvalidDataset', 'InvalidSpec', 'InvalidLabels', 'IncompatibleBackbone', 'IntegrityError', 'ModelNotFound', 'PromotionConflict'];
