import { DataType, Table, TimeUnit, Type } from 'apache-arrow';
import { InvalidDatasetError } from '../errors';
import { readIpcTable } from './ipc';

/** One sensor recording, channels in the spec's order, timestamps in ns since the epoch (UTC). */
export interface Recording {
  key: string;
  rows: number;
  sampleRateHz: number;
  startNs: bigint;
  /** Exclusive end: last timestamp plus one sample period. */
  endNs: bigint;
  timestampsNs: BigInt64Array;
  channels: Float32Array[];
  metadata: Record<string, string>;
  format: 'file' | 'stream';
}

export interface RecordingChecks {
  channels: string[];
  sampleRateHz: number;
  /** Fraction of non-finite (NaN, Inf, null) samples tolerated per channel. */
  maxNonFiniteFraction: number;
}

const NS_PER_UNIT: Record<number, bigint> = {
  [TimeUnit.SECOND]: 1_000_000_000n,
  [TimeUnit.MILLISECOND]: 1_000_000n,
  [TimeUnit.MICROSECOND]: 1_000n,
  [TimeUnit.NANOSECOND]: 1n,
};

/** Relative tolerance between the declared/observed sample rate and the spec's. */
const RATE_TOLERANCE = 0.01;

function isNumeric(type: DataType): boolean {
  return type.typeId === Type.Float || type.typeId === Type.Int;
}

/** Timestamps of every batch as one array of ns; the Arrow physical type is int64 in the column's unit. */
function timestampsNs(table: Table, key: string): BigInt64Array {
  const col = table.getChild('timestamp')!;
  const type = col.type as DataType<Type.Timestamp>;
  const scale = NS_PER_UNIT[(type as unknown as { unit: number }).unit];
  if (scale === undefined) throw new InvalidDatasetError(key, 'timestamp column has an unknown time unit');
  const out = new BigInt64Array(col.length);
  let pos = 0;
  for (const data of col.data) {
    if (data.nullCount > 0) throw new InvalidDatasetError(key, 'timestamp column contains nulls');
    const values = (data.values as BigInt64Array).subarray(0, data.length);
    for (let i = 0; i < values.length; i++) out[pos++] = values[i]! * scale;
  }
  return out;
}

function channelValues(table: Table, name: string): { values: Float32Array; nonFinite: number } {
  const col = table.getChild(name)!;
  const out = new Float32Array(col.length);
  let pos = 0;
  let nonFinite = 0;
  for (const data of col.data) {
    const values = data.values as ArrayLike<number | bigint>;
    for (let i = 0; i < data.length; i++) {
      const valid = data.nullCount === 0 || col.isValid(pos);
      const v = valid ? Number(values[i]) : NaN;
      if (!Number.isFinite(v)) nonFinite++;
      out[pos++] = v;
    }
  }
  return { values: out, nonFinite };
}

/**
 * Parses and validates one recording. Every problem is an InvalidDatasetError naming the object
 * key, because a retry cannot fix bad bytes.
 */
export function parseRecording(key: string, bytes: Uint8Array, checks: RecordingChecks): Recording {
  const read = readIpcTable(bytes);
  if ('problem' in read) throw new InvalidDatasetError(key, read.problem);
  const { table, format } = read;
  const fields = new Map(table.schema.fields.map((f) => [f.name, f]));

  const tsField = fields.get('timestamp');
  if (!tsField) throw new InvalidDatasetError(key, 'no "timestamp" column');
  const tsType: DataType = tsField.type as DataType;
  if (tsType.typeId !== Type.Timestamp) {
    throw new InvalidDatasetError(key, `"timestamp" column has type ${String(tsField.type)}, expected an Arrow Timestamp`);
  }
  for (const name of checks.channels) {
    const f = fields.get(name);
    if (!f) throw new InvalidDatasetError(key, `missing channel column "${name}"`);
    if (!isNumeric(f.type as DataType)) throw new InvalidDatasetError(key, `channel "${name}" has type ${String(f.type)}, expected a numeric type`);
  }
  if (table.numRows < 2) throw new InvalidDatasetError(key, `only ${table.numRows} row(s)`);

  const ts = timestampsNs(table, key);
  for (let i = 1; i < ts.length; i++) {
    if (ts[i]! <= ts[i - 1]!) {
      throw new InvalidDatasetError(key, `timestamps are not strictly increasing at row ${i} (${ts[i - 1]} -> ${ts[i]} ns)`);
    }
  }

  const metadata = Object.fromEntries(table.schema.metadata.entries());
  const observedRate = (ts.length - 1) / (Number(ts[ts.length - 1]! - ts[0]!) / 1e9);
  const declared = metadata['sample_rate_hz'] !== undefined ? Number(metadata['sample_rate_hz']) : undefined;
  const rate = declared !== undefined && Number.isFinite(declared) ? declared : observedRate;
  if (Math.abs(observedRate - rate) / rate > RATE_TOLERANCE) {
    throw new InvalidDatasetError(key, `declared sample_rate_hz ${rate} disagrees with the timestamps (${observedRate.toFixed(1)} Hz)`);
  }
  if (Math.abs(rate - checks.sampleRateHz) / checks.sampleRateHz > RATE_TOLERANCE) {
    throw new InvalidDatasetError(
      key,
      `sample rate ${rate} Hz differs from the spec's ${checks.sampleRateHz} Hz and the spec does not ask for resampling`,
    );
  }

  const channels = checks.channels.map((name) => {
    const { values, nonFinite } = channelValues(table, name);
    if (nonFinite / values.length > checks.maxNonFiniteFraction) {
      throw new InvalidDatasetError(
        key,
        `channel "${name}" has ${nonFinite} non-finite samples (NaN/Inf/null) of ${values.length}, above the limit of ${(checks.maxNonFiniteFraction * 100).toFixed(2)} %`,
      );
    }
    return values;
  });

  const periodNs = BigInt(Math.round(1e9 / rate));
  return {
    key,
    rows: table.numRows,
    sampleRateHz: rate,
    startNs: ts[0]!,
    endNs: ts[ts.length - 1]! + periodNs,
    timestampsNs: ts,
    channels,
    metadata,
    format,
  };
}
