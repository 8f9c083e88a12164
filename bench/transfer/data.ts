/**
 * Windows for the transfer bench, through the pipeline's own code: the files a spec's source prefixes select
 * (in the layout `pdmctl seed` uploads: recordings/<asset>-load<H>/<class>/<file> or recordings/<asset>/<path>,
 * labels/<asset>.arrow), parseRecording, the spec's channel mapping and resampling (adaptRecording), the label
 * join and the time-block split with train-only normalization (buildWindows). Data is read from ../shared/data
 * in place; nothing is copied into the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { WindowBatch } from '../../lib/arrow/window-shards';
import { parseRecording } from '../../lib/arrow/recording';
import { adapterOf, adaptRecording, modelInput } from '../../lib/data/input-adapter';
import { labelFor, parseLabelTable, rangesForAsset } from '../../lib/data/labels';
import type { Normalization } from '../../lib/data/normalization';
import type { Split } from '../../lib/data/windowing';
import { buildWindows } from '../../lib/dataset/build-windows';
import type { PipelineSpec } from '../../lib/spec/pipeline-spec';

export interface SpecWindows {
  batches: Record<Split, WindowBatch>;
  normalization: Normalization;
  classes: string[];
  channels: string[];
  sampleRateHz: number;
  recordings: number;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Object keys as `pdmctl seed --from <dir> --asset <asset>` names them (cli/seed.ts), mapped to local files. */
export function seededKeys(dir: string, asset: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of walk(dir).filter((f) => f.endsWith('.arrow')).sort()) {
    const rel = relative(dir, file);
    if (rel === 'labels.arrow') {
      out.set(`labels/${asset}.arrow`, file);
      continue;
    }
    const load = /^load(\d+)_/.exec(basename(file));
    out.set(load ? `recordings/${asset}-load${load[1]}/${rel}` : `recordings/${asset}/${rel}`, file);
  }
  return out;
}

/** What preprocess would produce for `spec` from the seeded data set `keys`. */
export function windowsForSpec(spec: PipelineSpec, keys: Map<string, string>): SpecWindows {
  if (spec.labels.kind !== 'ranges') throw new Error('bench specs use label ranges');
  const labelsFile = keys.get(spec.labels.key);
  if (!labelsFile) throw new Error(`no ${spec.labels.key} in the data set`);
  const ranges = rangesForAsset(spec.labels.key, parseLabelTable(spec.labels.key, readFileSync(labelsFile)), spec.labels.assetId ?? spec.assetId);
  const adapter = adapterOf(spec);
  const channels = spec.channels.map((c) => c.name);
  const files = [...keys.entries()].filter(([k]) => k.startsWith('recordings/') && spec.source.prefixes.some((p) => k.startsWith(p))).sort(([a], [b]) => a.localeCompare(b));
  if (files.length === 0) throw new Error(`no recordings under ${spec.source.prefixes.join(', ')}`);
  const recordings = files.map(([key, file]) =>
    adaptRecording(parseRecording(key, readFileSync(file), { channels, sampleRateHz: spec.sampleRateHz, maxNonFiniteFraction: spec.limits.maxNonFiniteFraction }), adapter),
  );
  const built = buildWindows(recordings, (_r, s, e) => labelFor(ranges, s, e), { length: spec.window.length, hop: spec.window.hop, classes: spec.classes, split: spec.split });
  const input = modelInput(adapter);
  return { batches: built.batches, normalization: built.normalization, classes: spec.classes, channels: input.channels, sampleRateHz: input.sampleRateHz, recordings: recordings.length };
}
