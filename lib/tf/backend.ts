/**
 * The one place that decides which TensorFlow.js backend a process uses.
 *
 * All other code imports only *types* from '@tensorflow/tfjs' and gets the namespace from loadTf():
 *   - '@tensorflow/tfjs-node-gpu' (native TF + CUDA) on GPU workers, only when asked for;
 *   - '@tensorflow/tfjs-node' (native TF on CPU), the default whenever its addon loads;
 *   - '@tensorflow/tfjs' (pure JS), the last resort, with a loud warning because training is far slower.
 * Both native packages re-export the same deduped @tensorflow/tfjs(-core) instance and register the
 * 'tensorflow' backend on it, so the returned namespace is interchangeable with '@tensorflow/tfjs'.
 *
 * Selection: loadTf({ backend }) or env PDM_TF_BACKEND=auto|gpu|cpu|js (default auto = cpu, else js).
 * Threads: TensorFlow reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS when the native context is
 * created, i.e. on first load; loadTf({ threads }) sets them if they are not set already.
 *
 * Native training fast paths (tfjs-node / tfjs-node-gpu only; PDM_TF_FAST_OPS=0 turns them off): tfjs runs
 * every op eagerly through TFE_Execute (~20-40 us each) and composes some gradients from many full-size
 * element-wise ops. Two of those dominated a training step of our conv1d+BN backbone (profiled with
 * tf.profile, bench/train-throughput): the ReLU gradient (tfjs: Cast+IsNan+Greater+Fill+Fill+Select+Select+Mul
 * over the activation; here: TF's single ReluGrad kernel) and BatchNormalization in training mode (tfjs:
 * moments + batchNorm, ~45 ops forward+backward per layer; here: TF's FusedBatchNormV3 / FusedBatchNormGradV3,
 * oneDNN-backed). Same math, float32 round-off differences only; moving statistics follow tfjs-layers'
 * semantics (biased batch variance). See installNativeFastPaths().
 *
 * TF_ENABLE_ONEDNN_OPTS is deliberately left to TensorFlow's default (off in 2.9 on Linux): measured on the
 * bench, it is neutral for training once the fast paths are on and ~15% slower for inference (eager mode
 * reorders the weights on every call).
 */
import * as os from 'node:os';
import { z } from 'zod';
import type * as TfNamespace from '@tensorflow/tfjs';

export type Tf = typeof TfNamespace;

export const TfBackendChoice = z.enum(['auto', 'gpu', 'cpu', 'js']);
export type TfBackendChoice = z.infer<typeof TfBackendChoice>;

export type TfPackage = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node' | '@tensorflow/tfjs';

export interface LoadTfOptions {
  /** Overrides PDM_TF_BACKEND. */
  backend?: TfBackendChoice;
  /** Native intra-op threads (TF_NUM_INTRAOP_THREADS); ignored if the env var is already set. */
  threads?: number;
}

export interface TfBackendInfo {
  requested: TfBackendChoice;
  /** The npm package actually loaded. */
  package: TfPackage;
  /** tf.getBackend(): 'tensorflow' for both native packages, 'cpu' for pure JS. */
  tfBackend: string;
  tfjsVersion: string;
  /** Version of the native TensorFlow library (TF_Version()), when native. */
  libtensorflowVersion?: string;
  /** Whether native TF found a CUDA device (tfjs-node-gpu only). */
  usingGpu: boolean;
  intraOpThreads: number | 'tf-default';
  interOpThreads: number | 'tf-default';
  /** Why a faster backend was not used, if one was skipped. */
  fallbacks: string[];
  /** Native training fast paths installed (see installNativeFastPaths); empty for pure JS or PDM_TF_FAST_OPS=0. */
  fastPaths: string[];
  /** TF_ENABLE_ONEDNN_OPTS as TensorFlow saw it at load ('tf-default' when unset). */
  onednn: string;
}

const ThreadsEnv = z.coerce.number().int().positive().optional();

interface Loaded {
  tf: Tf;
  info: TfBackendInfo;
}
let loaded: Loaded | undefined;

function readChoice(opts: LoadTfOptions): TfBackendChoice {
  if (opts.backend !== undefined) return TfBackendChoice.parse(opts.backend);
  const raw = process.env.PDM_TF_BACKEND?.trim().toLowerCase() || 'auto';
  const parsed = TfBackendChoice.safeParse(raw);
  if (!parsed.success) {
    // A typo must not silently pick a 30x slower backend.
    throw new Error(`PDM_TF_BACKEND=${JSON.stringify(process.env.PDM_TF_BACKEND)} is invalid: use auto, gpu, cpu or js`);
  }
  return parsed.data;
}

/** require() by a runtime string: the native packages are optional and may be absent or unbuilt. */
function tryRequire(pkg: TfPackage): { tf?: Tf; error?: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { tf: require(pkg) as Tf };
  } catch (e) {
    // A missing/unbuilt addon throws here ("Cannot find module .../tfjs_binding.node"); first line suffices.
    return { error: (e instanceof Error ? e.message : String(e)).split('\n')[0] };
  }
}

/**
 * Loads (once per process) and returns the TensorFlow.js namespace for the selected backend.
 * Throws only for an invalid choice or a conflicting second request; a missing native backend falls back.
 */
export function loadTf(opts: LoadTfOptions = {}): Tf {
  const requested = readChoice(opts);
  if (loaded) {
    // tfjs-core is a process-wide singleton; two native packages cannot coexist in one process.
    if (opts.backend !== undefined && requested !== 'auto' && requested !== loaded.info.requested) {
      throw new Error(`TensorFlow.js already loaded with backend '${loaded.info.requested}' (${loaded.info.package}); cannot switch to '${requested}' in the same process`);
    }
    return loaded.tf;
  }
  if (opts.threads !== undefined && process.env.TF_NUM_INTRAOP_THREADS === undefined) {
    process.env.TF_NUM_INTRAOP_THREADS = String(opts.threads);
  }
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1'; // hide TF's INFO banner, keep warnings

  const order: TfPackage[] =
    requested === 'gpu' ? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs']
    : requested === 'cpu' || requested === 'auto' ? ['@tensorflow/tfjs-node', '@tensorflow/tfjs']
    : ['@tensorflow/tfjs'];
  const fallbacks: string[] = [];
  for (const pkg of order) {
    const { tf, error } = tryRequire(pkg);
    if (!tf) {
      fallbacks.push(`${pkg}: ${error ?? 'unknown error'}`);
      continue;
    }
    const fastPaths = pkg !== '@tensorflow/tfjs' && process.env.PDM_TF_FAST_OPS !== '0' ? installNativeFastPaths(tf) : [];
    loaded = { tf, info: { ...describe(tf, pkg, requested, fallbacks), fastPaths } };
    if (pkg === '@tensorflow/tfjs' && requested !== 'js') {
      console.warn(
        `\n!!! pdm-pipelines: native TensorFlow unavailable, using the pure-JS backend: training will be 10-50x slower.\n` +
          `!!! ${fallbacks.join('\n!!! ')}\n!!! Fix: \`npm run postinstall\` (see README "Native TensorFlow").\n`,
      );
    } else if (requested === 'gpu' && !loaded.info.usingGpu) {
      console.warn(`pdm-pipelines: PDM_TF_BACKEND=gpu but no GPU is in use (${pkg}); ${fallbacks.join('; ') || 'TF found no CUDA device'}`);
    }
    return tf;
  }
  // Unreachable in practice: @tensorflow/tfjs is a regular dependency.
  throw new Error(`no TensorFlow.js backend could be loaded: ${fallbacks.join('; ')}`);
}

function describe(tf: Tf, pkg: TfPackage, requested: TfBackendChoice, fallbacks: string[]): Omit<TfBackendInfo, 'fastPaths'> {
  // The native backend object is not part of the public tfjs types; read its two fields defensively.
  const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean; binding?: { TF_Version?: string } };
  const native = pkg !== '@tensorflow/tfjs';
  const intra = ThreadsEnv.parse(process.env.TF_NUM_INTRAOP_THREADS || undefined);
  const inter = ThreadsEnv.parse(process.env.TF_NUM_INTEROP_THREADS || undefined);
  return {
    requested,
    package: pkg,
    tfBackend: tf.getBackend(),
    tfjsVersion: tf.version.tfjs,
    libtensorflowVersion: native ? backend.binding?.TF_Version : undefined,
    usingGpu: backend.isUsingGpuDevice === true,
    // Pure JS runs on the one Node thread, whatever the env says.
    intraOpThreads: native ? (intra ?? 'tf-default') : 1,
    interOpThreads: native ? (inter ?? 'tf-default') : 1,
    fallbacks: [...fallbacks],
    onednn: process.env.TF_ENABLE_ONEDNN_OPTS || 'tf-default',
  };
}

/** What loadTf() chose, for the worker start-up log line. Loads with defaults if not loaded yet. */
export function describeTfBackend(): TfBackendInfo & { cpus: number } {
  if (!loaded) loadTf();
  return { ...(loaded as Loaded).info, cpus: os.availableParallelism() };
}

/** One line for logs, e.g. "tfjs-node 4.22.0 (backend tensorflow, libtensorflow 2.9.1, cpu, intra-op tf-default)". */
export function formatTfBackend(info: TfBackendInfo = describeTfBackend()): string {
  const name = info.package.replace('@tensorflow/', '');
  const lib = info.libtensorflowVersion ? `, libtensorflow ${info.libtensorflowVersion}` : '';
  return `${name} ${info.tfjsVersion} (backend ${info.tfBackend}${lib}, ${info.usingGpu ? 'gpu' : 'cpu'}, ` +
    `intra-op ${info.intraOpThreads}, inter-op ${info.interOpThreads}, requested ${info.requested}` +
    `${info.fastPaths.length ? `, fast paths ${info.fastPaths.join('+')}` : ''})`;
}

// ---------------------------------------------------------------------------------------------------------
// Native training fast paths.

type Tensor = TfNamespace.Tensor;

/** The parts of tfjs-node's NodeJSKernelBackend used here (not in the public typings). */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
  executeSingleOutput(op: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(op: string, attrs: OpAttr[], inputs: Tensor[], numOutputs: number): Tensor[];
}
interface OpAttr {
  name: string;
  type: number;
  value: number | string | boolean;
}

/** The fields of tfjs-layers' BatchNormalization that its call() uses (internal, hence declared here). */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): Tensor } | null;
  beta: { read(): Tensor } | null;
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}
type LayerCall = (this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor | Tensor[];

/**
 * Replaces two slow compositions in tfjs with single TensorFlow kernels, for the native backend only.
 * Process-wide (tfjs' gradient and layer registries are singletons) and idempotent; every patched path
 * checks at call time that the active backend is still 'tensorflow' and falls back to tfjs' own code otherwise.
 * Measured on bench/train-throughput (batch 64, 2 threads): train step 59-74 ms -> 40-45 ms.
 */
export function installNativeFastPaths(tf: Tf): string[] {
  const g = globalThis as { __pdmTfFastPaths?: string[] };
  if (g.__pdmTfFastPaths) return g.__pdmTfFastPaths;
  const be = tf.backend() as unknown as NativeBackend;
  const B = be.binding;
  if (tf.getBackend() !== 'tensorflow' || typeof be.executeMultipleOutputs !== 'function' || !B) return [];
  const isNative = (): boolean => tf.getBackend() === 'tensorflow';
  const type = (name: string): OpAttr => ({ name, type: B.TF_ATTR_TYPE, value: B.TF_FLOAT });
  const installed: string[] = [];

  // 1. ReLU gradient: one ReluGrad kernel instead of dy * step(x) (step alone is ~7 full-size ops in tfjs-node).
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const x = saved[0] as Tensor;
      const d = dy as Tensor;
      if (isNative() && x.dtype === 'float32' && d.dtype === 'float32') {
        return { x: () => be.executeSingleOutput('ReluGrad', [type('T')], [d, x]) };
      }
      return { x: () => tf.mul(d, tf.step(tf.cast(x, 'float32'))) }; // tfjs-core's own gradient
    },
  });
  installed.push('relu-grad');

  // 2. BatchNormalization in training mode: FusedBatchNormV3 (is_training) + FusedBatchNormGradV3.
  // The class from tfjs' serialization registry (instantiating a probe layer would shift auto-generated layer names).
  const registry = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, [{ prototype: { call: LayerCall } }, unknown] | undefined>;
  const bnClass = registry.BatchNormalization?.[0];
  if (!bnClass || typeof bnClass.prototype.call !== 'function') {
    g.__pdmTfFastPaths = installed;
    return installed;
  }
  const proto = bnClass.prototype;
  const originalCall = proto.call;
  const bnAttrs = (epsilon: number): OpAttr[] => [
    type('T'),
    type('U'),
    { name: 'epsilon', type: B.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: B.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: B.TF_ATTR_BOOL, value: true },
  ];
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const training = kwargs?.training === true;
    if (!training || !isNative() || !input || input.dtype !== 'float32' || input.rank < 2 || input.rank > 4 ||
        !this.center || !this.scale || !this.gamma || !this.beta || (this.axis !== -1 && this.axis !== input.rank - 1)) {
      return originalCall.call(this, inputs, kwargs);
    }
    const gamma = this.gamma;
    const beta = this.beta;
    return tf.tidy(() => {
      const shape = input.shape;
      const channels = shape[shape.length - 1] as number;
      const n = input.size / channels; // all non-channel axes are reduction axes (axis = last)
      const attrs = bnAttrs(this.epsilon);
      let batchMean: Tensor | undefined;
      let batchVar: Tensor | undefined;
      const fused = tf.customGrad(((x: Tensor, scale: Tensor, offset: Tensor, save: (t: Tensor[]) => void) => {
        const empty = tf.tensor1d([], 'float32');
        const [y, mean, variance, r1, r2, r3] = be.executeMultipleOutputs('FusedBatchNormV3', attrs, [x, scale, offset, empty, empty], 6);
        batchMean = tf.keep(mean as Tensor);
        batchVar = tf.keep(variance as Tensor);
        save([x, scale, r1 as Tensor, r2 as Tensor, r3 as Tensor]);
        return {
          value: y as Tensor,
          gradFunc: (dy: Tensor | Tensor[], s: Tensor[]) => {
            const outs = be.executeMultipleOutputs('FusedBatchNormGradV3', attrs, [dy as Tensor, ...s], 5);
            return outs.slice(0, 3); // dx, dscale, doffset
          },
        };
      }) as unknown as Parameters<Tf['customGrad']>[0]);
      // NHWC with every reduction axis folded into N: [n, 1, 1, C].
      const x4 = tf.reshape(input, [n, 1, 1, channels]);
      const y = tf.reshape(fused(x4, gamma.read(), beta.read()), shape);
      const mean = batchMean as Tensor;
      // tfjs-layers tracks the biased batch variance (tf.moments); TF returns the Bessel-corrected one.
      const variance = n > 1 ? tf.mul(batchVar as Tensor, (n - 1) / n) : (batchVar as Tensor);
      const decay = 1 - this.momentum;
      for (const [v, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        const old = v.read();
        v.write(tf.sub(old, tf.mul(tf.sub(old, value), decay)));
      }
      mean.dispose();
      (batchVar as Tensor).dispose();
      return y;
    });
  };
  installed.push('fused-batchnorm');
  g.__pdmTfFastPaths = installed;
  return installed;
}
