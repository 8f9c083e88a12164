import { z } from 'zod';
import { PdmError } from '../errors';
import { BlobStore, getJson } from '../storage/blob-store';
import { formatZodError } from '../spec/pipeline-spec';

/** Bump when a step's output format or semantics change, so cached outputs are not reused. */
export const STEP_VERSIONS = { ingest: 1, preprocess: 2, train: 2, validate: 1 } as const;

const SourceObject = z.object({
  key: z.string(),
  etag: z.string(),
  size: z.number(),
  rows: z.number(),
  format: z.enum(['file', 'stream']),
  startNs: z.string(),
  endNs: z.string(),
  sampleRateHz: z.number(),
  label: z.string().optional(),
});
export type SourceObject = z.infer<typeof SourceObject>;

export const RawDatasetManifest = z.object({
  kind: z.literal('raw-dataset'),
  hash: z.string(),
  assetId: z.string(),
  bucket: z.string(),
  channels: z.array(z.string()),
  sampleRateHz: z.number(),
  objects: z.array(SourceObject),
  /** Invalid recordings left out under `limits.onInvalidRecording: skip`. */
  skipped: z.array(z.object({ key: z.string(), etag: z.string(), problem: z.string() })).default([]),
  totalRows: z.number(),
  createdAt: z.string(),
});
export type RawDatasetManifest = z.infer<typeof RawDatasetManifest>;

const Counts = z.record(z.string(), z.number());

export const WindowDatasetManifest = z.object({
  kind: z.literal('window-dataset'),
  /** The dataset version: a hash of everything that shaped these windows. */
  version: z.string(),
  rawDataset: z.string(),
  assetId: z.string(),
  bucket: z.string(),
  inputShape: z.object({ length: z.number(), channels: z.number() }),
  channels: z.array(z.string()),
  /** The model's input rate (after any resampling) and channels (after channel mapping). */
  sampleRateHz: z.number(),
  /** The recordings' own channels and rate, when preprocess mapped or resampled them. */
  source: z.object({ channels: z.array(z.string()), sampleRateHz: z.number() }).optional(),
  window: z.object({ length: z.number(), hop: z.number() }),
  classes: z.array(z.string()),
  normalization: z.object({ mean: z.array(z.number()), std: z.array(z.number()) }),
  counts: z.object({ train: Counts, validation: Counts, test: Counts }),
  dropped: z.object({ unlabelled: z.number() }),
  shards: z.object({ train: z.array(z.string()), validation: z.array(z.string()), test: z.array(z.string()) }),
  sources: z.array(z.object({ key: z.string(), etag: z.string() })),
  labels: z.object({ key: z.string(), etag: z.string() }).nullable(),
  createdAt: z.string(),
});
export type WindowDatasetManifest = z.infer<typeof WindowDatasetManifest>;

export const rawManifestKey = (hash: string) => `datasets/raw/${hash}/manifest.json`;
export const windowManifestKey = (version: string) => `datasets/windows/${version}/manifest.json`;

/** Reads a manifest back and validates it: S3 content is external input like any other. */
export async function readManifest<T>(store: BlobStore, key: string, schema: z.ZodType<T>): Promise<T | null> {
  const got = await getJson<unknown>(store, key);
  if (!got) return null;
  const parsed = schema.safeParse(got.value);
  if (!parsed.success) throw new PdmError('IntegrityError', `${key}: malformed manifest (${formatZodError(parsed.error)})`);
  return parsed.data;
}
