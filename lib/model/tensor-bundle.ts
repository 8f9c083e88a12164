import type { Tensor, Tf } from './tf-types';

/**
 * A list of named float32 tensors as one binary blob (JSON index + raw data), for checkpoints:
 * model weights, best-so-far weights and optimizer slots travel together in a single object.
 */
interface Entry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export async function encodeTensorBundle(named: { name: string; tensor: Tensor }[]): Promise<Uint8Array> {
  const entries: Entry[] = [];
  const arrays: Float32Array[] = [];
  let offset = 0;
  for (const { name, tensor } of named) {
    const data = (await tensor.data()) as Float32Array;
    entries.push({ name, shape: tensor.shape, offset, length: data.length });
    arrays.push(data);
    offset += data.length;
  }
  const header = Buffer.from(JSON.stringify(entries), 'utf8');
  // Pad so the float data starts 4-byte aligned.
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const out = new Uint8Array(4 + header.length + pad + offset * 4);
  new DataView(out.buffer).setUint32(0, header.length + pad, true);
  out.set(header, 4);
  out.fill(0x20, 4 + header.length, 4 + header.length + pad);
  const floats = new Float32Array(out.buffer, 4 + header.length + pad, offset);
  let pos = 0;
  for (const a of arrays) {
    floats.set(a, pos);
    pos += a.length;
  }
  return out;
}

export function decodeTensorBundle(tf: Tf, bytes: Uint8Array): { name: string; tensor: Tensor }[] {
  const copy = bytes.slice();
  const headerLen = new DataView(copy.buffer).getUint32(0, true);
  const entries = JSON.parse(Buffer.from(copy.subarray(4, 4 + headerLen)).toString('utf8')) as Entry[];
  const total = entries.reduce((n, e) => n + e.length, 0);
  const floats = new Float32Array(copy.buffer, 4 + headerLen, total);
  return entries.map((e) => ({ name: e.name, tensor: tf.tensor(floats.subarray(e.offset, e.offset + e.length), e.shape, 'float32') }));
}
