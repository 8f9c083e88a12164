import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

/**
 * The Temporal UI's "codec server": POST /encode and /decode with {"payloads": [...]} in the
 * Payload JSON form (base64 metadata values and data). Point the UI at it (Settings → Codec Server,
 * or `temporal server start-dev --ui-codec-endpoint`) to read encrypted payloads in the browser.
 */
const JsonPayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() })),
});

const fromJson = (p: z.infer<typeof JsonPayloads>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function createCodecServer(codec: PayloadCodec, allowOrigin: string): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Access-Control-Allow-Origin', allowOrigin);
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const route = req.url?.split('?')[0];
    if (req.method !== 'POST' || (route !== '/encode' && route !== '/decode')) return void res.writeHead(404).end();
    let parsed;
    try {
      parsed = JsonPayloads.parse(JSON.parse(await body(req)));
    } catch {
      return void res.writeHead(400, { 'Content-Type': 'text/plain' }).end('body must be {"payloads": [...]}');
    }
    try {
      const payloads = parsed.payloads.map(fromJson);
      const out = route === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
    } catch (err) {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`cannot ${route.slice(1)}: ${(err as Error).message}`);
    }
  };
  return createServer((req, res) => void handle(req, res));
}
