/** Per-channel standardization; fitted on the training split only so no test statistics leak in. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** Mean/std per channel over the given row ranges of each recording (Welford-free two-pass in float64). */
export function fitNormalization(channelsPerRecording: Float32Array[][], rangesPerRecording: [number, number][]): Normalization {
  const c = channelsPerRecording[0]?.length ?? 0;
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  let n = 0;
  channelsPerRecording.forEach((channels, r) => {
    const [s, e] = rangesPerRecording[r]!;
    for (let ch = 0; ch < c; ch++) {
      const x = channels[ch]!;
      let a = 0;
      let b = 0;
      for (let i = s; i < e; i++) {
        const v = x[i]!;
        a += v;
        b += v * v;
      }
      sum[ch]! += a;
      sumSq[ch]! += b;
    }
    n += Math.max(0, e - s);
  });
  if (n === 0) throw new Error('cannot fit normalization on zero samples');
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, ch) => Math.sqrt(Math.max(s / n - mean[ch]! ** 2, 0)) || 1);
  return { mean, std };
}

/** In place, channels-last data. */
export function applyNormalization(x: Float32Array, channels: number, norm: Normalization): void {
  for (let i = 0; i < x.length; i++) {
    const ch = i % channels;
    x[i] = (x[i]! - norm.mean[ch]!) / norm.std[ch]!;
  }
}
