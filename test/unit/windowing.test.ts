import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planWindows, splitBlocks, windowStarts, extractWindow } from '../../lib/data/windowing';
import { fitNormalization, applyNormalization } from '../../lib/data/normalization';

void test('windowStarts keeps every window inside its block', () => {
  assert.deepEqual(windowStarts(0, 10, 4, 3), [0, 3, 6]);
  assert.deepEqual(windowStarts(5, 8, 4, 1), []);
});

void test('split blocks are contiguous, ordered and cover the recording', () => {
  const b = splitBlocks(1000, { train: 0.7, validation: 0.15 });
  assert.deepEqual(b, { train: [0, 700], validation: [700, 850], test: [850, 1000] });
});

void test('no test or validation window shares a sample with a training window', () => {
  const length = 64;
  const plan = planWindows([5000, 3333, 777], { train: 0.6, validation: 0.2 }, length, 17);
  for (const rec of [0, 1, 2]) {
    const mine = plan.filter((w) => w.recording === rec);
    const train = mine.filter((w) => w.split === 'train');
    for (const other of mine.filter((w) => w.split !== 'train')) {
      for (const t of train) {
        const overlap = other.startRow < t.startRow + length && t.startRow < other.startRow + length;
        assert.equal(overlap, false, `recording ${rec}: ${other.split} window at ${other.startRow} overlaps train window at ${t.startRow}`);
      }
    }
  }
  assert.ok(plan.some((w) => w.split === 'test') && plan.some((w) => w.split === 'validation'));
});

void test('extractWindow lays channels out channels-last', () => {
  const out = new Float32Array(6);
  extractWindow([Float32Array.of(1, 2, 3, 4), Float32Array.of(10, 20, 30, 40)], 1, 3, out);
  assert.deepEqual(Array.from(out), [2, 20, 3, 30, 4, 40]);
});

void test('normalization is fitted on the given (training) rows only', () => {
  const ch = Float32Array.from([1, 3, 1, 3, 100, 100]);
  const norm = fitNormalization([[ch]], [[0, 4]]);
  assert.deepEqual(norm.mean, [2]);
  assert.deepEqual(norm.std, [1]);
  const x = Float32Array.of(2, 3);
  applyNormalization(x, 1, norm);
  assert.deepEqual(Array.from(x), [0, 1]);
});
