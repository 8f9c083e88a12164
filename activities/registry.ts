import { Context } from '@temporalio/activity';
import { loadDatasetManifest } from './model';
import { FEATURE_LAYER } from '../lib/model/backbone';
import { PdmError } from '../lib/errors';
import { ModelCard, ModelRegistry } from '../lib/registry/registry';
import { modelNameOf, parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { ModelDeps } from './deps';
import { typedFailures } from './failures';
import type { BackboneRef } from './model';
import type { TrainResult } from './training';
import type { ValidationResult } from './validation';

export interface PromoteRequest {
  spec: PipelineSpecInput;
  kind: ModelCard['kind'];
  datasetVersion: string;
  trained: Pick<TrainResult, 'trainingHash' | 'modelPrefix' | 'digest'>;
  validation: Pick<ValidationResult, 'passed' | 'challenger' | 'productionVersion' | 'reportKey' | 'metricsKey'>;
  backbone: BackboneRef | null;
  workflowId: string;
  runId: string;
}

export interface PromoteResult {
  modelName: string;
  version: string;
  registered: boolean;
  promoted: boolean;
  previous: string | null;
  reason: string;
}

/** Version ids are the first 16 hex digits of the training hash: same inputs, same version. */
export const versionOf = (trainingHash: string) => `v${trainingHash.slice(0, 16)}`;

export function createRegistryActivities(deps: ModelDeps) {
  const registry = new ModelRegistry(deps.store);
  return {
    /**
     * Registers the challenger as a version (with its model card and lineage) and, if the gates
     * passed, moves `production` to it with a conditional write against the champion seen at validation.
     */
    async promote(req: PromoteRequest): Promise<PromoteResult> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(req.spec);
        const modelName = modelNameOf(spec);
        const version = versionOf(req.trained.trainingHash);
        const dataset = await loadDatasetManifest(deps, req.datasetVersion);
        const card: ModelCard = {
          modelName,
          version,
          kind: req.kind,
          createdAt: new Date().toISOString(),
          input: { length: dataset.inputShape.length, channels: dataset.channels, sampleRateHz: dataset.sampleRateHz, normalization: dataset.normalization },
          classes: dataset.classes,
          featureLayer: FEATURE_LAYER,
          architecture: spec.architecture,
          digest: req.trained.digest,
          lineage: {
            assetId: spec.assetId,
            datasetVersion: req.datasetVersion,
            backbone: req.backbone
              ? { ref: req.backbone.ref, modelName: req.backbone.modelName, version: req.backbone.version, weightsSha256: req.backbone.digest.weightsSha256 }
              : null,
            codeVersion: deps.codeVersion,
            workflowId: req.workflowId,
            runId: req.runId,
            trainingHash: req.trained.trainingHash,
          },
          metrics: req.validation.challenger,
        };
        const [report, metrics] = await Promise.all([deps.store.get(req.validation.reportKey), deps.store.get(req.validation.metricsKey)]);
        const { created } = await registry.registerVersion(card, {
          modelJsonKey: `${req.trained.modelPrefix}/model.json`,
          weightsKey: `${req.trained.modelPrefix}/weights.bin`,
          extra: { 'report.md': report.body, 'metrics.json': metrics.body },
        });
        const base = { modelName, version, registered: created };
        if (!req.validation.passed) {
          return { ...base, promoted: false, previous: req.validation.productionVersion, reason: 'gates failed: production unchanged' };
        }
        const current = await registry.getAlias(modelName, 'production');
        if (current?.doc.version === version) {
          // A retry after a successful move, or a re-run with identical inputs.
          return { ...base, promoted: true, previous: current.doc.previous, reason: 'already production' };
        }
        try {
          const doc = await registry.moveAlias(modelName, 'production', version, req.validation.productionVersion, { workflowId: req.workflowId, runId: req.runId });
          Context.current().log.info('promoted', { modelName, version, previous: doc.previous });
          return { ...base, promoted: true, previous: doc.previous, reason: 'gates passed' };
        } catch (err) {
          if (err instanceof PdmError && err.type === 'PromotionConflict') {
            throw new PdmError('PromotionConflict', `${err.message}; validated against ${req.validation.productionVersion ?? 'no production'}, re-run to validate against the new champion`);
          }
          throw err;
        }
      });
    },
  };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;
