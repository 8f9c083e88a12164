import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { SEARCH_ATTRIBUTES } from '../workflows/shared';
import { configureBucketNotifications, WEBHOOK_TARGET_ID } from '../lib/triggers/notifications';
import { findOrBuildTool, TOOLS } from './tools';

/**
 * The local stack: a Temporal dev server (SQLite state, Web UI) and a MinIO server, both on
 * 127.0.0.1 with state under one directory, plus optional worker processes. Starting is
 * idempotent (a healthy service is reused), state survives restarts, stopping is clean.
 */
const REPO_ROOT = resolve(__dirname, '..', '..');

const port = z.coerce.number().int().min(1).max(65535);
const StackEnv = z.object({
  /** Where SQLite, MinIO data, logs and pid files live. Default: <repo>/.pdm */
  PDM_STATE_DIR: z.string().default(join(REPO_ROOT, '.pdm')),
  /** Tool builds (temporal, minio, TensorFlow libraries). Default: ~/.cache/pdm-pipelines */
  PDM_TOOL_CACHE: z.string().default(join(homedir(), '.cache', 'pdm-pipelines')),
  /** Temporal frontend gRPC port. Default 7233. */
  PDM_TEMPORAL_PORT: port.default(7233),
  /** Temporal Web UI port. Default 8233. */
  PDM_TEMPORAL_UI_PORT: port.default(8233),
  /** MinIO S3 API port. Default 9000. */
  PDM_MINIO_PORT: port.default(9000),
  /** MinIO console port. Default 9001. */
  PDM_MINIO_CONSOLE_PORT: port.default(9001),
  /** Bucket created at start. Default "pdm". */
  PDM_BUCKET: z.string().min(3).default('pdm'),
  /** Port of the data-arrival webhook receiver (workers/receiver.ts) that MinIO notifies. Default 8787. */
  PDM_RECEIVER_PORT: port.default(8787),
});
export type StackConfig = z.infer<typeof StackEnv>;

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<StackConfig> = {}): StackConfig {
  const parsed = StackEnv.safeParse(env);
  if (!parsed.success) throw new Error(`invalid stack configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { ...parsed.data, ...overrides };
}

export type ServiceName = 'temporal' | 'minio' | 'cpu-worker' | 'gpu-worker' | 'receiver';
const HOST = '127.0.0.1';

function dirs(cfg: StackConfig) {
  const root = cfg.PDM_STATE_DIR;
  return { root, logs: join(root, 'logs'), run: join(root, 'run'), minioData: join(root, 'minio'), minioEvents: join(root, 'minio-events'), temporalDb: join(root, 'temporal.db') };
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** MinIO root credentials, generated once per state directory and kept private to the user. */
export function credentials(cfg: StackConfig): Credentials {
  const file = join(dirs(cfg).root, 'minio-credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  mkdirSync(dirs(cfg).root, { recursive: true });
  const creds = { accessKeyId: `pdm-${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') };
  writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
  return creds;
}

/** Token MinIO's webhook target sends and the receiver checks, generated once per state directory. */
export function receiverToken(cfg: StackConfig): string {
  const file = join(dirs(cfg).root, 'receiver-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirs(cfg).root, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

/**
 * MinIO's webhook notification target for data-arrival events. The queue dir makes MinIO persist
 * events while the receiver is down and deliver them (retrying every few seconds) once it is up,
 * so start order does not matter and nothing is lost across receiver restarts.
 */
export function minioWebhookEnv(cfg: StackConfig): Record<string, string> {
  const id = WEBHOOK_TARGET_ID;
  return {
    [`MINIO_NOTIFY_WEBHOOK_ENABLE_${id}`]: 'on',
    [`MINIO_NOTIFY_WEBHOOK_ENDPOINT_${id}`]: `http://${HOST}:${cfg.PDM_RECEIVER_PORT}/minio/events`,
    [`MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_${id}`]: receiverToken(cfg),
    [`MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_${id}`]: dirs(cfg).minioEvents,
    [`MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_${id}`]: '100000',
  };
}

/** The environment that clients (workers, CLI, tests) need to reach this stack. */
export function clientEnv(cfg: StackConfig): Record<string, string> {
  const c = credentials(cfg);
  return {
    TEMPORAL_ADDRESS: `${HOST}:${cfg.PDM_TEMPORAL_PORT}`,
    TEMPORAL_NAMESPACE: 'default',
    AWS_ENDPOINT_URL_S3: `http://${HOST}:${cfg.PDM_MINIO_PORT}`,
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_REGION: 'us-east-1',
    PDM_BUCKET: cfg.PDM_BUCKET,
    PDM_STATE_DIR: cfg.PDM_STATE_DIR,
    PDM_RECEIVER_PORT: String(cfg.PDM_RECEIVER_PORT),
    PDM_RECEIVER_TOKEN: receiverToken(cfg),
  };
}

function pidFile(cfg: StackConfig, name: ServiceName): string {
  return join(dirs(cfg).run, `${name}.pid`);
}

export function runningPid(cfg: StackConfig, name: ServiceName): number | null {
  const file = pidFile(cfg, name);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function tcpOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const sock = createConnection({ host: HOST, port });
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.once('connect', () => finish(true));
    sock.once('error', () => finish(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs: number, logFile: string, pid: number | null): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await check()) return;
    if (pid !== null) {
      try {
        process.kill(pid, 0);
      } catch {
        throw new Error(`${what} exited during start-up; last log lines:\n${tail(logFile)}`);
      }
    }
    await sleep(300);
  }
  throw new Error(`${what} not healthy after ${deadlineMs / 1000}s; last log lines of ${logFile}:\n${tail(logFile)}`);
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function startDetached(cfg: StackConfig, name: ServiceName, cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const d = dirs(cfg);
  mkdirSync(d.logs, { recursive: true });
  mkdirSync(d.run, { recursive: true });
  const log = openSync(join(d.logs, `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], env, cwd: REPO_ROOT });
  child.unref();
  writeFileSync(pidFile(cfg, name), String(child.pid));
  return child.pid!;
}

export interface Health {
  temporal: boolean;
  minio: boolean;
}

export async function health(cfg: StackConfig): Promise<Health> {
  return {
    temporal: (await tcpOpen(cfg.PDM_TEMPORAL_PORT)) && (await httpOk(`http://${HOST}:${cfg.PDM_TEMPORAL_UI_PORT}/`)),
    minio: await httpOk(`http://${HOST}:${cfg.PDM_MINIO_PORT}/minio/health/live`),
  };
}

export async function startTemporal(cfg: StackConfig, log: (m: string) => void): Promise<void> {
  if ((await health(cfg)).temporal) return log(`temporal: already up on ${HOST}:${cfg.PDM_TEMPORAL_PORT}`);
  const bin = findOrBuildTool(TOOLS.temporal, cfg.PDM_TOOL_CACHE, log);
  const d = dirs(cfg);
  mkdirSync(d.root, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', HOST,
    '--port', String(cfg.PDM_TEMPORAL_PORT),
    '--ui-port', String(cfg.PDM_TEMPORAL_UI_PORT),
    '--db-filename', d.temporalDb,
    '--log-level', 'warn',
    ...SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
  ];
  const pid = startDetached(cfg, 'temporal', bin, args, process.env);
  await waitFor('temporal dev server', async () => (await health(cfg)).temporal, 90_000, join(d.logs, 'temporal.log'), pid);
  log(`temporal: up on ${HOST}:${cfg.PDM_TEMPORAL_PORT}, UI http://${HOST}:${cfg.PDM_TEMPORAL_UI_PORT}`);
}

export async function startMinio(cfg: StackConfig, log: (m: string) => void): Promise<void> {
  const d = dirs(cfg);
  if (!(await health(cfg)).minio) {
    const bin = findOrBuildTool(TOOLS.minio, cfg.PDM_TOOL_CACHE, log);
    mkdirSync(d.minioData, { recursive: true });
    mkdirSync(d.minioEvents, { recursive: true });
    const c = credentials(cfg);
    const env = { ...process.env, MINIO_ROOT_USER: c.accessKeyId, MINIO_ROOT_PASSWORD: c.secretAccessKey, MINIO_BROWSER: 'on', MINIO_UPDATE: 'off', ...minioWebhookEnv(cfg) };
    const pid = startDetached(cfg, 'minio', bin, ['server', d.minioData, '--address', `${HOST}:${cfg.PDM_MINIO_PORT}`, '--console-address', `${HOST}:${cfg.PDM_MINIO_CONSOLE_PORT}`, '--quiet'], env);
    await waitFor('minio', async () => (await health(cfg)).minio, 60_000, join(d.logs, 'minio.log'), pid);
  }
  await ensureBucket(cfg);
  log(`minio: up on http://${HOST}:${cfg.PDM_MINIO_PORT}, bucket ${cfg.PDM_BUCKET}`);
  await ensureNotifications(cfg, cfg.PDM_BUCKET, log);
}

/** An S3 client for this stack's MinIO with its root credentials (for set-up only). */
function localS3Client(cfg: StackConfig): S3Client {
  const env = clientEnv(cfg);
  return new S3Client({
    endpoint: env.AWS_ENDPOINT_URL_S3,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
}

export async function ensureBucket(cfg: StackConfig): Promise<void> {
  const s3 = localS3Client(cfg);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: cfg.PDM_BUCKET }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    s3.destroy();
  }
}

/** Object-created events under recordings/ of `bucket` go to the webhook target (and so to the receiver). */
export async function ensureNotifications(cfg: StackConfig, bucket: string, log: (m: string) => void = () => undefined): Promise<boolean> {
  const s3 = localS3Client(cfg);
  try {
    await configureBucketNotifications(s3, bucket);
    return true;
  } catch (err) {
    // A MinIO started before the webhook target existed (an older `up`) does not know the ARN.
    log(`minio: bucket notifications for ${bucket} not set (${(err as Error).message}); restart MinIO (pdmctl down && pdmctl up) to enable data-arrival triggers`);
    return false;
  } finally {
    s3.destroy();
  }
}

/** Starts a worker process (dist/workers/<kind>.js) against this stack. */
export async function startWorker(cfg: StackConfig, kind: 'cpu-worker' | 'gpu-worker' | 'receiver', log: (m: string) => void, extraEnv: Record<string, string> = {}): Promise<number> {
  const existing = runningPid(cfg, kind);
  if (existing) {
    log(`${kind}: already running (pid ${existing})`);
    return existing;
  }
  const script = join(REPO_ROOT, 'dist', 'workers', `${kind}.js`);
  const pid = startDetached(cfg, kind, process.execPath, [script], { ...process.env, ...clientEnv(cfg), ...extraEnv });
  const logFile = join(dirs(cfg).logs, `${kind}.log`);
  await waitFor(kind, () => Promise.resolve(tail(logFile, 50).includes(`${kind} ready`)), 60_000, logFile, pid);
  log(`${kind}: running (pid ${pid}, log ${logFile})`);
  return pid;
}

export async function stopService(cfg: StackConfig, name: ServiceName, log: (m: string) => void): Promise<void> {
  const pid = runningPid(cfg, name);
  if (pid === null) {
    rmSync(pidFile(cfg, name), { force: true });
    return;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const until = Date.now() + 15_000;
  while (Date.now() < until && runningPid(cfg, name) !== null) await sleep(200);
  if (runningPid(cfg, name) !== null) signal('SIGKILL');
  rmSync(pidFile(cfg, name), { force: true });
  log(`${name}: stopped`);
}

export async function startStack(cfg: StackConfig, log: (m: string) => void): Promise<void> {
  // MinIO first: its start is quick, and a Temporal build (if any) then runs alone on the cores.
  await startMinio(cfg, log);
  await startTemporal(cfg, log);
}

export async function stopStack(cfg: StackConfig, log: (m: string) => void): Promise<void> {
  for (const name of ['receiver', 'gpu-worker', 'cpu-worker', 'temporal', 'minio'] as const) await stopService(cfg, name, log);
}
