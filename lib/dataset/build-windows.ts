import type { Recording } from '../arrow/recording';
import { PdmError } from '../errors';
import { fitNormalization, Normalization } from '../data/normalization';
import { extractWindow, planWindows, Split, SPLITS, splitBlocks } from '../data/windowing';
import type { WindowBatch } from '../arrow/window-shards';

export interface WindowBuildOptions {
  length: number;
  hop: number;
  classes: string[];
  split: { train: number; validation: number };
}

export interface WindowBuildResult {
  batches: Record<Split, WindowBatch>;
  counts: Record<Split, Record<string, number>>;
  normalization: Normalization;
  unlabelled: number;
}

/** Labels a window [startNs, endNs) of a recording, or returns undefined to drop it. */
export type WindowLabeler = (recording: Recording, startNs: bigint, endNs: bigint) => string | undefined;

/**
 * Cuts labelled windows from recordings, split by time block, with normalization fitted on the
 * training blocks only. Windows keep raw values: each model applies its own normalization.
 */
export function buildWindows(recordings: Recording[], labeler: WindowLabeler, opts: WindowBuildOptions): WindowBuildResult {
  const { length, hop, classes } = opts;
  const channels = recordings[0]?.channels.length ?? 0;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const plan = planWindows(recordings.map((r) => r.rows), opts.split, length, hop);

  const kept: Record<Split, { recording: number; startRow: number; label: number; startNs: bigint }[]> = { train: [], validation: [], test: [] };
  let unlabelled = 0;
  for (const w of plan) {
    const rec = recordings[w.recording]!;
    const startNs = rec.timestampsNs[w.startRow]!;
    const lastRow = w.startRow + length - 1;
    const endNs = lastRow + 1 < rec.rows ? rec.timestampsNs[lastRow + 1]! : rec.endNs;
    const label = labeler(rec, startNs, endNs);
    if (label === undefined) {
      unlabelled++;
      continue;
    }
    const idx = classIndex.get(label);
    if (idx === undefined) {
      throw new PdmError('InvalidLabels', `${rec.key}: label "${label}" is not one of the spec's classes (${classes.join(', ')})`, { objectKey: rec.key, label });
    }
    kept[w.split].push({ recording: w.recording, startRow: w.startRow, label: idx, startNs });
  }

  const counts = {} as Record<Split, Record<string, number>>;
  for (const split of SPLITS) {
    counts[split] = Object.fromEntries(classes.map((c) => [c, 0]));
    for (const w of kept[split]) counts[split][classes[w.label]!]!++;
  }
  const total = kept.train.length + kept.validation.length + kept.test.length;
  if (total === 0) {
    throw new PdmError('InvalidDataset', `no labelled windows of ${length} samples in ${recordings.length} recording(s) (${unlabelled} windows had no label)`, { unlabelled });
  }
  const trainClasses = classes.filter((c) => counts.train[c]! > 0);
  if (trainClasses.length < 2) {
    throw new PdmError('InvalidDataset', `training windows cover ${trainClasses.length} class(es) (${trainClasses.join(', ') || 'none'}); at least 2 are needed`, { counts });
  }
  for (const c of classes) {
    if (counts.train[c] === 0 || counts.test[c] === 0) {
      throw new PdmError('InvalidDataset', `class "${c}" has ${counts.train[c]} training and ${counts.test[c]} test windows: too few windows to split (recordings too short for window ${length} and the split fractions?)`, { counts });
    }
  }
  if (kept.validation.length === 0) throw new PdmError('InvalidDataset', 'no validation windows: recordings too short for the split', { counts });

  // Statistics over the training blocks of the recordings that contributed labelled windows.
  const usedRecordings = [...new Set(kept.train.map((w) => w.recording))].sort((a, b) => a - b);
  const normalization = fitNormalization(
    usedRecordings.map((r) => recordings[r]!.channels),
    usedRecordings.map((r) => splitBlocks(recordings[r]!.rows, opts.split).train),
  );

  const batches = {} as Record<Split, WindowBatch>;
  for (const split of SPLITS) {
    const ws = kept[split];
    const x = new Float32Array(ws.length * length * channels);
    ws.forEach((w, i) => extractWindow(recordings[w.recording]!.channels, w.startRow, length, x, i * length * channels));
    batches[split] = {
      length,
      channels,
      count: ws.length,
      x,
      labels: Int32Array.from(ws.map((w) => w.label)),
      recordings: ws.map((w) => recordings[w.recording]!.key),
      startNs: BigInt64Array.from(ws.map((w) => w.startNs)),
    };
  }
  return { batches, counts, normalization, unlabelled };
}

/** Splits a batch into shards of at most `size` windows. */
export function shardBatch(batch: WindowBatch, size: number): WindowBatch[] {
  const width = batch.length * batch.channels;
  const out: WindowBatch[] = [];
  for (let s = 0; s < batch.count || (s === 0 && batch.count === 0); s += size) {
    const e = Math.min(batch.count, s + size);
    out.push({
      ...batch,
      count: e - s,
      x: batch.x.subarray(s * width, e * width),
      labels: batch.labels.subarray(s, e),
      recordings: batch.recordings.slice(s, e),
      startNs: batch.startNs.subarray(s, e),
    });
    if (batch.count === 0) break;
  }
  return out;
}
