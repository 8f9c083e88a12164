import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Table, tableFromIPC, TimeUnit, Type } from 'apache-arrow';
import { SIM_CLASSES, SIM_RPM_BY_LOAD, SKF6205_ORDERS, simulateFleet } from '../../lib/sim/fleet';

const RATE = 12000;

function bigints(table: Table, name: string): bigint[] {
  const out: bigint[] = [];
  for (const data of table.getChild(name)!.data) {
    const values = data.values as BigInt64Array;
    for (let i = 0; i < data.length; i++) out.push(values[i]!);
  }
  return out;
}

function floats(table: Table, name: string): Float32Array {
  return Float32Array.from(table.getChild(name)!.toArray() as Float32Array);
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/**
 * Frequency (Hz) of the largest envelope-spectrum line in [fMin, fMax]. The first difference removes
 * the shaft harmonics, rectification demodulates the resonance, Goertzel evaluates a fine grid cheaply.
 */
function envelopePeakHz(x: Float32Array, rate: number, fMin: number, fMax: number, step: number): number {
  const env = new Float64Array(x.length - 1);
  let mean = 0;
  for (let i = 1; i < x.length; i++) {
    env[i - 1] = Math.abs(x[i]! - x[i - 1]!);
    mean += env[i - 1]!;
  }
  mean /= env.length;
  let bestPower = -1;
  let bestHz = 0;
  for (let f = fMin; f <= fMax; f += step) {
    const coeff = 2 * Math.cos((2 * Math.PI * f) / rate);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < env.length; i++) {
      const s0 = env[i]! - mean + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (power > bestPower) {
      bestPower = power;
      bestHz = f;
    }
  }
  return bestHz;
}

void test('same seed gives byte-identical output; another seed does not', () => {
  const a = simulateFleet({ seed: 7, loads: [0, 2], seconds: 0.5 });
  const b = simulateFleet({ seed: 7, loads: [0, 2], seconds: 0.5 });
  const c = simulateFleet({ seed: 8, loads: [0, 2], seconds: 0.5 });
  assert.equal(a.recordings.length, 20);
  assert.deepEqual(Buffer.from(a.labels), Buffer.from(b.labels));
  for (let i = 0; i < a.recordings.length; i++) {
    assert.equal(a.recordings[i]!.relPath, b.recordings[i]!.relPath);
    assert.ok(Buffer.from(a.recordings[i]!.bytes).equals(Buffer.from(b.recordings[i]!.bytes)), a.recordings[i]!.relPath);
    assert.ok(!Buffer.from(a.recordings[i]!.bytes).equals(Buffer.from(c.recordings[i]!.bytes)), `seed ignored for ${a.recordings[i]!.relPath}`);
  }
  // A recording must not depend on which other loads were simulated alongside it.
  const only2 = simulateFleet({ seed: 7, loads: [2], seconds: 0.5 });
  const fromA = a.recordings.filter((r) => r.load === 2);
  assert.equal(only2.recordings.length, fromA.length);
  only2.recordings.forEach((r, i) => assert.ok(Buffer.from(r.bytes).equals(Buffer.from(fromA[i]!.bytes)), r.relPath));
});

void test('recordings follow the CWRU layout, schema, metadata and time axis', () => {
  const seconds = 0.25;
  const rows = seconds * RATE;
  const fleet = simulateFleet({ seed: 3, seconds, assetId: 'rig-x' });
  assert.equal(fleet.recordings.length, 4 * SIM_CLASSES.length);
  fleet.recordings.forEach((rec, n) => {
    const load = Math.floor(n / SIM_CLASSES.length);
    const classIndex = n % SIM_CLASSES.length;
    assert.equal(rec.load, load);
    assert.equal(rec.label, SIM_CLASSES[classIndex]);
    assert.equal(rec.relPath, `${rec.label}/load${load}_sim.arrow`);
    assert.equal(Buffer.from(rec.bytes.subarray(0, 6)).toString('latin1'), 'ARROW1', 'IPC file format');

    const table = tableFromIPC(rec.bytes);
    assert.equal(table.numRows, rows);
    assert.deepEqual(
      table.schema.fields.map((f) => f.name),
      ['timestamp', 'de_accel', 'fe_accel'],
    );
    const ts = table.schema.fields[0]!.type as unknown as { typeId: Type; unit: TimeUnit; timezone: string | null };
    assert.equal(ts.typeId, Type.Timestamp);
    assert.equal(ts.unit, TimeUnit.NANOSECOND);
    assert.equal(ts.timezone, 'UTC');
    for (const f of table.schema.fields.slice(1)) assert.equal(String(f.type), 'Float32');

    const md = table.schema.metadata;
    assert.equal(md.get('asset_id'), 'rig-x');
    assert.equal(md.get('sample_rate_hz'), '12000');
    assert.equal(md.get('load_hp'), String(load));
    assert.equal(md.get('rpm'), String(SIM_RPM_BY_LOAD[load]));
    assert.equal(md.get('label'), rec.label);
    assert.equal(md.get('simulated'), 'true');
    assert.equal(md.get('units'), 'g');

    const t = bigints(table, 'timestamp');
    const start = BigInt(Date.UTC(2024, 0, 1 + load) + classIndex * 60_000) * 1_000_000n;
    assert.equal(t[0], start);
    for (let i = 1; i < t.length; i++) {
      const d = t[i]! - t[i - 1]!;
      assert.ok(d === 83_333n || d === 83_334n, `step ${d} ns at row ${i}`);
    }
    assert.equal(t[rows - 1]! - start, BigInt(Math.round(((rows - 1) * 1e9) / RATE)));
    for (const name of ['de_accel', 'fe_accel']) assert.ok(floats(table, name).every(Number.isFinite), `${name} finite`);
  });
});

void test('labels table has one half-open, non-overlapping range per recording', () => {
  const seconds = 0.5;
  const fleet = simulateFleet({ seed: 11, seconds, loads: [3, 1] });
  const labels = tableFromIPC(fleet.labels);
  assert.deepEqual(
    labels.schema.fields.map((f) => f.name).filter((n) => ['asset_id', 'start', 'end', 'label', 'load_hp', 'rows', 'recording'].includes(n)),
    ['asset_id', 'start', 'end', 'label', 'load_hp', 'rows', 'recording'],
  );
  for (const name of ['start', 'end']) {
    const type = labels.schema.fields.find((f) => f.name === name)!.type as unknown as { typeId: Type; unit: TimeUnit; timezone: string };
    assert.equal(type.typeId, Type.Timestamp);
    assert.equal(type.unit, TimeUnit.NANOSECOND);
    assert.equal(type.timezone, 'UTC');
  }
  assert.equal(labels.numRows, fleet.recordings.length);
  const starts = bigints(labels, 'start');
  const ends = bigints(labels, 'end');
  const rec = labels.getChild('recording')!.toArray() as string[];
  const lab = labels.getChild('label')!.toArray() as string[];
  const load = labels.getChild('load_hp')!.toArray() as Int32Array;
  const rows = labels.getChild('rows')!.toArray() as Int32Array;
  const asset = labels.getChild('asset_id')!.toArray() as string[];

  fleet.recordings.forEach((r, i) => {
    assert.equal(rec[i], r.relPath);
    assert.equal(lab[i], r.label);
    assert.equal(load[i], r.load);
    assert.equal(asset[i], 'sim-rig');
    const table = tableFromIPC(r.bytes);
    assert.equal(rows[i], table.numRows);
    const t = bigints(table, 'timestamp');
    assert.equal(starts[i], t[0]);
    assert.equal(ends[i], starts[i]! + BigInt(Math.round((rows[i] * 1e9) / RATE)));
    assert.ok(t[t.length - 1]! < ends[i], 'last sample inside the half-open range');
  });
  // Sorted by load then class, so consecutive ranges must not overlap.
  assert.deepEqual(Array.from(load), [...new Array<number>(10).fill(1), ...new Array<number>(10).fill(3)]);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! >= ends[i - 1]!, `rows ${i - 1} and ${i} overlap`);
});

void test('fault signatures: envelope spectra peak at BPFO / BPFI / 2xBSF and faults carry more energy', () => {
  const fleet = simulateFleet({ seed: 1, loads: [0, 3], seconds: 2 });
  const de = new Map(fleet.recordings.map((r) => [`${r.label}@${r.load}`, floats(tableFromIPC(r.bytes), 'de_accel')]));

  for (const load of [0, 3]) {
    const fr = SIM_RPM_BY_LOAD[load]! / 60;
    const expectations: [string, number][] = [
      ['outer_race_021', SKF6205_ORDERS.bpfo * fr],
      ['outer_race_007', SKF6205_ORDERS.bpfo * fr],
      ['inner_race_014', SKF6205_ORDERS.bpfi * fr],
      ['ball_021', 2 * SKF6205_ORDERS.bsf * fr],
    ];
    for (const [label, expected] of expectations) {
      const peak = envelopePeakHz(de.get(`${label}@${load}`)!, RATE, 40, 250, 0.25);
      assert.ok(Math.abs(peak - expected) < 1.5, `${label}@${load}hp: envelope peak ${peak} Hz, expected ${expected.toFixed(1)} Hz`);
    }

    const normal = rms(de.get(`normal@${load}`)!);
    assert.ok(normal > 0.04 && normal < 0.12, `normal RMS ${normal}`);
    for (const location of ['inner_race', 'ball', 'outer_race']) {
      const r7 = rms(de.get(`${location}_007@${load}`)!);
      const r14 = rms(de.get(`${location}_014@${load}`)!);
      const r21 = rms(de.get(`${location}_021@${load}`)!);
      assert.ok(r7 > 2 * normal, `${location}_007 RMS ${r7} vs normal ${normal}`);
      assert.ok(r7 < r14 && r14 < r21, `${location} RMS grows with fault size: ${r7}, ${r14}, ${r21}`);
      assert.ok(r21 < 1.5, `${location}_021 RMS ${r21} g is implausibly large`);
    }
  }
});

void test('rejects options that would break the CWRU layout', () => {
  assert.throws(() => simulateFleet({ loads: [4] }), RangeError);
  assert.throws(() => simulateFleet({ loads: [1, 1] }), RangeError);
  assert.throws(() => simulateFleet({ seconds: 61 }), RangeError);
  assert.throws(() => simulateFleet({ sampleRateHz: 0 }), RangeError);
});
