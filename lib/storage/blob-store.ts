/**
 * Object storage behind a small interface (in the spirit of tfjs's IOHandler), so that domain
 * code never depends on the AWS SDK directly and can name objects by key alone.
 */
export interface BlobInfo {
  key: string;
  etag: string;
  size: number;
  /** ISO time of the last write, where the store reports it (list() on S3 does). */
  lastModified?: string;
}

export interface PutOptions {
  contentType?: string;
  /** Write only if the current object has this ETag (optimistic concurrency). */
  ifMatch?: string;
  /** Write only if no object exists under the key. */
  ifNoneMatch?: boolean;
}

export interface BlobStore {
  readonly bucket: string;
  get(key: string, opts?: { ifMatch?: string }): Promise<{ body: Uint8Array; etag: string }>;
  head(key: string): Promise<BlobInfo | null>;
  put(key: string, body: Uint8Array | string, opts?: PutOptions): Promise<{ etag: string }>;
  list(prefix: string): Promise<BlobInfo[]>;
  delete(key: string): Promise<void>;
}

/** A conditional write lost: someone else changed the object first. */
export class PreconditionFailedError extends Error {
  constructor(readonly key: string) {
    super(`conditional write to ${key} lost: the object changed concurrently`);
    this.name = 'PreconditionFailedError';
  }
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export async function getJson<T>(store: BlobStore, key: string): Promise<{ value: T; etag: string } | null> {
  try {
    const { body, etag } = await store.get(key);
    return { value: JSON.parse(Buffer.from(body).toString('utf8')) as T, etag };
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return null;
    throw err;
  }
}

export async function putJson(store: BlobStore, key: string, value: unknown, opts: PutOptions = {}): Promise<{ etag: string }> {
  return store.put(key, JSON.stringify(value, null, 2), { contentType: 'application/json', ...opts });
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: m[1]!, key: m[2]! };
}
