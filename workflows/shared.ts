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

/** Failure types that retrying cannot fix; activities also mark them non-retryable themselves. */
export const NON_RETRYABLE_TYPES = ['InvalidDataset', 'InvalidSpec', 'InvalidLabels', 'IncompatibleBackbone', 'IntegrityError', 'ModelNotFound', 'PromotionConflict'];
