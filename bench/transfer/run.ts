/**
 * `npm run bench:transfer`: does fine-tuning a pretrained backbone pay off on real data?
 *
 * Targets (specs/ define data, input adaptation and training recipe; the pipeline runs the same specs):
 *   A  new operating condition: backbone specs/cwru-backbone.yaml (CWRU 0-2 hp) -> specs/cwru-load3.yaml (3 hp, 9 classes)
 *   B  new machine: backbone specs/cwru-backbone-all.yaml (CWRU 0-3 hp) -> specs/uestc.yaml (UESTC, 20 kHz -> 12 kHz, 1 -> 2 channels)
 * For k = 5, 10, 20 and all labelled training windows per class (drawn with the seed from the target's TRAINING
 * time blocks; early stopping on the validation blocks; scored on the TEST blocks, which share no sample with
 * either), three methods with the target spec's recipe (strategy, augmentation, class weights, batch size):
 *   finetune             pretrained backbone + new head (spec strategy, epochs, patience)
 *   scratch-same-budget  same architecture from random init, as many epochs as finetune ran for that seed
 *   scratch-converged    from random init until validation loss stops improving (BENCH_CONVERGED_PATIENCE epochs)
 * Compute to reach: the test accuracy of every epoch's weights is tracked (for measurement only, never for
 * selection); for each k the bar is scratch-converged's mean final test accuracy, and the bench reports the
 * epochs / windows / training seconds each method needed until its weights first reached it.
 *
 * Runs in-process through the lib/ code paths (parseRecording, adaptRecording, buildWindows, capPerClass,
 * buildClassifier / withNewHead, phasesFor, runTraining, evaluateModel). Pretrained backbones are cached in
 * BENCH_CACHE (default ~/.cache/pdm-pipelines/transfer) by spec hash; their cost is reported once per target.
 *
 * Env: BENCH_SEEDS (default 1,2,3), BENCH_KS (5,10,20,all), BENCH_TARGETS (A,B), BENCH_METHODS (all three),
 *      BENCH_CONVERGED_EPOCHS (40), BENCH_CONVERGED_PATIENCE (6), BENCH_FT_TRAINING / BENCH_SCRATCH_TRAINING
 *      (JSON merged into the target spec's training section, for experiments), BENCH_CHANNELMAP (B, e.g. accel,zero),
 *      BENCH_OUT (default bench/results/transfer), CWRU_DIR, UESTC_DIR.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WindowBatch } from '../../lib/arrow/window-shards';
import type { Normalization } from '../../lib/data/normalization';
import { capPerClass, normalizedWindows } from '../../lib/dataset/load-split';
import { STEP_VERSIONS } from '../../lib/dataset/manifests';
import { buildClassifier, inputShapeOf, withNewHead } from '../../lib/model/backbone';
import { evaluateModel } from '../../lib/model/evaluate';
import { argmaxRows } from '../../lib/model/metrics';
import { loadModelFrom, serializeModel } from '../../lib/model/model-io';
import type { LayersModel, Tensor, Tf } from '../../lib/model/tf-types';
import { inverseFrequencyWeights, Phase, phasesFor, runTraining } from '../../lib/model/train';
import { parsePipelineSpec, parsePipelineSpecText, PipelineSpec, TrainingConfig } from '../../lib/spec/pipeline-spec';
import { formatTfBackend, loadTf } from '../../lib/tf/backend';
import { seededKeys, SpecWindows, windowsForSpec } from './data';

const ROOT = path.resolve(__dirname, '..', '..', '..'); // dist/bench/transfer -> repo root
const env = process.env;
const list = (v: string | undefined, d: string) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const SEEDS = list(env.BENCH_SEEDS, '1,2,3').map(Number);
const KS = list(env.BENCH_KS, '5,10,20,all');
const TARGETS = list(env.BENCH_TARGETS, 'A,B');
type Method = 'finetune' | 'scratch-same-budget' | 'scratch-converged';
const METHODS = list(env.BENCH_METHODS, 'finetune,scratch-same-budget,scratch-converged') as Method[];
const CONVERGED_EPOCHS = Number(env.BENCH_CONVERGED_EPOCHS ?? 40);
const CONVERGED_PATIENCE = Number(env.BENCH_CONVERGED_PATIENCE ?? 6);
const OUT = path.resolve(ROOT, env.BENCH_OUT ?? 'bench/results/transfer');
const CWRU_DIR = env.CWRU_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'cwru');
const UESTC_DIR = env.UESTC_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'uestc');
const CACHE = env.BENCH_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pdm-pipelines', 'transfer');

interface TargetDef {
  name: string;
  pretrainSpec: string;
  targetSpec: string;
  pretrainData: () => Map<string, string>;
  targetData: () => Map<string, string>;
}
const cwruKeys = () => seededKeys(CWRU_DIR, 'cwru');
const TARGET_DEFS: Record<string, TargetDef> = {
  A: { name: 'A: CWRU 0-2 hp -> CWRU 3 hp (new operating condition)', pretrainSpec: 'cwru-backbone', targetSpec: 'cwru-load3', pretrainData: cwruKeys, targetData: cwruKeys },
  B: { name: 'B: CWRU all loads -> UESTC rig (new machine)', pretrainSpec: 'cwru-backbone-all', targetSpec: 'uestc', pretrainData: cwruKeys, targetData: () => seededKeys(UESTC_DIR, 'uestc') },
};

interface CurvePoint {
  epoch: number;
  phase: Phase['name'];
  windows: number;
  seconds: number;
  testAccuracy: number;
  valAccuracy: number;
}
interface RunResult {
  k: string;
  method: Method;
  seed: number;
  accuracy: number;
  macroF1: number;
  epochs: number;
  bestEpoch: number | null;
  windowsProcessed: number;
  wallSeconds: number;
  curve: CurvePoint[];
}

function loadSpecFile(name: string, overrides?: { training?: string; channelMap?: string }): PipelineSpec {
  const text = readFileSync(path.join(ROOT, 'specs', `${name}.yaml`), 'utf8');
  const spec = parsePipelineSpecText(text, `specs/${name}.yaml`);
  if (!overrides?.training && !overrides?.channelMap) return spec;
  const raw = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
  if (overrides.training) raw.training = { ...(raw.training as object), ...(JSON.parse(overrides.training) as object) };
  if (overrides.channelMap) raw.channelMap = overrides.channelMap.split(',');
  return parsePipelineSpec(raw, `specs/${name}.yaml + overrides`);
}

/** Test accuracy of the current weights, from a pre-normalized tensor (measurement only). */
function testAccuracy(tf: Tf, model: LayersModel, xTest: Tensor, labels: Int32Array, numClasses: number): number {
  const probs = model.predict(xTest, { batchSize: 512 }) as Tensor;
  const pred = argmaxRows(probs.dataSync() as Float32Array, numClasses);
  probs.dispose();
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / Math.max(1, pred.length);
}

async function fit(
  tf: Tf,
  model: LayersModel,
  data: { train: WindowBatch; val: WindowBatch; test: WindowBatch; norm: Normalization; classes: string[] },
  phases: Phase[],
  t: TrainingConfig,
  patience: number,
  fineTune = false,
  track = true,
): Promise<{ curve: CurvePoint[]; epochs: number; bestEpoch: number | null; windows: number; seconds: number }> {
  const shape = (b: WindowBatch) => [b.count, b.length, b.channels] as [number, number, number];
  const k = data.classes.length;
  const xTrain = tf.tensor3d(normalizedWindows(data.train, data.norm), shape(data.train));
  const yTrain = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), k);
  const xVal = tf.tensor3d(normalizedWindows(data.val, data.norm), shape(data.val));
  const yVal = tf.oneHot(tf.tensor1d(data.val.labels, 'int32'), k);
  const xTest = tf.tensor3d(normalizedWindows(data.test, data.norm), shape(data.test));
  const curve: CurvePoint[] = [];
  let windows = 0;
  let seconds = 0;
  try {
    const progress = await runTraining(
      tf,
      model,
      { xTrain, yTrain, xVal, yVal, classWeight: t.classWeights ? inverseFrequencyWeights(data.train.labels, k) : undefined },
      phases,
      {
        batchSize: t.batchSize,
        patience,
        augment: t.augment,
        minWindowsPerEpoch: t.minWindowsPerEpoch,
        seed: t.seed,
        adaptBatchNorm: fineTune && t.adaptBatchNorm,
        onEpochEnd: (p) => {
          const h = p.history.at(-1)!;
          windows += h.windows;
          seconds += h.seconds;
          curve.push({ epoch: h.epoch, phase: h.phase, windows, seconds, valAccuracy: h.valAccuracy, testAccuracy: track ? testAccuracy(tf, model, xTest, data.test.labels, k) : NaN });
          return Promise.resolve();
        },
      },
    );
    return { curve, epochs: progress.history.length, bestEpoch: progress.bestEpoch, windows, seconds };
  } finally {
    tf.dispose([xTrain, yTrain, xVal, yVal, xTest]);
  }
}

interface PretrainInfo {
  spec: string;
  specHash: string;
  epochs: number;
  windowsProcessed: number;
  wallSeconds: number;
  trainWindows: number;
  testAccuracy: number;
  testMacroF1: number;
  input: { length: number; channels: string[]; sampleRateHz: number };
}

/** Pretrains (or reuses from the cache) the backbone of a pretraining spec, as PretrainWorkflow would. */
async function pretrained(tf: Tf, def: TargetDef): Promise<{ dir: string; info: PretrainInfo }> {
  const spec = loadSpecFile(def.pretrainSpec);
  // Only what shapes a from-scratch pretraining (fine-tuning options such as strategy do not).
  const t0 = spec.training;
  const shaping = {
    data: [spec.source, spec.channels, spec.sampleRateHz, spec.resample, spec.channelMap, spec.window, spec.classes, spec.labels, spec.split],
    architecture: spec.architecture,
    training: [t0.epochs, t0.learningRate, t0.batchSize, t0.patience, t0.classWeights, t0.seed, t0.augment, t0.minWindowsPerEpoch],
    versions: [STEP_VERSIONS.train, STEP_VERSIONS.preprocess],
  };
  const specHash = createHash('sha256').update(JSON.stringify(shaping)).digest('hex').slice(0, 16);
  const dir = path.join(CACHE, `${def.pretrainSpec}-${specHash}`);
  const infoFile = path.join(dir, 'info.json');
  if (existsSync(infoFile) && existsSync(path.join(dir, 'model.json'))) {
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as PretrainInfo;
    console.log(`  backbone ${def.pretrainSpec}: cached (${dir}), pretraining took ${info.epochs} epochs, ${info.wallSeconds.toFixed(0)} s, test acc ${info.testAccuracy.toFixed(4)}`);
    return { dir, info };
  }
  const w = windowsForSpec(spec, def.pretrainData());
  const t = spec.training;
  console.log(`  pretraining ${def.pretrainSpec}: ${w.batches.train.count} train / ${w.batches.validation.count} val windows, up to ${t.epochs} epochs`);
  const model = buildClassifier(tf, { length: spec.window.length, channels: w.channels.length }, w.classes.length, spec.architecture, t.seed);
  try {
    const r = await fit(tf, model, { train: w.batches.train, val: w.batches.validation, test: w.batches.test, norm: w.normalization, classes: w.classes }, phasesFor(t, false), t, t.patience);
    const m = await evaluateModel(tf, model, w.batches.test, w.normalization, w.classes);
    const { modelJson, weights } = await serializeModel(tf, model);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'weights.bin'), weights);
    writeFileSync(path.join(dir, 'model.json'), modelJson);
    const info: PretrainInfo = {
      spec: `specs/${def.pretrainSpec}.yaml`,
      specHash,
      epochs: r.epochs,
      windowsProcessed: r.windows,
      wallSeconds: r.seconds,
      trainWindows: w.batches.train.count,
      testAccuracy: m.accuracy,
      testMacroF1: m.macroF1,
      input: { length: spec.window.length, channels: w.channels, sampleRateHz: w.sampleRateHz },
    };
    writeFileSync(infoFile, JSON.stringify(info, null, 2));
    console.log(`  pretrained ${def.pretrainSpec}: ${r.epochs} epochs, ${r.seconds.toFixed(0)} s, test acc ${m.accuracy.toFixed(4)}`);
    return { dir, info };
  } finally {
    model.dispose();
  }
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};
const r4 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);
const r1 = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

/** Compute until a run's per-epoch test accuracy first reached `bar` (null if it never did). */
function reach(run: RunResult, bar: number): { epochs: number; windows: number; seconds: number } | null {
  const p = run.curve.find((c) => c.testAccuracy >= bar - 1e-9);
  return p ? { epochs: p.epoch, windows: p.windows, seconds: p.seconds } : null;
}

async function benchTarget(tf: Tf, key: string) {
  const def = TARGET_DEFS[key];
  if (!def) throw new Error(`unknown target ${key}`);
  console.log(`\n== target ${def.name}`);
  const started = performance.now();
  const { dir, info } = await pretrained(tf, def);
  const ftSpec = loadSpecFile(def.targetSpec, { training: env.BENCH_FT_TRAINING, channelMap: key === 'B' ? env.BENCH_CHANNELMAP : undefined });
  const scSpec = loadSpecFile(def.targetSpec, { training: env.BENCH_SCRATCH_TRAINING ?? env.BENCH_FT_TRAINING, channelMap: key === 'B' ? env.BENCH_CHANNELMAP : undefined });
  const w: SpecWindows = windowsForSpec(ftSpec, def.targetData());
  // The backbone's input spec (as its model card records it) must match the target's windows.
  if (info.input.sampleRateHz !== w.sampleRateHz || info.input.length !== ftSpec.window.length || info.input.channels.length !== w.channels.length) {
    throw new Error(`backbone input ${JSON.stringify(info.input)} does not match the target's windows (${ftSpec.window.length} x ${w.channels.join(',')} @ ${w.sampleRateHz} Hz)`);
  }
  const counts = { train: w.batches.train.count, validation: w.batches.validation.count, test: w.batches.test.count };
  console.log(`  target ${def.targetSpec}: ${w.recordings} recordings -> ${counts.train} train / ${counts.validation} val / ${counts.test} test windows (${w.channels.join(', ')} @ ${w.sampleRateHz} Hz), strategy ${ftSpec.training.strategy}`);

  const runs: RunResult[] = [];
  for (const k of KS) {
    const perClass = k === 'all' ? 0 : Number(k);
    for (const seed of SEEDS) {
      const train = capPerClass(w.batches.train, perClass, seed);
      const data = { train, val: w.batches.validation, test: w.batches.test, norm: w.normalization, classes: w.classes };
      let ftEpochs = ftSpec.training.headEpochs + ftSpec.training.epochs;
      for (const method of METHODS) {
        const spec = method === 'finetune' ? ftSpec : scSpec;
        const t = { ...spec.training, seed };
        let model: LayersModel;
        let phases: Phase[];
        let patience = t.patience;
        if (method === 'finetune') {
          const bb = (await loadModelFrom(tf, { kind: 'file', dir })).model;
          const shape = inputShapeOf(bb);
          if (shape.length !== ftSpec.window.length || shape.channels !== w.channels.length) throw new Error('backbone input shape mismatch');
          model = withNewHead(tf, bb, w.classes.length, seed);
          phases = phasesFor(t, true);
        } else {
          model = buildClassifier(tf, { length: spec.window.length, channels: w.channels.length }, w.classes.length, spec.architecture, seed);
          const epochs = method === 'scratch-same-budget' ? ftEpochs : CONVERGED_EPOCHS;
          phases = phasesFor({ ...t, epochs }, false);
          patience = method === 'scratch-same-budget' ? epochs : CONVERGED_PATIENCE;
        }
        try {
          // Per-epoch test tracking is only needed for compute-to-reach (finetune vs scratch-converged).
          const r = await fit(tf, model, data, phases, t, patience, method === 'finetune', method !== 'scratch-same-budget');
          if (method === 'finetune') ftEpochs = r.epochs;
          const m = await evaluateModel(tf, model, w.batches.test, w.normalization, w.classes);
          runs.push({ k, method, seed, accuracy: m.accuracy, macroF1: m.macroF1, epochs: r.epochs, bestEpoch: r.bestEpoch, windowsProcessed: r.windows, wallSeconds: r.seconds, curve: r.curve });
          console.log(`  k=${k.padEnd(3)} seed ${seed} ${method.padEnd(19)} acc ${m.accuracy.toFixed(4)} F1 ${m.macroF1.toFixed(4)}  ${String(r.epochs).padStart(3)} epochs ${String(r.windows).padStart(7)} windows ${r.seconds.toFixed(1).padStart(6)} s`);
        } finally {
          model.dispose();
        }
      }
    }
  }

  const rows = [];
  const computeRatioScratchToFinetune: Record<string, number | null> = {};
  const computeToReach: Record<string, unknown> = {};
  for (const k of KS) {
    for (const method of METHODS) {
      const rs = runs.filter((r) => r.k === k && r.method === method);
      if (!rs.length) continue;
      rows.push({
        k: k === 'all' ? 'all' : Number(k),
        method,
        accuracyMean: r4(mean(rs.map((r) => r.accuracy))),
        accuracyStd: r4(std(rs.map((r) => r.accuracy))),
        macroF1Mean: r4(mean(rs.map((r) => r.macroF1))),
        macroF1Std: r4(std(rs.map((r) => r.macroF1))),
        epochsMean: r1(mean(rs.map((r) => r.epochs))),
        wallSecondsMean: r1(mean(rs.map((r) => r.wallSeconds))),
        windowsProcessedMean: Math.round(mean(rs.map((r) => r.windowsProcessed))),
        trainWindows: k === 'all' ? counts.train : Math.min(counts.train, Number(k) * w.classes.length),
        seeds: rs.map((r) => r.seed),
      });
    }
    const conv = runs.filter((r) => r.k === k && r.method === 'scratch-converged');
    const ft = runs.filter((r) => r.k === k && r.method === 'finetune');
    if (!conv.length || !ft.length) continue;
    const bar = mean(conv.map((r) => r.accuracy));
    const summarize = (rs: RunResult[]) => {
      const got = rs.map((r) => reach(r, bar));
      const ok = got.filter((g): g is NonNullable<typeof g> => g !== null);
      return {
        reachedSeeds: ok.length,
        of: rs.length,
        epochsMean: r1(mean(ok.map((g) => g.epochs))),
        windowsMean: Math.round(mean(ok.map((g) => g.windows))) || null,
        wallSecondsMean: r1(mean(ok.map((g) => g.seconds))),
        perSeed: got,
      };
    };
    const f = summarize(ft);
    const c = summarize(conv);
    const ratio = f.reachedSeeds === ft.length && f.windowsMean && c.windowsMean ? c.windowsMean / f.windowsMean : null;
    const wallRatio = f.reachedSeeds === ft.length && f.wallSecondsMean && c.wallSecondsMean ? c.wallSecondsMean / f.wallSecondsMean : null;
    computeRatioScratchToFinetune[k] = ratio === null ? null : r1(ratio);
    computeToReach[k] = { bar: r4(bar), finetune: f, scratchConverged: c, windowsRatio: ratio === null ? null : r1(ratio), wallRatio: wallRatio === null ? null : r1(wallRatio) };
  }
  const wall = (performance.now() - started) / 1000;
  return {
    name: def.name,
    pretrainSpec: `specs/${def.pretrainSpec}.yaml`,
    targetSpec: `specs/${def.targetSpec}.yaml`,
    training: ftSpec.training,
    windows: counts,
    pretrain: info,
    rows,
    computeRatioScratchToFinetune,
    computeToReach,
    benchWallSeconds: r1(wall),
    runs: runs.map((r) => ({ ...r, accuracy: r4(r.accuracy), macroF1: r4(r.macroF1), wallSeconds: r1(r.wallSeconds), curve: r.curve.map((c) => ({ ...c, seconds: r1(c.seconds), testAccuracy: r4(c.testAccuracy), valAccuracy: r4(c.valAccuracy) })) })),
  };
}

type TargetResult = Awaited<ReturnType<typeof benchTarget>>;

function markdown(results: Record<string, TargetResult>, meta: { seeds: number[]; wallSeconds: number; backend: string }): string {
  const pm = (m: number | null, s: number | null) => (m === null ? 'n/a' : `${m.toFixed(4)} ± ${(s ?? 0).toFixed(4)}`);
  const out: string[] = [`Seeds ${meta.seeds.join(', ')}; bench wall time ${(meta.wallSeconds / 60).toFixed(1)} min; ${meta.backend}.`, ''];
  for (const [key, r] of Object.entries(results)) {
    out.push(`### Target ${r.name}`, '');
    out.push(
      `Backbone ${r.pretrainSpec}: pretrained in ${r.pretrain.epochs} epochs, ${r.pretrain.windowsProcessed} windows, ${r.pretrain.wallSeconds.toFixed(0)} s (test accuracy ${r.pretrain.testAccuracy.toFixed(4)} on its own classes). ` +
        `Target ${r.targetSpec}: ${r.windows.train} / ${r.windows.validation} / ${r.windows.test} train / validation / test windows; fine-tuning strategy ${r.training.strategy}.`,
      '',
    );
    out.push('| k / class | method | accuracy (mean ± std) | macro-F1 (mean ± std) | epochs | windows processed | train s |', '|---|---|---|---|---|---|---|');
    for (const row of r.rows) {
      out.push(`| ${row.k} | ${row.method} | ${pm(row.accuracyMean, row.accuracyStd)} | ${pm(row.macroF1Mean, row.macroF1Std)} | ${row.epochsMean} | ${row.windowsProcessedMean} | ${row.wallSecondsMean} |`);
    }
    out.push('', `Compute to first reach scratch-converged's mean test accuracy (target ${key}):`, '');
    out.push('| k / class | bar | finetune: epochs / windows / s | scratch-converged: epochs / windows / s | ratio (windows) | ratio (s) |', '|---|---|---|---|---|---|');
    for (const [k, v] of Object.entries(r.computeToReach)) {
      const c = v as { bar: number; finetune: ReturnType<typeof Object>; scratchConverged: ReturnType<typeof Object>; windowsRatio: number | null; wallRatio: number | null };
      const f = c.finetune as { reachedSeeds: number; of: number; epochsMean: number; windowsMean: number; wallSecondsMean: number };
      const s = c.scratchConverged as typeof f;
      const cell = (x: typeof f) => `${x.epochsMean ?? '-'} / ${x.windowsMean ?? '-'} / ${x.wallSecondsMean ?? '-'}${x.reachedSeeds < x.of ? ` (${x.reachedSeeds}/${x.of} seeds reached)` : ''}`;
      out.push(`| ${k} | ${c.bar.toFixed(4)} | ${cell(f)} | ${cell(s)} | ${c.windowsRatio ?? 'n/a'} | ${c.wallRatio ?? 'n/a'} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const tf = loadTf();
  const backend = formatTfBackend();
  console.log(`transfer bench: targets ${TARGETS.join(',')}, k ${KS.join(',')}, seeds ${SEEDS.join(',')}, methods ${METHODS.join(',')}; ${backend}`);
  const results: Record<string, TargetResult> = {};
  for (const key of TARGETS) {
    results[key] = await benchTarget(tf, key);
    write(results, (performance.now() - started) / 1000, backend); // after each target, so a partial run leaves results
  }
  const wallSeconds = (performance.now() - started) / 1000;
  write(results, wallSeconds, backend);
  console.log(`\nwrote ${OUT}.json and ${OUT}.md in ${(wallSeconds / 60).toFixed(1)} min`);
}

function write(results: Record<string, TargetResult>, wallSeconds: number, backend: string): void {
  // BENCH_TARGETS=A reruns one target and keeps the other targets' results from the previous file.
  let previous: Record<string, TargetResult> = {};
  if (TARGETS.length < Object.keys(TARGET_DEFS).length && existsSync(`${OUT}.json`)) {
    previous = (JSON.parse(readFileSync(`${OUT}.json`, 'utf8')) as { targets: Record<string, TargetResult> }).targets;
  }
  results = { ...previous, ...results };
  const json = {
    generatedAt: new Date().toISOString(),
    command: 'npm run bench:transfer',
    seeds: SEEDS,
    ks: KS,
    convergedMaxEpochs: CONVERGED_EPOCHS,
    convergedPatience: CONVERGED_PATIENCE,
    backend,
    cpus: os.cpus().length,
    wallSeconds: r1(wallSeconds),
    targets: results,
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(`${OUT}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${OUT}.md`, `${markdown(results, { seeds: SEEDS, wallSeconds, backend })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
