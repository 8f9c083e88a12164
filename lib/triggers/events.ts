import { z } from 'zod';
import type { PipelineSpec } from '../spec/pipeline-spec';

/**
 * Bucket-notification events (the S3 event message format that MinIO's webhook target POSTs:
 * `{ EventName, Key, Records: [...] }`) validated with zod, and the mapping from an object key to
 * the asset whose spec reads it. Pure functions: no I/O, unit-tested.
 */
const S3EventRecord = z.object({
  eventName: z.string().min(1),
  eventTime: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      /** URL-encoded, as in AWS S3 events. */
      key: z.string().min(1),
      size: z.number().int().min(0).optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

export const BucketEventSchema = z.object({
  EventName: z.string().optional(),
  Key: z.string().optional(),
  Records: z.array(S3EventRecord).min(1).max(1000),
});
export type BucketEvent = z.infer<typeof BucketEventSchema>;

/** One new object as the triggers see it: enough to deduplicate and to size a batch. */
export interface ObjectRef {
  bucket: string;
  key: string;
  etag?: string;
  size?: number;
  /** ISO time the object was last modified (or the event time). */
  at?: string;
}

/** Identity used to count an object once: the same key with the same content is a duplicate; a re-upload is not. */
export function objectIdentity(o: Pick<ObjectRef, 'key' | 'etag'>): string {
  return o.etag ? `${o.key}#${o.etag.replace(/"/g, '')}` : o.key;
}

/** S3 event keys are form-URL-encoded ("+" for space). */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Created objects of an event, decoded. Other event types (removals, ...) are dropped. */
export function createdObjects(event: BucketEvent): ObjectRef[] {
  return event.Records.filter((r) => r.eventName.startsWith('s3:ObjectCreated:') || r.eventName.startsWith('ObjectCreated:')).map((r) => ({
    bucket: r.s3.bucket.name,
    key: decodeEventKey(r.s3.object.key),
    etag: r.s3.object.eTag?.replace(/"/g, '') || undefined,
    size: r.s3.object.size,
    at: r.eventTime,
  }));
}

/**
 * The spec that reads `bucket/key`: the longest matching source prefix wins (so "recordings/a/"
 * and "recordings/a-b/" never both claim a key). `defaultBucket` is the workers' PDM_BUCKET, used
 * by specs without source.bucket. Specs with data-arrival triggers disabled, or without a backbone
 * (pretraining specs), never match.
 */
export function assetForObject(specs: readonly PipelineSpec[], bucket: string, key: string, defaultBucket: string): PipelineSpec | null {
  let best: { spec: PipelineSpec; len: number } | null = null;
  for (const spec of specs) {
    // Pretraining specs (no backbone) cannot be retrained; data-arrival triggers start RetrainWorkflow only.
    if (!spec.trigger.dataArrival.enabled || !spec.backbone) continue;
    if ((spec.source.bucket ?? defaultBucket) !== bucket) continue;
    for (const prefix of spec.source.prefixes) {
      if (key.startsWith(prefix) && (!best || prefix.length > best.len)) best = { spec, len: prefix.length };
    }
  }
  return best?.spec ?? null;
}

/** Groups objects by the asset that reads them; objects of no asset are returned as `ignored`. */
export function groupByAsset(specs: readonly PipelineSpec[], objects: readonly ObjectRef[], defaultBucket: string): { byAsset: Map<string, { spec: PipelineSpec; objects: ObjectRef[] }>; ignored: ObjectRef[] } {
  const byAsset = new Map<string, { spec: PipelineSpec; objects: ObjectRef[] }>();
  const ignored: ObjectRef[] = [];
  for (const o of objects) {
    const spec = assetForObject(specs, o.bucket, o.key, defaultBucket);
    if (!spec) {
      ignored.push(o);
      continue;
    }
    let entry = byAsset.get(spec.assetId);
    if (!entry) byAsset.set(spec.assetId, (entry = { spec, objects: [] }));
    entry.objects.push(o);
  }
  return { byAsset, ignored };
}
