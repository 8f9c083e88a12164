import { Field, Float32, makeData, makeVector, Schema, Table, tableToIPC, TimestampNanosecond, Utf8, vectorFromArray, Int64, Vector } from 'apache-arrow';

/** Builds small recordings in memory, in the CWRU schema, for parser and pipeline tests. */
export interface FixtureOptions {
  rows?: number;
  rateHz?: number;
  startNs?: bigint;
  channels?: Record<string, Float32Array>;
  metadata?: Record<string, string>;
  /** Replace the timestamp column's values. */
  timestamps?: BigInt64Array;
  omitTimestamp?: boolean;
  stringChannel?: string;
  format?: 'file' | 'stream';
}

export function recordingBytes(o: FixtureOptions = {}): Uint8Array {
  const rows = o.rows ?? 4096;
  const rate = o.rateHz ?? 12000;
  const start = o.startNs ?? 1_704_067_200_000_000_000n;
  const ts = o.timestamps ?? BigInt64Array.from({ length: rows }, (_, i) => start + BigInt(Math.round((i * 1e9) / rate)));
  const cols: Record<string, Vector> = {};
  if (!o.omitTimestamp) cols.timestamp = makeVector(makeData({ type: new TimestampNanosecond('UTC'), length: ts.length, nullCount: 0, data: ts }));
  const channels = o.channels ?? {
    de_accel: Float32Array.from({ length: rows }, (_, i) => Math.sin(i / 7)),
    fe_accel: Float32Array.from({ length: rows }, (_, i) => Math.cos(i / 5)),
  };
  for (const [name, values] of Object.entries(channels)) cols[name] = makeVector(values);
  if (o.stringChannel) cols[o.stringChannel] = vectorFromArray(Array.from({ length: rows }, (_, i) => String(i)), new Utf8());
  const table = new Table(cols);
  const md = new Map(Object.entries({ sample_rate_hz: String(rate), ...(o.metadata ?? {}) }));
  const withMeta = new Table(new Schema(table.schema.fields, md), table.batches.map((b) => b));
  return tableToIPC(withMeta, o.format ?? 'file');
}

export function labelTableBytes(rows: { assetId: string; start: bigint; end: bigint; label: string }[]): Uint8Array {
  const ts = (xs: bigint[]) => makeVector(makeData({ type: new TimestampNanosecond('UTC'), length: xs.length, nullCount: 0, data: BigInt64Array.from(xs) }));
  return tableToIPC(
    new Table({
      asset_id: vectorFromArray(rows.map((r) => r.assetId), new Utf8()),
      start: ts(rows.map((r) => r.start)),
      end: ts(rows.map((r) => r.end)),
      label: vectorFromArray(rows.map((r) => r.label), new Utf8()),
    }),
    'file',
  );
}

void Field;
void Float32;
void Int64;
