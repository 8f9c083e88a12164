import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { clientEnv, credentials, loadStackConfig, StackConfig } from '../infra/stack';
import { parsePipelineSpecText, PipelineSpec } from '../lib/spec/pipeline-spec';
import type { BlobStore } from '../lib/storage/blob-store';
import { buildS3Client, buildStorageDeps, temporalConnectConfig } from '../workers/clients';
import { loadWorkerEnv, REPO_ROOT } from '../workers/config';
import { dataConverterFromEnv } from '../workers/payload-codec';

/** A one-line error for the user; the CLI prints its message and exits 1, no stack trace. */
export class UserError extends Error {}

/**
 * Uses the local stack's endpoints and credentials for anything the environment does not set,
 * so `pdmctl` works after `pdmctl up` without exporting variables; a real cluster's env wins.
 */
export function applyLocalStackEnv(cfg: StackConfig = loadStackConfig()): void {
  if (!existsSync(join(cfg.PDM_STATE_DIR, 'minio-credentials.json'))) return;
  credentials(cfg);
  const awsConfigured = process.env.AWS_ENDPOINT_URL_S3 !== undefined || process.env.AWS_ACCESS_KEY_ID !== undefined || process.env.AWS_PROFILE !== undefined;
  for (const [k, v] of Object.entries(clientEnv(cfg))) {
    if (k.startsWith('AWS_') && awsConfigured) continue;
    if (process.env[k] === undefined) process.env[k] = v;
  }
}

export function uiBaseUrl(): string {
  return process.env.PDM_TEMPORAL_UI_URL ?? `http://127.0.0.1:${loadStackConfig().PDM_TEMPORAL_UI_PORT}`;
}

export function workflowUrl(namespace: string, workflowId: string, runId?: string): string {
  return `${uiBaseUrl()}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;
}

export async function withTemporal<T>(fn: (client: Client, namespace: string) => Promise<T>): Promise<T> {
  const { connectionOptions, namespace } = temporalConnectConfig();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  } catch (err) {
    throw new UserError(`cannot reach Temporal at ${connectionOptions.address ?? 'localhost:7233'} (${(err as Error).message}); is the stack up? (pdmctl up)`);
  }
  try {
    return await fn(new Client({ connection, namespace, dataConverter: dataConverterFromEnv() }), namespace);
  } finally {
    await connection.close();
  }
}

export async function withStore<T>(fn: (store: BlobStore) => Promise<T>): Promise<T> {
  const env = loadWorkerEnv();
  const s3 = buildS3Client(env);
  try {
    return await fn(buildStorageDeps(s3, env.PDM_BUCKET).store);
  } finally {
    s3.destroy();
  }
}

/** A spec by file path, or by asset id from specs/<asset>.yaml. */
export function loadSpec(assetOrPath: string, explicitPath?: string): { spec: PipelineSpec; path: string } {
  const path = explicitPath ?? (existsSync(assetOrPath) ? assetOrPath : join(REPO_ROOT, 'specs', `${assetOrPath}.yaml`));
  if (!existsSync(path)) throw new UserError(`no pipeline spec for "${assetOrPath}": ${path} does not exist (use --spec <file>)`);
  return { spec: parsePipelineSpecText(readFileSync(path, 'utf8'), path), path };
}
