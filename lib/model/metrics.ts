/** Classification metrics from predicted and true class indices. */
export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationMetrics {
  accuracy: number;
  macroF1: number;
  count: number;
  perClass: ClassMetrics[];
  /** confusion[true][predicted] */
  confusion: number[][];
}

export function classificationMetrics(truth: ArrayLike<number>, predicted: ArrayLike<number>, labels: string[]): ClassificationMetrics {
  if (truth.length !== predicted.length) throw new Error(`length mismatch: ${truth.length} truths, ${predicted.length} predictions`);
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    confusion[t]![p]!++;
    if (t === p) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedC = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predictedC === 0 ? 0 : tp / predictedC;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support };
  });
  // Classes absent from the test split would drag macro-F1 down for no reason; average the present ones.
  const present = perClass.filter((c) => c.support > 0);
  const macroF1 = present.length === 0 ? 0 : present.reduce((a, c) => a + c.f1, 0) / present.length;
  return { accuracy: truth.length === 0 ? 0 : correct / truth.length, macroF1, count: truth.length, perClass, confusion };
}

/** Index of the max of each row of a row-major [n, k] matrix. */
export function argmaxRows(probs: Float32Array | number[], k: number): Int32Array {
  const n = probs.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j]! > probs[i * k + best]!) best = j;
    out[i] = best;
  }
  return out;
}
