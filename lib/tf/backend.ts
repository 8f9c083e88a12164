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
    loaded = { tf, info: describe(tf, pkg, requested, fallbacks) };
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

function describe(tf: Tf, pkg: TfPackage, requested: TfBackendChoice, fallbacks: string[]): TfBackendInfo {
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
    `intra-op ${info.intraOpThreads}, inter-op ${info.interOpThreads}, requested ${info.requested})`;
}
