import { DataType, Type } from 'apache-arrow';
import { PdmError } from '../errors';
import { readIpcTable } from '../arrow/ipc';

/** A labelled time range, half-open [startNs, endNs), like a maintenance-log entry. */
export interface LabelRange {
  assetId: string;
  startNs: bigint;
  endNs: bigint;
  label: string;
}

export class InvalidLabelsError extends PdmError {
  constructor(objectKey: string, problem: string) {
    super('InvalidLabels', `${objectKey}: ${problem}`, { objectKey });
  }
}

const NS: Record<string, bigint> = { SECOND: 1_000_000_000n, MILLISECOND: 1_000_000n, MICROSECOND: 1_000n, NANOSECOND: 1n };

/** Reads a label table (asset_id, start, end, label) from Arrow IPC bytes. */
export function parseLabelTable(key: string, bytes: Uint8Array): LabelRange[] {
  const read = readIpcTable(bytes);
  if ('problem' in read) throw new InvalidLabelsError(key, read.problem);
  const { table } = read;
  for (const [name, typeId] of [
    ['asset_id', Type.Utf8],
    ['start', Type.Timestamp],
    ['end', Type.Timestamp],
    ['label', Type.Utf8],
  ] as const) {
    const f = table.schema.fields.find((x) => x.name === name);
    if (!f) throw new InvalidLabelsError(key, `label table has no "${name}" column`);
    if ((f.type as DataType).typeId !== typeId) throw new InvalidLabelsError(key, `label column "${name}" has type ${String(f.type)}`);
  }
  const scaleOf = (name: string): bigint => {
    const unit = (table.schema.fields.find((x) => x.name === name)!.type as unknown as { unit: number }).unit;
    return Object.values(NS)[unit]!;
  };
  const rawNs = (name: string, scale: bigint): bigint[] => {
    const out: bigint[] = [];
    for (const data of table.getChild(name)!.data) {
      const values = data.values as BigInt64Array;
      for (let i = 0; i < data.length; i++) out.push(values[i]! * scale);
    }
    return out;
  };
  const starts = rawNs('start', scaleOf('start'));
  const ends = rawNs('end', scaleOf('end'));
  const assets = table.getChild('asset_id')!.toArray() as string[];
  const labels = table.getChild('label')!.toArray() as string[];
  const out: LabelRange[] = [];
  for (let i = 0; i < table.numRows; i++) {
    if (assets[i] == null || labels[i] == null) throw new InvalidLabelsError(key, `row ${i} has a null asset_id or label`);
    if (ends[i]! <= starts[i]!) throw new InvalidLabelsError(key, `row ${i} (${labels[i]}) ends before it starts`);
    out.push({ assetId: assets[i]!, startNs: starts[i]!, endNs: ends[i]!, label: labels[i]! });
  }
  return out;
}

/** The ranges of one asset, sorted; overlapping ranges are rejected because a window could get two labels. */
export function rangesForAsset(key: string, ranges: LabelRange[], assetId: string): LabelRange[] {
  const mine = ranges.filter((r) => r.assetId === assetId).sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  for (let i = 1; i < mine.length; i++) {
    const prev = mine[i - 1]!;
    const cur = mine[i]!;
    if (cur.startNs < prev.endNs) {
      const kind = cur.label === prev.label ? 'overlapping' : 'conflicting';
      throw new InvalidLabelsError(key, `${kind} label ranges for asset ${assetId}: "${prev.label}" and "${cur.label}" overlap at ${cur.startNs} ns`);
    }
  }
  return mine;
}

/** Label of the range that wholly contains [startNs, endNs), or undefined. Binary search over sorted ranges. */
export function labelFor(ranges: LabelRange[], startNs: bigint, endNs: bigint): string | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (r.endNs <= startNs) lo = mid + 1;
    else if (r.startNs > startNs) hi = mid - 1;
    else return endNs <= r.endNs ? r.label : undefined;
  }
  return undefined;
}
