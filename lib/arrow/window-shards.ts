import {
  Field,
  FixedSizeList,
  Float32,
  Int32,
  Int64,
  makeData,
  makeVector,
  Table,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { readIpcTable } from './ipc';

/**
 * A shard of windows: `x` is a FixedSizeList<Float32> of length*channels (channels-last),
 * `label` the class index, `recording` the source object key, `start_ns` the window start.
 */
export interface WindowBatch {
  length: number;
  channels: number;
  count: number;
  x: Float32Array;
  labels: Int32Array;
  recordings: string[];
  startNs: BigInt64Array;
}

export function encodeWindowShard(batch: WindowBatch): Uint8Array {
  const width = batch.length * batch.channels;
  const values = makeData({ type: new Float32(), length: batch.count * width, nullCount: 0, data: batch.x });
  const listType = new FixedSizeList(width, new Field('v', new Float32(), false));
  const x = makeData({ type: listType, length: batch.count, nullCount: 0, child: values });
  const table = new Table({
    x: makeVector(x),
    label: makeVector(makeData({ type: new Int32(), length: batch.count, nullCount: 0, data: batch.labels })),
    recording: vectorFromArray(batch.recordings, new Utf8()),
    start_ns: makeVector(makeData({ type: new Int64(), length: batch.count, nullCount: 0, data: batch.startNs })),
  });
  table.schema.metadata.set('window_length', String(batch.length));
  table.schema.metadata.set('channels', String(batch.channels));
  return tableToIPC(table, 'file');
}

export function decodeWindowShard(key: string, bytes: Uint8Array): WindowBatch {
  const read = readIpcTable(bytes);
  if ('problem' in read) throw new Error(`window shard ${key}: ${read.problem}`);
  const { table } = read;
  const length = Number(table.schema.metadata.get('window_length'));
  const channels = Number(table.schema.metadata.get('channels'));
  const width = length * channels;
  const count = table.numRows;
  const x = new Float32Array(count * width);
  let pos = 0;
  for (const data of table.getChild('x')!.data) {
    const child = data.children[0]!;
    x.set((child.values as Float32Array).subarray(0, data.length * width), pos);
    pos += data.length * width;
  }
  const labels = Int32Array.from(table.getChild('label')!.toArray() as Int32Array);
  const recordings = table.getChild('recording')!.toArray() as string[];
  const startNs = new BigInt64Array(count);
  pos = 0;
  for (const data of table.getChild('start_ns')!.data) {
    startNs.set((data.values as BigInt64Array).subarray(0, data.length), pos);
    pos += data.length;
  }
  return { length, channels, count, x, labels, recordings: Array.from(recordings), startNs };
}

export function concatBatches(batches: WindowBatch[]): WindowBatch {
  if (batches.length === 1) return batches[0]!;
  const first = batches[0];
  if (!first) throw new Error('no window batches to concatenate');
  const count = batches.reduce((n, b) => n + b.count, 0);
  const width = first.length * first.channels;
  const out: WindowBatch = {
    length: first.length,
    channels: first.channels,
    count,
    x: new Float32Array(count * width),
    labels: new Int32Array(count),
    recordings: [],
    startNs: new BigInt64Array(count),
  };
  let n = 0;
  for (const b of batches) {
    out.x.set(b.x, n * width);
    out.labels.set(b.labels, n);
    out.startNs.set(b.startNs, n);
    out.recordings.push(...b.recordings);
    n += b.count;
  }
  return out;
}
