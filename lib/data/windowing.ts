/**
 * Windowing and leakage-free splitting. Each recording's time span is cut into three contiguous
 * blocks (train, validation, test, in time order) and windows are cut inside a block only, so no
 * test window shares a single sample with a training window.
 */
export type Split = 'train' | 'validation' | 'test';
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

export interface WindowPlan {
  recording: number;
  startRow: number;
  split: Split;
}

export interface SplitFractions {
  train: number;
  validation: number;
}

/** Row ranges [start, end) of each split block of a recording with `rows` samples. */
export function splitBlocks(rows: number, fractions: SplitFractions): Record<Split, [number, number]> {
  const trainEnd = Math.floor(rows * fractions.train);
  const valEnd = Math.floor(rows * (fractions.train + fractions.validation));
  return { train: [0, trainEnd], validation: [trainEnd, valEnd], test: [valEnd, rows] };
}

/** Start rows of windows of `length` every `hop` samples that fit inside [start, end). */
export function windowStarts(start: number, end: number, length: number, hop: number): number[] {
  const out: number[] = [];
  for (let s = start; s + length <= end; s += hop) out.push(s);
  return out;
}

export function planWindows(
  recordingRows: number[],
  fractions: SplitFractions,
  length: number,
  hop: number,
): WindowPlan[] {
  const plan: WindowPlan[] = [];
  recordingRows.forEach((rows, recording) => {
    const blocks = splitBlocks(rows, fractions);
    for (const split of SPLITS) {
      const [s, e] = blocks[split];
      for (const startRow of windowStarts(s, e, length, hop)) plan.push({ recording, startRow, split });
    }
  });
  return plan;
}

/** Copies one window into channels-last layout: out[t * C + c]. */
export function extractWindow(channels: Float32Array[], startRow: number, length: number, out: Float32Array, offset = 0): void {
  const c = channels.length;
  for (let ch = 0; ch < c; ch++) {
    const src = channels[ch]!;
    for (let t = 0; t < length; t++) out[offset + t * c + ch] = src[startRow + t]!;
  }
}
