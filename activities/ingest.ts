import { Context } from '@temporalio/activity';
import { parseRecording } from '../lib/arrow/recording';
import { RawDatasetManifest, rawManifestKey, readManifest, SourceObject, STEP_VERSIONS } from '../lib/dataset/manifests';
import { InvalidDatasetError } from '../lib/errors';
import { stepHash } from '../lib/hash';
import { BlobInfo, putJson, s3Uri } from '../lib/storage/blob-store';
import { parsePipelineSpec, PipelineSpecInput } from '../lib/spec/pipeline-spec';
import type { StepOptions, StorageDeps } from './deps';
import { typedFailures } from './failures';

export interface IngestResult {
  /** Content address of the raw dataset: keys + ETags + the spec fields that shape it. */
  datasetHash: string;
  manifestKey: string;
  manifestUri: string;
  objects: number;
  totalRows: number;
  /** Invalid recordings left out (only with `limits.onInvalidRecording: skip`). */
  skipped: { key: string; problem: string }[];
  reused: boolean;
}

const RECORDING_SUFFIXES = ['.arrow', '.arrows', '.ipc', '.feather'];

export function createIngestActivities(deps: StorageDeps) {
  return {
    /** Lists the asset's recordings, validates every one, and records them (with ETags) in a manifest. */
    async ingest(specInput: PipelineSpecInput, opts: StepOptions = {}): Promise<IngestResult> {
      return typedFailures(async () => {
        const spec = parsePipelineSpec(specInput);
        const ctx = Context.current();
        const bucket = spec.source.bucket ?? deps.store.bucket;
        const source = deps.storeFor(bucket);
        const listed: BlobInfo[] = [];
        for (const prefix of spec.source.prefixes) {
          listed.push(...(await source.list(prefix)).filter((o) => RECORDING_SUFFIXES.some((s) => o.key.endsWith(s))));
        }
        if (listed.length === 0) {
          throw new InvalidDatasetError(s3Uri(bucket, spec.source.prefixes.join(',')), 'no recordings (.arrow/.arrows/.ipc/.feather) under the prefix');
        }
        const channels = spec.channels.map((c) => c.name);
        const hash = stepHash('ingest', {
          v: STEP_VERSIONS.ingest,
          bucket,
          objects: listed.map((o) => [o.key, o.etag]),
          channels,
          sampleRateHz: spec.sampleRateHz,
          limits: spec.limits,
        });
        const manifestKey = rawManifestKey(hash);
        const existing = opts.force ? null : await readManifest(deps.store, manifestKey, RawDatasetManifest);
        if (existing) {
          ctx.log.info('ingest: reusing dataset', { datasetHash: hash });
          return {
            datasetHash: hash,
            manifestKey,
            manifestUri: s3Uri(deps.store.bucket, manifestKey),
            objects: existing.objects.length,
            totalRows: existing.totalRows,
            skipped: existing.skipped.map(({ key, problem }) => ({ key, problem })),
            reused: true,
          };
        }

        const objects: SourceObject[] = [];
        const skipped: RawDatasetManifest['skipped'] = [];
        for (const [i, o] of listed.entries()) {
          let rec;
          try {
            if (o.size > spec.limits.maxObjectBytes) {
              throw new InvalidDatasetError(o.key, `object is ${o.size} bytes, above the configured limit of ${spec.limits.maxObjectBytes} bytes (limits.maxObjectBytes)`);
            }
            // If-Match pins the exact version we listed; a concurrent overwrite fails the read and is retried.
            const { body } = await source.get(o.key, { ifMatch: o.etag });
            rec = parseRecording(o.key, body, { channels, sampleRateHz: spec.sampleRateHz, maxNonFiniteFraction: spec.limits.maxNonFiniteFraction });
          } catch (err) {
            if (!(err instanceof InvalidDatasetError) || spec.limits.onInvalidRecording === 'fail') throw err;
            ctx.log.warn('ingest: skipping invalid recording', { key: o.key, problem: err.message });
            skipped.push({ key: o.key, etag: o.etag, problem: err.message });
            continue;
          }
          objects.push({
            key: o.key,
            etag: o.etag,
            size: o.size,
            rows: rec.rows,
            format: rec.format,
            startNs: rec.startNs.toString(),
            endNs: rec.endNs.toString(),
            sampleRateHz: rec.sampleRateHz,
            label: rec.metadata['label'],
          });
          ctx.heartbeat({ step: 'ingest', done: i + 1, total: listed.length });
        }
        if (objects.length === 0) {
          throw new InvalidDatasetError(s3Uri(bucket, spec.source.prefixes.join(',')), `all ${listed.length} recordings are invalid (first: ${skipped[0]?.problem ?? 'none'})`);
        }
        const manifest: RawDatasetManifest = {
          kind: 'raw-dataset',
          hash,
          assetId: spec.assetId,
          bucket,
          channels,
          sampleRateHz: spec.sampleRateHz,
          objects,
          skipped,
          totalRows: objects.reduce((n, o) => n + o.rows, 0),
          createdAt: new Date().toISOString(),
        };
        await putJson(deps.store, manifestKey, manifest);
        ctx.log.info('ingest: dataset recorded', { datasetHash: hash, objects: objects.length, rows: manifest.totalRows });
        return {
          datasetHash: hash,
          manifestKey,
          manifestUri: s3Uri(deps.store.bucket, manifestKey),
          objects: objects.length,
          totalRows: manifest.totalRows,
          skipped: skipped.map(({ key, problem }) => ({ key, problem })),
          reused: false,
        };
      });
    },
  };
}

export type IngestActivities = ReturnType<typeof createIngestActivities>;
