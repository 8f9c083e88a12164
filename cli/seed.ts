import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { simulateFleet } from '../lib/sim/fleet';
import type { BlobStore } from '../lib/storage/blob-store';
import { REPO_ROOT } from '../workers/config';
import { UserError } from './context';

/**
 * Uploads recordings in the asset layout the specs expect:
 *   recordings/<asset>-load<H>/<class>/<file>.arrow   (files named load<H>_*)
 *   recordings/<asset>/<path>                          (any other .arrow file)
 *   labels/<asset>.arrow                               (<dir>/labels.arrow, if present)
 * Unchanged objects (same MD5) are skipped, so seeding twice uploads nothing.
 */
export const DEFAULT_CWRU_DIR = resolve(REPO_ROOT, '..', 'shared', 'data', 'cwru');

export interface SeedItem {
  key: string;
  bytes: Uint8Array;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function itemsFromDir(dir: string, asset: string): SeedItem[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`seed: ${dir} is not a directory`);
  const items: SeedItem[] = [];
  for (const file of walk(dir).filter((f) => f.endsWith('.arrow')).sort()) {
    const rel = relative(dir, file);
    if (rel === 'labels.arrow') {
      items.push({ key: `labels/${asset}.arrow`, bytes: readFileSync(file) });
      continue;
    }
    const load = /^load(\d+)_/.exec(basename(file));
    items.push({ key: load ? `recordings/${asset}-load${load[1]}/${rel}` : `recordings/${asset}/${rel}`, bytes: readFileSync(file) });
  }
  if (items.length === 0) throw new UserError(`seed: no .arrow files under ${dir}`);
  return items;
}

export function simulatedItems(seed = 7): SeedItem[] {
  const fleet = simulateFleet({ seed });
  return [
    ...fleet.recordings.map((r) => ({ key: `recordings/sim-load${r.load}/${r.relPath}`, bytes: r.bytes })),
    { key: 'labels/sim.arrow', bytes: fleet.labels },
  ];
}

export async function upload(store: BlobStore, items: SeedItem[], log: (m: string) => void): Promise<{ uploaded: number; skipped: number; bytes: number }> {
  let uploaded = 0;
  let skipped = 0;
  let bytes = 0;
  for (const [i, item] of items.entries()) {
    const md5 = createHash('md5').update(item.bytes).digest('hex');
    const head = await store.head(item.key);
    if (head && head.etag === md5) {
      skipped++;
      continue;
    }
    await store.put(item.key, item.bytes, { contentType: 'application/vnd.apache.arrow.file' });
    uploaded++;
    bytes += item.bytes.byteLength;
    log(`  [${i + 1}/${items.length}] s3://${store.bucket}/${item.key}`);
  }
  return { uploaded, skipped, bytes };
}
