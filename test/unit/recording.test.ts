import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecording } from '../../lib/arrow/recording';
import { InvalidDatasetError } from '../../lib/errors';
import { recordingBytes } from '../helpers/arrow-fixtures';

const checks = { channels: ['de_accel', 'fe_accel'], sampleRateHz: 12000, maxNonFiniteFraction: 0 };

function rejects(bytes: Uint8Array, pattern: RegExp, c = checks): void {
  assert.throws(() => parseRecording('recordings/a/x.arrow', bytes, c), (err: unknown) => {
    assert.ok(err instanceof InvalidDatasetError, `expected InvalidDatasetError, got ${String(err)}`);
    assert.equal(err.type, 'InvalidDataset');
    assert.match(err.message, /^recordings\/a\/x\.arrow: /);
    assert.match(err.message, pattern);
    return true;
  });
}

void test('reads the IPC file and stream formats alike', () => {
  for (const format of ['file', 'stream'] as const) {
    const rec = parseRecording('k', recordingBytes({ rows: 1200, format }), checks);
    assert.equal(rec.format, format);
    assert.equal(rec.rows, 1200);
    assert.equal(rec.channels.length, 2);
    assert.equal(rec.sampleRateHz, 12000);
    assert.ok(Math.abs(rec.channels[0]![10]! - Math.sin(10 / 7)) < 1e-6);
    assert.equal(rec.endNs - rec.startNs, BigInt(Math.round((1199 * 1e9) / 12000)) + 83333n);
  }
});

void test('rejects bad input with the object key and the problem', () => {
  const good = recordingBytes({ rows: 500 });
  rejects(good.subarray(0, good.length - 100), /truncated/);
  rejects(new TextEncoder().encode('timestamp,de_accel\n1,2\n'), /not Arrow IPC/);
  rejects(new Uint8Array(0), /empty object/);
  rejects(recordingBytes({ omitTimestamp: true }), /no "timestamp" column/);
  rejects(recordingBytes({ channels: { de_accel: new Float32Array(4096) } }), /missing channel column "fe_accel"/);
  rejects(recordingBytes({ channels: { de_accel: new Float32Array(4096) }, stringChannel: 'fe_accel' }), /channel "fe_accel" has type Utf8/);
  const nan = new Float32Array(4096);
  nan.fill(NaN, 100, 200);
  rejects(recordingBytes({ channels: { de_accel: nan, fe_accel: new Float32Array(4096) } }), /"de_accel" has 100 non-finite/);
  const ts = BigInt64Array.from({ length: 4096 }, (_, i) => 1_000_000_000n + BigInt(i) * 83333n);
  ts[50] = ts[48]!;
  rejects(recordingBytes({ timestamps: ts }), /not strictly increasing at row 50/);
  rejects(recordingBytes({ rateHz: 20000 }), /20000 Hz differs from the spec's 12000 Hz/);
});

void test('tolerates non-finite samples up to the configured fraction', () => {
  const nan = new Float32Array(4096);
  nan[3] = Infinity;
  const rec = parseRecording('k', recordingBytes({ channels: { de_accel: nan, fe_accel: new Float32Array(4096) } }), { ...checks, maxNonFiniteFraction: 0.01 });
  assert.equal(rec.rows, 4096);
});
