/**
 * Real CWRU windows for the benchmark: every <label>/load*_*.arrow recording, cut into 1024-sample
 * windows of [de_accel, fe_accel] (hop 512), standardized per channel. Written once to a temp dir as
 * raw little-endian arrays so the tfjs children and the PyTorch child read identical bytes cheaply.
 * The data never lands in the repository.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { CHANNELS, WINDOW } from './model';

export const HOP = 512;

export interface BenchData {
  dir: string; // contains x.f32 ([n, 1024, 2] channels-last), y.i32 ([n]), meta.json
  n: number;
  classes: string[];
}

export function prepareWindows(cwruDir: string, outDir: string): BenchData {
  const classes = fs
    .readdirSync(cwruDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  for (const [label, cls] of classes.entries()) {
    for (const f of fs.readdirSync(path.join(cwruDir, cls)).filter((f) => /^load\d+_.*\.arrow$/.test(f)).sort()) {
      const table = tableFromIPC(fs.readFileSync(path.join(cwruDir, cls, f)));
      const de = table.getChild('de_accel')?.toArray() as Float32Array | undefined;
      const fe = table.getChild('fe_accel')?.toArray() as Float32Array | undefined;
      if (!de || !fe) throw new Error(`${cls}/${f}: missing de_accel/fe_accel`);
      for (let start = 0; start + WINDOW <= de.length; start += HOP) {
        const w = new Float32Array(WINDOW * CHANNELS);
        for (let i = 0; i < WINDOW; i++) {
          w[i * CHANNELS] = de[start + i] as number;
          w[i * CHANNELS + 1] = fe[start + i] as number;
        }
        xs.push(w);
        ys.push(label);
      }
    }
  }
  const n = xs.length;
  const x = new Float32Array(n * WINDOW * CHANNELS);
  xs.forEach((w, i) => x.set(w, i * WINDOW * CHANNELS));
  // Per-channel standardization (over all windows: this is a throughput bench, not an evaluation).
  for (let c = 0; c < CHANNELS; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = c; i < x.length; i += CHANNELS) {
      const v = x[i] as number;
      sum += v;
      sq += v * v;
    }
    const count = x.length / CHANNELS;
    const mean = sum / count;
    const std = Math.sqrt(Math.max(sq / count - mean * mean, 1e-12));
    for (let i = c; i < x.length; i += CHANNELS) x[i] = ((x[i] as number) - mean) / std;
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const y = Int32Array.from(ys);
  fs.writeFileSync(path.join(outDir, 'y.i32'), Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  fs.writeFileSync(path.join(outDir, 'meta.json'), JSON.stringify({ n, classes, window: WINDOW, channels: CHANNELS }));
  return { dir: outDir, n, classes };
}

export function readWindows(dir: string): { x: Float32Array; y: Int32Array; n: number } {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { n: number };
  const xb = fs.readFileSync(path.join(dir, 'x.f32'));
  const yb = fs.readFileSync(path.join(dir, 'y.i32'));
  // Copy into fresh, aligned ArrayBuffers (Buffer pool offsets need not be 4-byte aligned).
  const x = new Float32Array(xb.byteLength / 4);
  new Uint8Array(x.buffer).set(xb);
  const y = new Int32Array(yb.byteLength / 4);
  new Uint8Array(y.buffer).set(yb);
  return { x, y, n: meta.n };
}
