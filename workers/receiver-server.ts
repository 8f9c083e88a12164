import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { formatZodError, parsePipelineSpecText, PipelineSpec } from '../lib/spec/pipeline-spec';
import { BucketEventSchema, createdObjects, groupByAsset } from '../lib/triggers/events';
import { signalDataArrival } from '../lib/triggers/signal';

/**
 * The data-arrival webhook: MinIO (or anything speaking the S3 event format) POSTs bucket events
 * to /minio/events with `Authorization: Bearer <token>`. Each created object under an asset's
 * source prefix is reported to that asset's DataArrivalWorkflow (signalWithStart).
 *
 * Status codes matter to MinIO, which retries a queued event every few seconds until it gets a
 * 2xx: 401 wrong/missing token, 400 malformed body, 413 too large, 503 Temporal unreachable (so it
 * is retried), 200 otherwise, also for objects no asset reads (retrying those would block the queue).
 */
export const EVENTS_PATH = '/minio/events';
const MAX_BODY_BYTES = 1024 * 1024;

export interface ReceiverOptions {
  client: Client;
  token: string;
  /** The workers' PDM_BUCKET, for specs without source.bucket. */
  defaultBucket: string;
  /** Current specs; called per request so spec changes apply without a restart. */
  specs: () => PipelineSpec[];
  log?: (msg: string) => void;
}

/** Specs from a directory of YAML/JSON files; invalid files are reported and skipped. */
export function loadSpecsDir(dir: string, log: (m: string) => void = () => undefined): PipelineSpec[] {
  if (!existsSync(dir)) return [];
  const out: PipelineSpec[] = [];
  for (const f of readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()) {
    try {
      out.push(parsePipelineSpecText(readFileSync(join(dir, f), 'utf8'), join(dir, f)));
    } catch (err) {
      log(`receiver: skipping ${f}: ${(err as Error).message}`);
    }
  }
  return out;
}

function tokenOk(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  const given = Buffer.from(m ? m[1]! : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function reply(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface ReceiverStats {
  accepted: number;
  signalled: number;
  ignored: number;
  rejected: number;
}

export function createReceiverServer(o: ReceiverOptions): Server & { stats: ReceiverStats } {
  const log = o.log ?? (() => undefined);
  const stats: ReceiverStats = { accepted: 0, signalled: 0, ignored: 0, rejected: 0 };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return reply(res, 200, { ok: true });
    if (path !== EVENTS_PATH) return reply(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return reply(res, 405, { error: 'POST only' });
    if (!tokenOk(req.headers.authorization, o.token)) {
      stats.rejected++;
      return reply(res, 401, { error: 'missing or wrong bearer token' });
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      stats.rejected++;
      return reply(res, 413, { error: `body above ${MAX_BODY_BYTES} bytes` });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      stats.rejected++;
      return reply(res, 400, { error: 'body is not JSON' });
    }
    const parsed = BucketEventSchema.safeParse(json);
    if (!parsed.success) {
      stats.rejected++;
      return reply(res, 400, { error: `not an S3 bucket event: ${formatZodError(parsed.error)}` });
    }
    let objects;
    try {
      objects = createdObjects(parsed.data);
    } catch {
      stats.rejected++;
      return reply(res, 400, { error: 'object key is not URL-encoded correctly' });
    }
    stats.accepted++;
    const { byAsset, ignored } = groupByAsset(o.specs(), objects, o.defaultBucket);
    stats.ignored += ignored.length;
    const signalled: Record<string, string[]> = {};
    try {
      for (const [assetId, { spec, objects: objs }] of byAsset) {
        await signalDataArrival(o.client, spec, objs, 'webhook');
        signalled[assetId] = objs.map((x) => x.key);
        stats.signalled += objs.length;
        log(`receiver: ${objs.length} new object(s) for ${assetId}: ${objs.map((x) => x.key).join(', ')}`);
      }
    } catch (err) {
      log(`receiver: cannot signal Temporal (${(err as Error).message}); answering 503 so the event is retried`);
      return reply(res, 503, { error: 'Temporal unavailable, retry' });
    }
    return reply(res, 200, { signalled, ignored: ignored.map((x) => `${x.bucket}/${x.key}`) });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`receiver: ${(err as Error).message}`);
      if (!res.headersSent) reply(res, 500, { error: 'internal error' });
    });
  });
  return Object.assign(server, { stats });
}
