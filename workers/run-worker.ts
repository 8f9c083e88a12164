import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { formatTfBackend, loadTf } from '../lib/tf/backend';
import { buildS3Client, buildStorageDeps, temporalConnectConfig } from './clients';
import { codeVersion, loadWorkerEnv } from './config';
import { createCpuWorker, createGpuWorker } from './create-workers';
import { dataConverterFromEnv } from './payload-codec';

/**
 * Process entry shared by the CPU and GPU workers: validate config, build clients, log the
 * TensorFlow backend, run until SIGINT/SIGTERM (the SDK drains in-flight tasks on shutdown).
 */
export async function runWorker(kind: 'cpu-worker' | 'gpu-worker'): Promise<void> {
  // Node 20 is supported by the SDK versions in the lockfile; the upgrade notice is in the README.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  Runtime.install({ logger: new DefaultLogger((process.env.PDM_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO') });
  const env = loadWorkerEnv();
  const tf = loadTf();
  console.log(`${kind}: ${formatTfBackend()}`);
  const s3 = buildS3Client(env);
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const deps = { ...buildStorageDeps(s3, env.PDM_BUCKET), tf, codeVersion: codeVersion(env) };
  const dataConverter = dataConverterFromEnv();
  const opts = { connection, namespace, deps, dataConverter };
  const worker = kind === 'cpu-worker' ? await createCpuWorker(opts) : await createGpuWorker(opts);
  console.log(`${kind} ready: task queue ${worker.options.taskQueue}, namespace ${namespace}, bucket ${env.PDM_BUCKET}, code ${deps.codeVersion}, payload encryption ${dataConverter ? 'on' : 'off'}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
    s3.destroy();
  }
}

export function main(kind: 'cpu-worker' | 'gpu-worker'): void {
  runWorker(kind).catch((err: unknown) => {
    console.error(`${kind} failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
