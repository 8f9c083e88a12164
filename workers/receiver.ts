import { dataConverterFromEnv } from './payload-codec';
import { Client, Connection } from '@temporalio/client';
import { join } from 'node:path';
import { z } from 'zod';
import { formatZodError } from '../lib/spec/pipeline-spec';
import { temporalConnectConfig } from './clients';
import { REPO_ROOT } from './config';
import { createReceiverServer, EVENTS_PATH, loadSpecsDir } from './receiver-server';

/**
 * Process entry of the data-arrival webhook receiver. Configuration from the environment:
 * PDM_RECEIVER_TOKEN (required), PDM_RECEIVER_PORT (8787), PDM_RECEIVER_HOST (127.0.0.1),
 * PDM_SPECS_DIR (<repo>/specs), PDM_BUCKET (pdm); Temporal from envconfig (TEMPORAL_ADDRESS, ...).
 */
const ReceiverEnv = z.object({
  PDM_RECEIVER_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  PDM_RECEIVER_PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  PDM_RECEIVER_HOST: z.string().default('127.0.0.1'),
  PDM_SPECS_DIR: z.string().default(join(REPO_ROOT, 'specs')),
  PDM_BUCKET: z.string().min(3).default('pdm'),
});

async function main(): Promise<void> {
  const parsed = ReceiverEnv.safeParse(process.env);
  if (!parsed.success) throw new Error(`invalid receiver environment: ${formatZodError(parsed.error)}`);
  const env = parsed.data;
  const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);
  const { connectionOptions, namespace } = temporalConnectConfig();
  // Connection.connect is lazy about failures later on: a Temporal outage surfaces per request as 503.
  const connection = await Connection.connect(connectionOptions);
  const client = new Client({ connection, namespace, dataConverter: dataConverterFromEnv() });
  const server = createReceiverServer({ client, token: env.PDM_RECEIVER_TOKEN, defaultBucket: env.PDM_BUCKET, specs: () => loadSpecsDir(env.PDM_SPECS_DIR, log), log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PDM_RECEIVER_PORT, env.PDM_RECEIVER_HOST, resolve);
  });
  const specs = loadSpecsDir(env.PDM_SPECS_DIR, log);
  console.log(`receiver ready: http://${env.PDM_RECEIVER_HOST}:${env.PDM_RECEIVER_PORT}${EVENTS_PATH}, ${specs.length} spec(s) in ${env.PDM_SPECS_DIR}, bucket ${env.PDM_BUCKET}, namespace ${namespace}`);
  const stop = () => {
    server.close(() => void connection.close().finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`receiver failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
