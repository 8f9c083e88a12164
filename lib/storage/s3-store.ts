import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobInfo, BlobStore, ObjectNotFoundError, PreconditionFailedError, PutOptions } from './blob-store';

/** Above this size uploads go multipart (lib-storage), which also survives flaky connections better. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;

function statusOf(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

function stripQuotes(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

export class S3BlobStore implements BlobStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async get(key: string, opts: { ifMatch?: string } = {}): Promise<{ body: Uint8Array; etag: string }> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: opts.ifMatch ? `"${opts.ifMatch}"` : undefined }),
      );
      const body = await res.Body!.transformToByteArray();
      return { body, etag: stripQuotes(res.ETag) };
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || (err as Error).name === 'NoSuchKey') throw new ObjectNotFoundError(key);
      if (status === 412) throw new PreconditionFailedError(key);
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, etag: stripQuotes(res.ETag), size: res.ContentLength ?? 0 };
    } catch (err) {
      if (statusOf(err) === 404 || (err as Error).name === 'NotFound') return null;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array | string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const conditional = opts.ifMatch !== undefined || opts.ifNoneMatch;
    try {
      if (bytes.byteLength > MULTIPART_THRESHOLD && !conditional) {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: bytes, ContentType: opts.contentType },
        });
        const res = await upload.done();
        return { etag: stripQuotes(res.ETag) };
      }
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: opts.contentType,
          IfMatch: opts.ifMatch !== undefined ? `"${opts.ifMatch}"` : undefined,
          IfNoneMatch: opts.ifNoneMatch ? '*' : undefined,
        }),
      );
      return { etag: stripQuotes(res.ETag) };
    } catch (err) {
      const status = statusOf(err);
      // 412: precondition failed; 409: a concurrent conditional write is in flight (S3 semantics).
      if (conditional && (status === 412 || status === 409)) throw new PreconditionFailedError(key);
      throw err;
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, etag: stripQuotes(o.ETag), size: o.Size ?? 0, lastModified: o.LastModified?.toISOString() });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
