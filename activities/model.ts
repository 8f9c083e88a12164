import { Context } from '@temporalio/activity';
import { FEATURE_LAYER, inputShapeOf } from '../lib/model/backbone';
import { loadModelFrom, modelLocationFromUri, ModelDigest } from '../lib/model/model-io';
import { readManifest, WindowDatasetManifest, windowManifestKey } from '../lib/dataset/manifests';
import { PdmError } from '../lib/errors';
import { ModelRegistry, versionPrefix } from '../lib/registry/registry';
import { s3Uri } from '../lib/storage/blob-store';
import { parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { ModelDeps } from './deps';
import { typedFailures } from './failures';

/** A verified backbone, by reference: fine-tune loads it again and checks the same digest. */
export interface BackboneRef {
  ref: string;
  uri: string;
  modelName?: string;
  version?: string;
  digest: ModelDigest;
  input: { length: number; channels: number };
}

export async function loadDatasetManifest(deps: ModelDeps, datasetVersion: string): Promise<WindowDatasetManifest> {
  const manifest = await readManifest(deps.store, windowManifestKey(datasetVersion), WindowDatasetManifest);
  if (!manifest) throw new PdmError('IntegrityError', `dataset version ${datasetVersion} has no manifest at ${windowManifestKey(datasetVersion)}`);
  return manifest;
}

export function createModelActivities(deps: ModelDeps) {
  const registry = new ModelRegistry(deps.store);
  return {
    /**
     * Resolves the spec's backbone (registry alias/version, s3:// or file:// URI), verifies its
     * sha256 and that it accepts the dataset's windows (window length and channel count).
     */
    async loadBackbone(specInput: PipelineSpecInput, datasetVersion: string): Promise<BackboneRef> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(specInput);
        if (!spec.backbone) throw new PdmError('InvalidSpec', 'pipeline spec: backbone is required for fine-tuning');
        const dataset = await loadDatasetManifest(deps, datasetVersion);
        const ref = spec.backbone;
        let uri: string;
        let expected: ModelDigest | undefined;
        let modelName: string | undefined;
        let version: string | undefined;
        if (ref.startsWith('registry:')) {
          const [name, alias = 'production'] = ref.slice('registry:'.length).split('@') as [string, string?];
          const card = await registry.resolve(name, alias);
          modelName = name;
          version = card.version;
          expected = card.digest;
          uri = s3Uri(deps.store.bucket, versionPrefix(name, card.version));
          // The card's input spec is the contract: sample rate, window length and channel count must match
          // the windows preprocess produced (after the spec's resample / channelMap).
          if (card.input.sampleRateHz !== dataset.sampleRateHz) {
            const from = dataset.source?.sampleRateHz ?? dataset.sampleRateHz;
            throw new PdmError(
              'IncompatibleBackbone',
              `backbone ${ref} (version ${card.version}) expects ${card.input.sampleRateHz} Hz, the dataset is ${dataset.sampleRateHz} Hz` +
                (from === dataset.sampleRateHz ? ` (add "resample: { toHz: ${card.input.sampleRateHz} }" to the spec)` : ''),
            );
          }
          if (card.input.length !== dataset.inputShape.length || card.input.channels.length !== dataset.inputShape.channels) {
            throw new PdmError(
              'IncompatibleBackbone',
              `backbone ${ref} (version ${card.version}) takes windows of ${card.input.length} samples x ${card.input.channels.length} channels (${card.input.channels.join(', ')}), ` +
                `the dataset has ${dataset.inputShape.length} x ${dataset.inputShape.channels} (${dataset.channels.join(', ')}); set window.length and channelMap to match`,
            );
          }
        } else {
          uri = ref;
        }
        const { model, digest } = await loadModelFrom(deps.tf, modelLocationFromUri(uri, (b) => deps.storeFor(b)), expected);
        try {
          const input = inputShapeOf(model);
          if (input.length !== dataset.inputShape.length || input.channels !== dataset.inputShape.channels) {
            throw new PdmError(
              'IncompatibleBackbone',
              `backbone ${ref} takes windows of ${input.length} x ${input.channels} channels, the dataset has ${dataset.inputShape.length} x ${dataset.inputShape.channels}`,
            );
          }
          if (!model.layers.some((l) => l.name === FEATURE_LAYER)) {
            throw new PdmError('IncompatibleBackbone', `backbone ${ref} has no "${FEATURE_LAYER}" layer to attach a head to`);
          }
          Context.current().log.info('backbone verified', { ref, version, weightsSha256: digest.weightsSha256 });
          return { ref, uri, modelName, version, digest, input };
        } finally {
          model.dispose();
        }
      });
    },
  };
}

export type ModelActivities = ReturnType<typeof createModelActivities>;
