/**
 * `npm run bench:train`: training and inference throughput of the backbone (batch 64, Adam) on real
 * CWRU windows, for every tfjs backend that loads here and for PyTorch with the same thread budget,
 * run one after another in this invocation. Writes bench/results/train-throughput.json.
 *
 * Env: BENCH_THREADS (default: all CPUs), BENCH_TRAIN_BATCHES (default 60), BENCH_JS_BATCHES (default 4),
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
const cwruDir = process.env.CWRU_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'cwru');
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pdm-pipelines');

interface Row {
  framework: 'tfjs-node' | 'tfjs-js' | 'pytorch';
  mode: 'train' | 'infer';
  windowsPerSec: number;
  threads: number;
}

function runJson(cmd: string, args: string[]): Record<string, unknown> {
  const res = cp.spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
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
    const details: Record<string, unknown> = {};

    for (const backend of ['cpu', 'js'] as const) {
      const batches = backend === 'js' ? jsBatches : trainBatches;
      const r = runJson(process.execPath, [path.join(__dirname, 'tfjs-child.js'), dataDir, backend, String(batches), String(batches), String(threads)]);
      const info = r.info as { package: string; tfBackend: string };
      const res = r.results as { trainOnBatch: number; customLoop: number; infer: number };
      const framework = info.package === '@tensorflow/tfjs' ? 'tfjs-js' : 'tfjs-node';
      if (backend === 'cpu' && framework === 'tfjs-js') {
        console.warn('tfjs-node did not load (see warning above); skipping its row');
        continue;
      }
      details[framework] = r;
      const train = Math.max(res.trainOnBatch, res.customLoop);
      rows.push({ framework, mode: 'train', windowsPerSec: train, threads: framework === 'tfjs-js' ? 1 : threads });
      rows.push({ framework, mode: 'infer', windowsPerSec: res.infer, threads: framework === 'tfjs-js' ? 1 : threads });
      console.log(`${framework.padEnd(9)} train ${train.toFixed(0)} win/s (trainOnBatch ${res.trainOnBatch.toFixed(0)}, custom loop ${res.customLoop.toFixed(0)}), ${perEpoch(train)}; infer ${res.infer.toFixed(0)} win/s  [backend ${info.tfBackend}]`);
    }

    const py = runJson(torchPython(), [path.join(SRC, 'torch_bench.py'), dataDir, String(trainBatches), String(trainBatches), String(threads)]);
    const pres = py.results as { train: number; infer: number };
    details.pytorch = py;
    rows.push({ framework: 'pytorch', mode: 'train', windowsPerSec: pres.train, threads });
    rows.push({ framework: 'pytorch', mode: 'infer', windowsPerSec: pres.infer, threads });
    console.log(`pytorch   train ${pres.train.toFixed(0)} win/s, ${perEpoch(pres.train)}; infer ${pres.infer.toFixed(0)} win/s  [torch ${String(py.torch)}]`);

    const get = (f: Row['framework'], m: Row['mode']): number | undefined => rows.find((r) => r.framework === f && r.mode === m)?.windowsPerSec;
    const ratio = (a?: number, b?: number): number | null => (a && b ? Number((a / b).toFixed(3)) : null);
    const out = {
      rows: rows.map((r) => ({ ...r, windowsPerSec: Number(r.windowsPerSec.toFixed(1)) })),
      ratioTfjsNodeToPytorchTrain: ratio(get('tfjs-node', 'train'), get('pytorch', 'train')),
      ratioTfjsNodeToPytorchInfer: ratio(get('tfjs-node', 'infer'), get('pytorch', 'infer')),
      ratioTfjsJsToPytorchTrain: ratio(get('tfjs-js', 'train'), get('pytorch', 'train')),
      windows: data.n,
      batch: BATCH,
      cpu: os.cpus()[0]?.model,
      measuredAt: new Date().toISOString(),
      details,
    };
    console.log(`ratio tfjs-node / pytorch: train ${out.ratioTfjsNodeToPytorchTrain ?? 'n/a'}, infer ${out.ratioTfjsNodeToPytorchInfer ?? 'n/a'}`);
    const file = path.join(ROOT, 'bench', 'results', 'train-throughput.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${path.relative(ROOT, file)}`);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main();
