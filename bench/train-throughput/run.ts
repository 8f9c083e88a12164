/**
 * `npm run bench:train`: training and inference throughput of the backbone (batch 64, Adam) on real
 * CWRU windows, for every tfjs backend that loads here and for PyTorch with the same thread budget,
 * run one after another in this invocation. Writes bench/results/train-throughput.json.
 *
 * The headline tfjs-node row uses lib/tf/backend.ts as production does (native fast paths on). Extra rows
 * (`extraRows`, same fields plus `variant`): tfjs-node with PDM_TF_FAST_OPS=0 (the pre-fast-path baseline)
 * and both frameworks at batch BENCH_BIG_BATCH (per-op overhead amortized). `fastPathCheck` compares one
 * step's loss/gradients/BN statistics with and without the fast paths.
 *
 * Env: BENCH_THREADS (default: all CPUs), BENCH_TRAIN_BATCHES (default 60), BENCH_JS_BATCHES (default 4),
 *      BENCH_BIG_BATCH (default 256; 0 = skip), BENCH_SKIP_JS=1 (skip the slow pure-JS rows),
 *      CWRU_DIR (default ../shared/data/cwru), BENCH_PYTHON (default: the cached venv below).
 * PyTorch comes from PyPI into ${XDG_CACHE_HOME:-~/.cache}/pdm-pipelines/venv-bench, created on first run.
 */
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareWindows } from './data';
import { BATCH } from './model';

const ROOT = path.resolve(__dirname, '..', '..', '..'); // dist/bench/train-throughput -> repo root
const SRC = path.join(ROOT, 'bench', 'train-throughput');
const threads = Number(process.env.BENCH_THREADS ?? os.availableParallelism());
const trainBatches = Number(process.env.BENCH_TRAIN_BATCHES ?? 60);
const jsBatches = Number(process.env.BENCH_JS_BATCHES ?? 4); // pure JS is ~100x slower: a few batches suffice
const bigBatch = Number(process.env.BENCH_BIG_BATCH ?? 256);
const skipJs = process.env.BENCH_SKIP_JS === '1';
const cwruDir = process.env.CWRU_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'cwru');
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pdm-pipelines');

interface Row {
  framework: 'tfjs-node' | 'tfjs-js' | 'pytorch';
  mode: 'train' | 'infer';
  windowsPerSec: number;
  threads: number;
}
interface ExtraRow extends Row {
  variant: string;
  batch: number;
}
interface ChildResult {
  info: { package: string; tfBackend: string; fastPaths?: string[] };
  results: { trainOnBatch: number; customLoop: number; infer?: number };
  phaseMs?: Record<string, number>;
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const res = cp.spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, env });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status ?? res.signal}`);
  const line = res.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

function torchPython(): string {
  if (process.env.BENCH_PYTHON) return process.env.BENCH_PYTHON;
  const venv = path.join(cache, 'venv-bench');
  const py = path.join(venv, 'bin', 'python');
  const ok = (): boolean => cp.spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
  if (fs.existsSync(py) && ok()) return py;
  console.log(`creating ${venv} with torch + numpy from PyPI (first run only; the Linux wheel bundles CUDA libs, several GB)`);
  cp.execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  cp.execFileSync(py, ['-m', 'pip', 'install', '--disable-pip-version-check', 'torch', 'numpy'], { stdio: 'inherit' });
  return py;
}

function main(): void {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdm-bench-'));
  try {
    const data = prepareWindows(cwruDir, dataDir);
    const perEpoch = (wps: number): string => `${(data.n / wps).toFixed(1)} s/epoch`;
    console.log(`${data.n} windows (1024x2, hop 512) from ${cwruDir}, ${data.classes.length} classes; batch ${BATCH}, ${threads} threads`);
    const rows: Row[] = [];
    let fastPathCheck: { tensors: number; maxRelDiff: number; ok: boolean } | undefined;
    const details: Record<string, unknown> = {};

    const child = path.join(__dirname, 'tfjs-child.js');
    const tfjs = (backend: 'cpu' | 'js', batches: number, infer: number, batch = BATCH, env: NodeJS.ProcessEnv = process.env): ChildResult =>
      runJson(process.execPath, [child, dataDir, backend, String(batches), String(infer), String(threads), String(batch)], env) as unknown as ChildResult;
    const extraRows: ExtraRow[] = [];
    const noFast = { ...process.env, PDM_TF_FAST_OPS: '0' };

    for (const backend of skipJs ? (['cpu'] as const) : (['cpu', 'js'] as const)) {
      const batches = backend === 'js' ? jsBatches : trainBatches;
      const r = tfjs(backend, batches, batches);
      const info = r.info;
      const res = r.results;
      const framework = info.package === '@tensorflow/tfjs' ? 'tfjs-js' : 'tfjs-node';
      if (backend === 'cpu' && framework === 'tfjs-js') {
        console.warn('tfjs-node did not load (see warning above); skipping its row');
        continue;
      }
      details[framework] = r;
      const train = Math.max(res.trainOnBatch, res.customLoop);
      rows.push({ framework, mode: 'train', windowsPerSec: train, threads: framework === 'tfjs-js' ? 1 : threads });
      rows.push({ framework, mode: 'infer', windowsPerSec: res.infer ?? 0, threads: framework === 'tfjs-js' ? 1 : threads });
      const ph = r.phaseMs;
      const phases = ph?.kernelsPerStep ? ` | step ${ph.step?.toFixed(1)} ms = fwd ${ph.forward?.toFixed(1)} + bwd ${((ph.forwardBackward ?? 0) - (ph.forward ?? 0)).toFixed(1)} + optimizer ${ph.optimizer?.toFixed(1)}, ${ph.kernelsPerStep} kernels` : '';
      console.log(`${framework.padEnd(9)} train ${train.toFixed(0)} win/s (trainOnBatch ${res.trainOnBatch.toFixed(0)}, custom loop ${res.customLoop.toFixed(0)}), ${perEpoch(train)}; infer ${(res.infer ?? 0).toFixed(0)} win/s  [backend ${info.tfBackend}${info.fastPaths?.length ? `, fast paths ${info.fastPaths.join('+')}` : ''}]${phases}`);

      if (framework === 'tfjs-node') {
        const base = tfjs('cpu', trainBatches, trainBatches, BATCH, noFast);
        details['tfjs-node-no-fast-paths'] = base;
        const bt = Math.max(base.results.trainOnBatch, base.results.customLoop);
        extraRows.push({ framework, mode: 'train', windowsPerSec: bt, threads, variant: 'PDM_TF_FAST_OPS=0', batch: BATCH });
        const bp = base.phaseMs;
        console.log(`tfjs-node train ${bt.toFixed(0)} win/s with PDM_TF_FAST_OPS=0 (trainOnBatch ${base.results.trainOnBatch.toFixed(0)}, custom loop ${base.results.customLoop.toFixed(0)}), ${bp?.kernelsPerStep} kernels/step`);
        // Same step with and without the fast paths, from the same seeded weights: they must agree.
        const g = [process.env, noFast].map((env) => runJson(process.execPath, [child, dataDir, 'cpu', '1', '1', String(threads), String(BATCH), 'grads'], env).out as Record<string, number[]>);
        let maxRel = 0;
        for (const [k, a] of Object.entries(g[0] ?? {})) {
          const b = g[1]?.[k] ?? [];
          const scale = Math.max(1e-12, ...b.map(Math.abs));
          for (let i = 0; i < a.length; i++) maxRel = Math.max(maxRel, Math.abs((a[i] as number) - (b[i] ?? NaN)) / scale);
        }
        fastPathCheck = { tensors: Object.keys(g[0] ?? {}).length, maxRelDiff: Number(maxRel.toExponential(2)), ok: maxRel < 1e-4 };
        console.log(`fast paths vs tfjs' own ops, one step: ${fastPathCheck.tensors} tensors (loss, grads, BN stats), max rel diff ${fastPathCheck.maxRelDiff}`);
        if (bigBatch > 0) {
          const big = tfjs('cpu', Math.max(8, Math.round((trainBatches * BATCH) / bigBatch)), 0, bigBatch);
          details[`tfjs-node-batch${bigBatch}`] = big;
          const t = Math.max(big.results.trainOnBatch, big.results.customLoop);
          extraRows.push({ framework, mode: 'train', windowsPerSec: t, threads, variant: `batch ${bigBatch}`, batch: bigBatch });
          console.log(`tfjs-node train ${t.toFixed(0)} win/s at batch ${bigBatch}`);
        }
      }
    }

    const py = runJson(torchPython(), [path.join(SRC, 'torch_bench.py'), dataDir, String(trainBatches), String(trainBatches), String(threads)]);
    const pres = py.results as { train: number; infer: number };
    details.pytorch = py;
    rows.push({ framework: 'pytorch', mode: 'train', windowsPerSec: pres.train, threads });
    rows.push({ framework: 'pytorch', mode: 'infer', windowsPerSec: pres.infer, threads });
    console.log(`pytorch   train ${pres.train.toFixed(0)} win/s, ${perEpoch(pres.train)}; infer ${pres.infer.toFixed(0)} win/s  [torch ${String(py.torch)}]`);
    if (bigBatch > 0) {
      const big = runJson(torchPython(), [path.join(SRC, 'torch_bench.py'), dataDir, String(Math.max(8, Math.round((trainBatches * BATCH) / bigBatch))), '1', String(threads), String(bigBatch)]);
      details[`pytorch-batch${bigBatch}`] = big;
      const t = (big.results as { train: number }).train;
      extraRows.push({ framework: 'pytorch', mode: 'train', windowsPerSec: t, threads, variant: `batch ${bigBatch}`, batch: bigBatch });
      console.log(`pytorch   train ${t.toFixed(0)} win/s at batch ${bigBatch}`);
    }

    const get = (f: Row['framework'], m: Row['mode']): number | undefined => rows.find((r) => r.framework === f && r.mode === m)?.windowsPerSec;
    const ratio = (a?: number, b?: number): number | null => (a && b ? Number((a / b).toFixed(3)) : null);
    const out = {
      rows: rows.map((r) => ({ ...r, windowsPerSec: Number(r.windowsPerSec.toFixed(1)) })),
      ratioTfjsNodeToPytorchTrain: ratio(get('tfjs-node', 'train'), get('pytorch', 'train')),
      ratioTfjsNodeToPytorchInfer: ratio(get('tfjs-node', 'infer'), get('pytorch', 'infer')),
      ratioTfjsJsToPytorchTrain: ratio(get('tfjs-js', 'train'), get('pytorch', 'train')),
      extraRows: extraRows.map((r) => ({ ...r, windowsPerSec: Number(r.windowsPerSec.toFixed(1)) })),
      ratioTfjsNodeToPytorchTrainBigBatch: ratio(
        extraRows.find((r) => r.framework === 'tfjs-node' && r.batch === bigBatch)?.windowsPerSec,
        extraRows.find((r) => r.framework === 'pytorch' && r.batch === bigBatch)?.windowsPerSec,
      ),
      fastPathCheck,
      loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
      windows: data.n,
      batch: BATCH,
      cpu: os.cpus()[0]?.model,
      measuredAt: new Date().toISOString(),
      details,
    };
    console.log(`ratio tfjs-node / pytorch: train ${out.ratioTfjsNodeToPytorchTrain ?? 'n/a'}, infer ${out.ratioTfjsNodeToPytorchInfer ?? 'n/a'}` +
      `${bigBatch > 0 ? `; train at batch ${bigBatch}: ${out.ratioTfjsNodeToPytorchTrainBigBatch ?? 'n/a'}` : ''}  (load average ${out.loadAverage.join(' ')})`);
    const file = path.join(ROOT, 'bench', 'results', 'train-throughput.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path.relative(ROOT, file)}`);
    if (fastPathCheck && !fastPathCheck.ok) throw new Error(`native fast paths disagree with tfjs (max rel diff ${fastPathCheck.maxRelDiff}); run with PDM_TF_FAST_OPS=0 and report`);

  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main();
