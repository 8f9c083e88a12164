import {
  Float32,
  Int32,
  makeData,
  makeVector,
  Table,
  tableToIPC,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { seededRandom } from '../random';

/**
 * Simulated bearing fleet: a stand-in for the CWRU 12 kHz drive-end set when the real data is not
 * available, laid out and typed like it (`<label>/load<H>_sim.arrow` + `labels.arrow`, same columns, same
 * synthetic time axis) so that pipeline specs written for CWRU run unchanged on it.
 *
 * The signals are SIMULATED, not measured. The model is the textbook one for localised rolling-element
 * bearing faults, chosen so that the features a classifier should learn from CWRU are present:
 *
 * - Shaft speed follows the CWRU motor load (0-3 hp -> 1797/1772/1750/1730 rpm), so every characteristic
 *   frequency scales with load just as in the real rig.
 * - Characteristic frequencies of an SKF 6205 (9 balls, d = 7.94 mm, D = 39.04 mm), as multiples of the
 *   shaft frequency fr: BPFI 5.415, BPFO 3.585, BSF 2.357, FTF 0.398.
 * - Normal: shaft harmonics 1x/2x/3x plus broadband gaussian noise (RMS about 0.07 g).
 * - Faults: a train of impacts at the fault's characteristic frequency, each ringing a structural
 *   resonance (a few kHz, decaying in 1-2 ms). Impact intervals jitter by ~1.5 % (rolling elements slip)
 *   and impact amplitudes by ~10 %. Inner-race impacts are amplitude-modulated at fr (the defect rotates
 *   through the load zone); ball impacts occur at 2 x BSF (the defect strikes both races each spin) and
 *   are modulated at FTF (the ball is carried through the load zone by the cage); the outer-race defect
 *   sits at 6:00 in the load zone, so its impacts are unmodulated.
 * - Fault size (0.007/0.014/0.021 in) scales the impact amplitude (0.3/0.6/1.0) and shifts the resonance
 *   and its damping a little, so sizes differ in the spectrum and not only in energy.
 * - The fan-end channel sees the same impacts through a longer path: 0.4 x amplitude, a slightly lower
 *   and more damped resonance, and its own sensor noise.
 */

export const SIM_CLASSES = [
  'normal',
  'inner_race_007',
  'ball_007',
  'outer_race_007',
  'inner_race_014',
  'ball_014',
  'outer_race_014',
  'inner_race_021',
  'ball_021',
  'outer_race_021',
] as const;

export type SimClass = (typeof SIM_CLASSES)[number];

export interface SimFleetOptions {
  seed?: number;
  /** Motor loads in hp (0-3), default [0, 1, 2, 3]. */
  loads?: number[];
  /** Length of each recording, default 2 s; at most 60 s because classes start one minute apart. */
  seconds?: number;
  sampleRateHz?: number;
  assetId?: string;
}

export interface SimRecording {
  /** Path relative to the dataset root, e.g. `inner_race_007/load0_sim.arrow`. */
  relPath: string;
  load: number;
  label: string;
  /** Arrow IPC file bytes. */
  bytes: Uint8Array;
}

export interface SimFleet {
  recordings: SimRecording[];
  /** Arrow IPC file bytes of the labels table (one row per recording). */
  labels: Uint8Array;
}

export const SIM_RPM_BY_LOAD: Readonly<Record<number, number>> = { 0: 1797, 1: 1772, 2: 1750, 3: 1730 };

/** SKF 6205 characteristic frequencies per unit of shaft frequency. */
export const SKF6205_ORDERS = { bpfi: 5.415, bpfo: 3.585, bsf: 2.357, ftf: 0.398 } as const;

const SIZE_PARAMS: Record<string, { inches: number; amplitude: number; resonanceShiftHz: number; decayS: number }> = {
  '007': { inches: 0.007, amplitude: 0.3, resonanceShiftHz: -250, decayS: 0.0012 },
  '014': { inches: 0.014, amplitude: 0.6, resonanceShiftHz: 0, decayS: 0.0015 },
  '021': { inches: 0.021, amplitude: 1.0, resonanceShiftHz: 300, decayS: 0.0018 },
};

/**
 * Peak impact acceleration (g) at full size, per location. Chosen so that 0.021 in faults reach an RMS
 * near 1 g and 0.007 in faults about 0.25-0.3 g, bracketing what the CWRU drive-end records show.
 */
const LOCATION_PEAK_G: Record<string, number> = { inner_race: 4.6, ball: 4.2, outer_race: 4.4 };

const DE_RESONANCE_HZ = 3500;
const FE_RESONANCE_HZ = 3000;
/** Ring-down is cut once exp(-t/tau) is below ~3e-4, well under the noise floor. */
const DECAY_SPAN = 8;

const NS_PER_S = 1e9;
const MS_PER_MIN = 60_000;

// PRNG: lib/random.ts (mulberry32), seedable and stable across platforms, unlike Math.random.

/** Box-Muller over a uniform source, caching the second variate of each pair. */
function gaussian(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    // 1 - u keeps the log argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** murmur3 finaliser: decorrelates nearby (seed, load, class) triples into independent stream seeds. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Each recording draws from its own stream, so a recording does not change when other loads are
 * added to or removed from the fleet.
 */
function recordingSeed(seed: number, load: number, classIndex: number): number {
  return mix32(mix32(mix32(seed >>> 0) ^ (load + 1)) ^ (classIndex + 0x100));
}

// ---------------------------------------------------------------------------------------------------

interface FaultModel {
  location: 'inner_race' | 'ball' | 'outer_race';
  sizeCode: string;
}

function parseClass(label: string): FaultModel | undefined {
  if (label === 'normal') return undefined;
  const m = /^(inner_race|ball|outer_race)_(007|014|021)$/.exec(label);
  if (!m) throw new Error(`unknown simulated class ${label}`);
  return { location: m[1] as FaultModel['location'], sizeCode: m[2]! };
}

/** Impact rate (Hz) and load-zone modulation of a fault at shaft frequency fr. */
function impactModel(location: FaultModel['location'], fr: number): { rateHz: number; modHz: number; modDepth: number } {
  switch (location) {
    case 'inner_race':
      return { rateHz: SKF6205_ORDERS.bpfi * fr, modHz: fr, modDepth: 0.4 };
    case 'ball':
      return { rateHz: 2 * SKF6205_ORDERS.bsf * fr, modHz: SKF6205_ORDERS.ftf * fr, modDepth: 0.45 };
    case 'outer_race':
      return { rateHz: SKF6205_ORDERS.bpfo * fr, modHz: 0, modDepth: 0 };
  }
}

/** Adds one exponentially decaying resonance starting at time t0 (s) to `out`. */
function addRingdown(out: Float64Array, rate: number, t0: number, amp: number, freqHz: number, decayS: number): void {
  const first = Math.max(0, Math.ceil(t0 * rate));
  const last = Math.min(out.length, Math.ceil((t0 + DECAY_SPAN * decayS) * rate));
  const w = 2 * Math.PI * freqHz;
  for (let i = first; i < last; i++) {
    // Evaluated at the exact sub-sample offset so impacts between samples keep their true phase.
    const dt = i / rate - t0;
    out[i]! += amp * Math.exp(-dt / decayS) * Math.sin(w * dt);
  }
}

function simulateSignals(
  label: string,
  load: number,
  rows: number,
  rate: number,
  seed: number,
): { de: Float32Array; fe: Float32Array } {
  const uniform = seededRandom(seed);
  const gauss = gaussian(uniform);
  const fr = SIM_RPM_BY_LOAD[load]! / 60;
  const de = new Float64Array(rows);
  const fe = new Float64Array(rows);

  // Shaft harmonics: residual unbalance/misalignment present on every machine, faulty or not.
  const harmonicAmp = [0.06, 0.03, 0.015];
  for (let h = 0; h < harmonicAmp.length; h++) {
    const a = harmonicAmp[h]! * (1 + 0.1 * gauss());
    const phiDe = 2 * Math.PI * uniform();
    const phiFe = 2 * Math.PI * uniform();
    const w = (2 * Math.PI * (h + 1) * fr) / rate;
    for (let i = 0; i < rows; i++) {
      de[i]! += a * Math.sin(w * i + phiDe);
      fe[i]! += 0.4 * a * Math.sin(w * i + phiFe);
    }
  }

  const fault = parseClass(label);
  if (fault) {
    const size = SIZE_PARAMS[fault.sizeCode]!;
    const { rateHz, modHz, modDepth } = impactModel(fault.location, fr);
    const peak = LOCATION_PEAK_G[fault.location]! * size.amplitude;
    // Keep the resonance below Nyquist when a caller asks for a low sample rate.
    const ceiling = 0.4 * rate;
    const deFreq = Math.min(DE_RESONANCE_HZ + size.resonanceShiftHz, ceiling);
    const feFreq = Math.min(FE_RESONANCE_HZ + 0.8 * size.resonanceShiftHz, 0.85 * ceiling);
    const feDecay = 0.8 * size.decayS;
    const modPhase = 2 * Math.PI * uniform();
    const period = 1 / rateHz;
    const duration = rows / rate;
    // Starting before t = 0 lets ring-downs already in progress appear at the start of the record.
    let t = -uniform() * period;
    while (t < duration) {
      const mod = 1 - modDepth + modDepth * Math.cos(2 * Math.PI * modHz * t + modPhase);
      const amp = peak * mod * (1 + 0.1 * gauss());
      addRingdown(de, rate, t, amp, deFreq, size.decayS);
      addRingdown(fe, rate, t, 0.4 * amp, feFreq, feDecay);
      t += period * (1 + 0.015 * gauss());
    }
  }

  // Heavier load -> more broadband excitation (friction, electrical), a few percent per hp.
  const noiseDe = 0.05 * (1 + 0.05 * load);
  const noiseFe = 0.03 * (1 + 0.05 * load);
  const outDe = new Float32Array(rows);
  const outFe = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    outDe[i] = de[i]! + noiseDe * gauss();
    outFe[i] = fe[i]! + noiseFe * gauss();
  }
  return { de: outDe, fe: outFe };
}

// ---------------------------------------------------------------------------------------------------

function startNsFor(load: number, classIndex: number): bigint {
  return BigInt(Date.UTC(2024, 0, 1 + load) + classIndex * MS_PER_MIN) * 1_000_000n;
}

/** Offset of sample i in ns, rounded like the CWRU conversion so step sizes match (83 333/83 334 ns at 12 kHz). */
function offsetNs(i: number, rate: number): bigint {
  return BigInt(Math.round((i * NS_PER_S) / rate));
}

function timestampData(values: BigInt64Array) {
  return makeData({ type: new TimestampNanosecond('UTC'), length: values.length, nullCount: 0, data: values });
}

function float32Vector(values: Float32Array) {
  return makeVector(makeData({ type: new Float32(), length: values.length, nullCount: 0, data: values }));
}

function int32Vector(values: Int32Array) {
  return makeVector(makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values }));
}

function validate(loads: number[], seconds: number, rate: number): void {
  for (const load of loads) {
    if (!Number.isInteger(load) || SIM_RPM_BY_LOAD[load] === undefined) {
      throw new RangeError(`simulated load must be one of 0, 1, 2, 3 hp (got ${load})`);
    }
  }
  if (new Set(loads).size !== loads.length) throw new RangeError('simulated loads must be distinct');
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`sampleRateHz must be positive (got ${rate})`);
  // Classes of one load start a minute apart; longer records would overlap in the labels table.
  if (!(seconds > 0) || seconds > 60) throw new RangeError(`seconds must be in (0, 60] (got ${seconds})`);
  if (Math.round(seconds * rate) < 1) throw new RangeError('recording would have no samples');
}

export function simulateFleet(opts: SimFleetOptions = {}): SimFleet {
  const seed = opts.seed ?? 1;
  const loads = opts.loads ?? [0, 1, 2, 3];
  const seconds = opts.seconds ?? 2;
  const rate = opts.sampleRateHz ?? 12000;
  const assetId = opts.assetId ?? 'sim-rig';
  validate(loads, seconds, rate);
  const rows = Math.round(seconds * rate);
  const offsets = new BigInt64Array(rows + 1);
  for (let i = 0; i <= rows; i++) offsets[i] = offsetNs(i, rate);

  const recordings: SimRecording[] = [];
  const rowsOut = {
    starts: [] as bigint[],
    ends: [] as bigint[],
    labels: [] as string[],
    loads: [] as number[],
    sizes: [] as number[],
    rpms: [] as number[],
    paths: [] as string[],
  };

  // Sorted by load, then class index, as the CWRU labels table is.
  for (const load of [...loads].sort((a, b) => a - b)) {
    const rpm = SIM_RPM_BY_LOAD[load]!;
    SIM_CLASSES.forEach((label, classIndex) => {
      const start = startNsFor(load, classIndex);
      const ts = new BigInt64Array(rows);
      for (let i = 0; i < rows; i++) ts[i] = start + offsets[i]!;
      const { de, fe } = simulateSignals(label, load, rows, rate, recordingSeed(seed, load, classIndex));
      const fault = parseClass(label);
      const sizeIn = fault ? SIZE_PARAMS[fault.sizeCode]!.inches : 0;

      const table = new Table({
        timestamp: makeVector(timestampData(ts)),
        de_accel: float32Vector(de),
        fe_accel: float32Vector(fe),
      });
      const md = table.schema.metadata;
      md.set('asset_id', assetId);
      md.set('sample_rate_hz', String(rate));
      md.set('load_hp', String(load));
      md.set('rpm', String(rpm));
      md.set('label', label);
      md.set('fault_size_in', sizeIn.toFixed(3));
      md.set('fault_type', fault ? fault.location : 'normal');
      md.set('simulated', 'true');
      md.set('seed', String(seed));
      md.set('units', 'g');
      md.set('channels', 'de_accel=simulated drive-end, fe_accel=simulated fan-end');
      md.set(
        'timestamp_note',
        `synthetic time axis: start = 2024-01-0${load + 1}T00:00:00Z + ${classIndex} min (class index), ts_i = start + round(i*1e9/${rate}) ns`,
      );
      md.set('origin', 'simulated bearing fleet (lib/sim/fleet.ts), SKF 6205 fault model; not measured data');

      const relPath = `${label}/load${load}_sim.arrow`;
      recordings.push({ relPath, load, label, bytes: tableToIPC(table, 'file') });
      rowsOut.starts.push(start);
      rowsOut.ends.push(start + offsets[rows]!);
      rowsOut.labels.push(label);
      rowsOut.loads.push(load);
      rowsOut.sizes.push(sizeIn);
      rowsOut.rpms.push(rpm);
      rowsOut.paths.push(relPath);
    });
  }

  const n = recordings.length;
  const labelsTable = new Table({
    asset_id: vectorFromArray(new Array<string>(n).fill(assetId), new Utf8()),
    start: makeVector(timestampData(BigInt64Array.from(rowsOut.starts))),
    end: makeVector(timestampData(BigInt64Array.from(rowsOut.ends))),
    label: vectorFromArray(rowsOut.labels, new Utf8()),
    load_hp: int32Vector(Int32Array.from(rowsOut.loads)),
    // Not asked for by the pipeline, but present in the CWRU labels table, so kept for schema parity.
    fault_size_in: float32Vector(Float32Array.from(rowsOut.sizes)),
    rpm: int32Vector(Int32Array.from(rowsOut.rpms)),
    rows: int32Vector(new Int32Array(n).fill(rows)),
    recording: vectorFromArray(rowsOut.paths, new Utf8()),
  });
  const lmd = labelsTable.schema.metadata;
  lmd.set('asset_id', assetId);
  lmd.set(
    'description',
    'One row per recording: labelled time range [start, end) of the recording on the synthetic time axis (half-open; end = start + rows/sample_rate).',
  );
  lmd.set('interval', 'half-open [start, end)');
  lmd.set('sample_rate_hz', String(rate));
  lmd.set('simulated', 'true');
  lmd.set('seed', String(seed));
  lmd.set('origin', 'simulated bearing fleet (lib/sim/fleet.ts), SKF 6205 fault model; not measured data');

  return { recordings, labels: tableToIPC(labelsTable, 'file') };
}
