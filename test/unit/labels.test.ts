import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidLabelsError, labelFor, parseLabelTable, rangesForAsset } from '../../lib/data/labels';
import { labelTableBytes } from '../helpers/arrow-fixtures';
import { CWRU_DIR } from '../helpers/services';

const r = (start: number, end: number, label: string) => ({ assetId: 'a', start: BigInt(start), end: BigInt(end), label });

void test('a window gets the label of the range that wholly contains it', () => {
  const ranges = rangesForAsset('labels.arrow', parseLabelTable('labels.arrow', labelTableBytes([r(0, 100, 'x'), r(200, 300, 'y')])), 'a');
  assert.equal(labelFor(ranges, 10n, 90n), 'x');
  assert.equal(labelFor(ranges, 200n, 300n), 'y');
  assert.equal(labelFor(ranges, 90n, 110n), undefined, 'crossing a range end');
  assert.equal(labelFor(ranges, 150n, 160n), undefined, 'between ranges');
});

void test('overlapping or conflicting ranges are rejected, naming the object', () => {
  const bytes = labelTableBytes([r(0, 100, 'x'), r(50, 150, 'y')]);
  assert.throws(() => rangesForAsset('labels/bad.arrow', parseLabelTable('labels/bad.arrow', bytes), 'a'), (err: unknown) => {
    assert.ok(err instanceof InvalidLabelsError);
    assert.match(err.message, /labels\/bad\.arrow: conflicting label ranges/);
    return true;
  });
});

void test('ranges of other assets are ignored', () => {
  const bytes = labelTableBytes([r(0, 100, 'x'), { ...r(50, 150, 'y'), assetId: 'b' }]);
  assert.equal(rangesForAsset('l', parseLabelTable('l', bytes), 'a').length, 1);
});

void test('the real CWRU label table parses: 37 recordings, no overlaps', { skip: !existsSync(CWRU_DIR) && 'no CWRU data here' }, () => {
  const ranges = rangesForAsset('labels.arrow', parseLabelTable('labels.arrow', readFileSync(join(CWRU_DIR, 'labels.arrow'))), 'cwru-rig');
  assert.equal(ranges.length, 37);
  assert.equal(ranges[0]!.label, 'normal');
});
