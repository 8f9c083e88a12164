import { Table, tableFromIPC } from 'apache-arrow';

const MAGIC = Buffer.from('ARROW1');
const CONTINUATION = 0xffffffff;

export type IpcFormat = 'file' | 'stream';

/** Identifies the IPC flavour from the bytes, and rejects truncated files that the reader would half-accept. */
export function sniffIpc(bytes: Uint8Array): { format: IpcFormat } | { problem: string } {
  if (bytes.byteLength === 0) return { problem: 'empty object (0 bytes)' };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.subarray(0, 6).equals(MAGIC)) {
    // The file format ends with the footer and the magic again; a missing tail means a cut-off upload.
    if (buf.byteLength < 12 || !buf.subarray(buf.byteLength - 6).equals(MAGIC)) {
      return { problem: 'truncated Arrow IPC file (trailing ARROW1 magic missing)' };
    }
    return { format: 'file' };
  }
  if (buf.byteLength >= 8 && buf.readUInt32LE(0) === CONTINUATION) return { format: 'stream' };
  return { problem: 'not Arrow IPC data (neither file magic ARROW1 nor a stream message at the start)' };
}

/** Parses Arrow IPC bytes; returns a readable problem instead of throwing on corrupt input. */
export function readIpcTable(bytes: Uint8Array): { table: Table; format: IpcFormat } | { problem: string } {
  const sniff = sniffIpc(bytes);
  if ('problem' in sniff) return sniff;
  try {
    const table = tableFromIPC(bytes);
    return { table, format: sniff.format };
  } catch (err) {
    return { problem: `corrupt Arrow IPC ${sniff.format} (${(err as Error).message})` };
  }
}
