import { S3Client } from '@aws-sdk/client-s3';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { BlobStore } from '../lib/storage/blob-store';
import { S3BlobStore } from '../lib/storage/s3-store';
import type { StorageDeps } from '../activities/deps';
import type { WorkerEnv } from './config';

/** The one place that builds an S3 client: endpoint and credentials come from the SDK's default chain. */
export function buildS3Client(env: WorkerEnv): S3Client {
  const forcePathStyle = env.PDM_S3_FORCE_PATH_STYLE ? env.PDM_S3_FORCE_PATH_STYLE === 'true' : env.AWS_ENDPOINT_URL_S3 !== undefined;
  return new S3Client({ region: env.AWS_REGION, forcePathStyle, maxAttempts: 5 });
}

export function buildStorageDeps(client: S3Client, bucket: string): StorageDeps {
  const stores = new Map<string, BlobStore>();
  const storeFor = (b: string): BlobStore => {
    let s = stores.get(b);
    if (!s) stores.set(b, (s = new S3BlobStore(client, b)));
    return s;
  };
  return { store: storeFor(bucket), storeFor };
}

/** Temporal connection settings from envconfig (env vars, temporal.toml profiles). */
export function temporalConnectConfig() {
  const cfg = loadClientConnectConfig();
  return { connectionOptions: cfg.connectionOptions, namespace: cfg.namespace ?? 'default' };
}
