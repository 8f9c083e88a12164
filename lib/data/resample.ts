/**
 * Rational resampling with an anti-alias filter, for bringing a machine's recordings to a backbone's
 * sample rate (e.g. UESTC 20 kHz -> CWRU 12 kHz = 3/5).
 *
 * Same design as scipy.signal.resample_poly (defaults): upsample by `up` (zero stuffing), low-pass with a
 * Kaiser-windowed sinc FIR (beta 5, 2 * 10 * max(up, down) + 1 taps, cutoff at the lower of the two Nyquist
 * frequencies, gain `up`), downsample by `down`; the filter is applied zero-phase (centred), evaluated in
 * polyphase form, so only the kept output samples are computed. Content above the output's Nyquist frequency is
 * attenuated before it could fold back (aliasing) into the band the model sees.
 */
import { PdmError } from '../errors';

export interface Ratio {
  up: number;
  down: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** toHz / fromHz as a reduced fraction; both rates must be integers (Hz). */
export function resampleRatio(fromHz: number, toHz: number): Ratio {
  if (!Number.isInteger(fromHz) || !Number.isInteger(toHz) || fromHz <= 0 || toHz <= 0) {
    throw new PdmError('InvalidSpec', `resampling needs positive integer rates in Hz, got ${fromHz} -> ${toHz}`);
  }
  const g = gcd(fromHz, toHz);
  const ratio = { up: toHz / g, down: fromHz / g };
  if (Math.max(ratio.up, ratio.down) > 1000) {
    throw new PdmError('InvalidSpec', `resampling ${fromHz} -> ${toHz} Hz needs a ${ratio.up}/${ratio.down} filter bank; pick rates with a simpler ratio`);
  }
  return ratio;
}

/** Zeroth-order modified Bessel function of the first kind (series), for the Kaiser window. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x / 2) ** 2;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser-windowed sinc low-pass of 2 * halfLen + 1 taps, cutoff `fc` as a fraction of Nyquist, DC gain `gain`. */
export function lowPassFir(halfLen: number, fc: number, beta = 5, gain = 1): Float64Array {
  const n = 2 * halfLen + 1;
  const h = new Float64Array(n);
  const i0b = besselI0(beta);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const m = i - halfLen;
    const sinc = m === 0 ? fc : Math.sin(Math.PI * fc * m) / (Math.PI * m);
    const r = m / halfLen;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    h[i] = sinc * w;
    sum += h[i]!;
  }
  for (let i = 0; i < n; i++) h[i] = (h[i]! / sum) * gain;
  return h;
}

/** Output length of resampling `n` samples by up/down (as scipy: ceil(n * up / down)). */
export function resampledLength(n: number, { up, down }: Ratio): number {
  return Math.ceil((n * up) / down);
}

/** Resamples one signal by up/down with the anti-alias filter above; up = down = 1 returns a copy. */
export function resamplePoly(x: Float32Array, ratio: Ratio): Float32Array {
  const { up, down } = ratio;
  if (up === 1 && down === 1) return x.slice();
  const maxRate = Math.max(up, down);
  const halfLen = 10 * maxRate;
  const h = lowPassFir(halfLen, 1 / maxRate, 5, up);
  const n = x.length;
  const out = new Float32Array(resampledLength(n, ratio));
  for (let m = 0; m < out.length; m++) {
    // Output m sits at upsampled position t = m * down; input j sits at j * up. Tap index: halfLen + t - j * up.
    const t = m * down;
    const jLo = Math.max(0, Math.ceil((t - halfLen) / up));
    const jHi = Math.min(n - 1, Math.floor((t + halfLen) / up));
    let acc = 0;
    for (let j = jLo; j <= jHi; j++) acc += h[halfLen + t - j * up]! * x[j]!;
    out[m] = acc;
  }
  return out;
}
