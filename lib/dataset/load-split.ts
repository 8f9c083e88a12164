import { concatBatches, decodeWindowShard, WindowBatch } from '../arrow/window-shards';
import { applyNormalization, Normalization } from '../data/normalization';
import type { Split } from '../data/windowing';
import type { BlobStore } from '../storage/blob-store';
import type { WindowDatasetManifest } from './manifests';
import { seededRandom } from '../random';

/** Reads every shard of one split into a single batch (raw, unnormalized values). */
export async function loadSplit(store: BlobStore, manifest: WindowDatasetManifest, split: Split): Promise<WindowBatch> {
  const batches: WindowBatch[] = [];
  for (const key of manifest.shards[split]) batches.push(decodeWindowShard(key, (await store.get(key)).body));
  return concatBatches(batches);
}

/** A normalized copy of the batch's windows, ready to become a tensor. */
export function normalizedWindows(batch: WindowBatch, norm: Normalization): Float32Array {
  const x = batch.x.slice();
  applyNormalization(x, batch.channels, norm);
  return x;
}


/** Keeps at most `perClass` windows of each class, chosen at random with `seed`; 0 keeps all. */
export function capPerClass(batch: WindowBatch, perClass: number, seed: number): WindowBatch {
  if (perClass <= 0) return batch;
  const rand = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  batch.labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  const keep: number[] = [];
  for (const idx of byClass.values()) {
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    keep.push(...idx.slice(0, perClass));
  }
  keep.sort((a, b) => a - b);
  const width = batch.length * batch.channels;
  const x = new Float32Array(keep.length * width);
  keep.forEach((src, dst) => x.set(batch.x.subarray(src * width, (src + 1) * width), dst * width));
  return {
    ...batch,
    count: keep.length,
    x,
    labels: Int32Array.from(keep.map((i) => batch.labels[i]!)),
    recordings: keep.map((i) => batch.recordings[i]!),
    startNs: BigInt64Array.from(keep.map((i) => batch.startNs[i]!)),
  };
}
