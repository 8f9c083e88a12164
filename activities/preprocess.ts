import { Context } from '@temporalio/activity';
import { parseRecording, Recording } from '../lib/arrow/recording';
import { encodeWindowShard } from '../lib/arrow/window-shards';
import { buildWindows, shardBatch, WindowLabeler } from '../lib/dataset/build-windows';
import {
  RawDatasetManifest,
  rawManifestKey,
  readManifest,
  STEP_VERSIONS,
  WindowDatasetManifest,
  windowManifestKey,
} from '../lib/dataset/manifests';
import { adapterOf, adaptRecording, modelInput } from '../lib/data/input-adapter';
import { InvalidLabelsError, labelFor, parseLabelTable, rangesForAsset } from '../lib/data/labels';
import { SPLITS, Split } from '../lib/data/windowing';
import { InvalidDatasetError, PdmError } from '../lib/errors';
import { stepHash } from '../lib/hash';
import { ObjectNotFoundError, PreconditionFailedError, putJson, s3Uri } from '../lib/storage/blob-store';
import { parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { StepOptions, StorageDeps } from './deps';
import { typedFailures } from './failures';

export interface PreprocessResult {
  /** The dataset version (content address of the windows). */
  datasetVersion: string;
  manifestKey: string;
  manifestUri: string;
  counts: Record<Split, number>;
  reused: boolean;
}

/** Windows per Arrow shard: ~16 MiB at 1024 x 2 float32, small enough to stream, large enough to be few. */
const SHARD_WINDOWS = 2048;

export function createPreprocessActivities(deps: StorageDeps) {
  return {
    /** Windows, labels, splits and normalizes an ingested dataset; writes Arrow shards plus a manifest. */
    async preprocess(specInput: PipelineSpecInput, rawDatasetHash: string, opts: StepOptions = {}): Promise<PreprocessResult> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(specInput);
        const ctx = Context.current();
        const raw = await readManifest(deps.store, rawManifestKey(rawDatasetHash), RawDatasetManifest);
        if (!raw) throw new PdmError('IntegrityError', `raw dataset ${rawDatasetHash} has no manifest at ${rawManifestKey(rawDatasetHash)}`);
        const source = deps.storeFor(raw.bucket);

        let labelsRef: { key: string; etag: string } | null = null;
        if (spec.labels.kind === 'ranges') {
          const info = await source.head(spec.labels.key);
          if (!info) throw new InvalidLabelsError(spec.labels.key, 'label table not found');
          labelsRef = { key: info.key, etag: info.etag };
        }
        // Channel mapping and resampling to the model's input spec (identity unless the spec asks).
        const adapter = { ...adapterOf(spec), sourceChannels: raw.channels, sourceRateHz: raw.sampleRateHz };
        const input = modelInput(adapter);
        const version = stepHash('preprocess', {
          v: STEP_VERSIONS.preprocess,
          raw: rawDatasetHash,
          window: spec.window,
          split: spec.split,
          classes: spec.classes,
          input: { channelMap: spec.channelMap ?? null, resampleToHz: spec.resample?.toHz ?? null },
          labels: spec.labels.kind === 'ranges' ? { ...labelsRef, assetId: spec.labels.assetId ?? spec.assetId } : spec.labels,
        });
        const manifestKey = windowManifestKey(version);
        const existing = opts.force ? null : await readManifest(deps.store, manifestKey, WindowDatasetManifest);
        if (existing) {
          ctx.log.info('preprocess: reusing dataset version', { datasetVersion: version });
          return { datasetVersion: version, manifestKey, manifestUri: s3Uri(deps.store.bucket, manifestKey), counts: totals(existing.counts), reused: true };
        }

        let labeler: WindowLabeler;
        if (spec.labels.kind === 'ranges') {
          const { body } = await source.get(labelsRef!.key, { ifMatch: labelsRef!.etag });
          const ranges = rangesForAsset(labelsRef!.key, parseLabelTable(labelsRef!.key, body), spec.labels.assetId ?? spec.assetId);
          labeler = (_rec, s, e) => labelFor(ranges, s, e);
        } else {
          const key = spec.labels.key;
          labeler = (rec) => rec.metadata[key];
        }

        const recordings: Recording[] = [];
        for (const [i, o] of raw.objects.entries()) {
          let body: Uint8Array;
          try {
            ({ body } = await source.get(o.key, { ifMatch: o.etag }));
          } catch (err) {
            if (err instanceof PreconditionFailedError || err instanceof ObjectNotFoundError) {
              throw new InvalidDatasetError(o.key, 'object changed or vanished since ingest; re-run the pipeline to ingest the new version');
            }
            throw err;
          }
          const rec = parseRecording(o.key, body, { channels: raw.channels, sampleRateHz: raw.sampleRateHz, maxNonFiniteFraction: spec.limits.maxNonFiniteFraction });
          recordings.push(adaptRecording(rec, adapter));
          ctx.heartbeat({ step: 'preprocess', read: i + 1, total: raw.objects.length });
        }

        const built = buildWindows(recordings, labeler, { length: spec.window.length, hop: spec.window.hop, classes: spec.classes, split: spec.split });
        const shards: Record<Split, string[]> = { train: [], validation: [], test: [] };
        for (const split of SPLITS) {
          for (const [n, shard] of shardBatch(built.batches[split], SHARD_WINDOWS).entries()) {
            const key = `datasets/windows/${version}/${split}-${String(n).padStart(5, '0')}.arrow`;
            await deps.store.put(key, encodeWindowShard(shard), { contentType: 'application/vnd.apache.arrow.file' });
            shards[split].push(key);
            ctx.heartbeat({ step: 'preprocess', wrote: key });
          }
        }
        const manifest: WindowDatasetManifest = {
          kind: 'window-dataset',
          version,
          rawDataset: rawDatasetHash,
          assetId: spec.assetId,
          bucket: deps.store.bucket,
          inputShape: { length: spec.window.length, channels: input.channels.length },
          channels: input.channels,
          sampleRateHz: input.sampleRateHz,
          source: { channels: raw.channels, sampleRateHz: raw.sampleRateHz },
          window: spec.window,
          classes: spec.classes,
          normalization: built.normalization,
          counts: built.counts,
          dropped: { unlabelled: built.unlabelled },
          shards,
          sources: raw.objects.map((o) => ({ key: o.key, etag: o.etag })),
          labels: labelsRef,
          createdAt: new Date().toISOString(),
        };
        // The manifest is the commit marker: shards without it are never read.
        await putJson(deps.store, manifestKey, manifest);
        ctx.log.info('preprocess: dataset version written', { datasetVersion: version, counts: totals(built.counts) });
        return { datasetVersion: version, manifestKey, manifestUri: s3Uri(deps.store.bucket, manifestKey), counts: totals(built.counts), reused: false };
      });
    },
  };
}

function totals(counts: Record<Split, Record<string, number>>): Record<Split, number> {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { train: sum(counts.train), validation: sum(counts.validation), test: sum(counts.test) };
}

export type PreprocessActivities = ReturnType<typeof createPreprocessActivities>;
