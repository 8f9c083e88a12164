/**
 * Brings recordings to the model's input spec before windowing: channel mapping (spec.channelMap) and
 * resampling (spec.resample). Labels are time ranges, so the adapted recording keeps its time span and gets
 * timestamps at the new rate; the time-block split and the label join work on it unchanged.
 */
import type { Recording } from '../arrow/recording';
import { PdmError } from '../errors';
import { resamplePoly, resampleRatio } from './resample';

export interface InputAdapter {
  /** Names of the recorded channels, in the order of Recording.channels (the spec's `channels`). */
  sourceChannels: string[];
  /** Model input channels: a source channel name or "zero" each; omitted = sourceChannels. */
  channelMap?: string[];
  /** Source rate (spec.sampleRateHz) and the model's rate (spec.resample.toHz, or the source rate). */
  sourceRateHz: number;
  targetRateHz: number;
}

/** The model's input channel names and sample rate that an adapter produces. */
export function modelInput(a: InputAdapter): { channels: string[]; sampleRateHz: number } {
  return { channels: a.channelMap ?? a.sourceChannels, sampleRateHz: a.targetRateHz };
}

/** The adapter a pipeline spec asks for. */
export function adapterOf(spec: { channels: { name: string }[]; channelMap?: string[]; sampleRateHz: number; resample?: { toHz: number } }): InputAdapter {
  return {
    sourceChannels: spec.channels.map((c) => c.name),
    channelMap: spec.channelMap,
    sourceRateHz: spec.sampleRateHz,
    targetRateHz: spec.resample?.toHz ?? spec.sampleRateHz,
  };
}

export function adaptRecording(rec: Recording, a: InputAdapter): Recording {
  const map = a.channelMap ?? a.sourceChannels;
  const resample = a.targetRateHz !== a.sourceRateHz;
  if (!a.channelMap && !resample) return rec;
  const ratio = resample ? resampleRatio(a.sourceRateHz, a.targetRateHz) : { up: 1, down: 1 };
  // Resample each distinct source channel once, then map.
  const cache = new Map<string, Float32Array>();
  const source = (name: string): Float32Array => {
    let v = cache.get(name);
    if (!v) {
      const idx = a.sourceChannels.indexOf(name);
      if (idx < 0 || !rec.channels[idx]) throw new PdmError('InvalidSpec', `channelMap: "${name}" is not a channel of ${rec.key}`);
      v = resample ? resamplePoly(rec.channels[idx], ratio) : rec.channels[idx];
      cache.set(name, v);
    }
    return v;
  };
  const named = map.filter((c) => c !== 'zero');
  const rows = named.length ? source(named[0]!).length : rec.rows;
  const channels = map.map((c) => (c === 'zero' ? new Float32Array(rows) : source(c)));
  if (!resample) return { ...rec, channels };
  const timestampsNs = new BigInt64Array(rows);
  for (let i = 0; i < rows; i++) timestampsNs[i] = rec.startNs + BigInt(Math.round((i * 1e9) / a.targetRateHz));
  return { ...rec, rows, sampleRateHz: a.targetRateHz, timestampsNs, channels, endNs: rec.endNs };
}
