#!/usr/bin/env node
/**
 * pdm-pipelines postinstall: make @tensorflow/tfjs-node (native TensorFlow) usable.
 *
 * Why this exists: tfjs-node's own install script downloads libtensorflow 2.9.1 and a prebuilt addon
 * from storage.googleapis.com. Build machines and clusters often reach only package registries, so
 * that download fails, npm drops the optional package, and training silently runs on the pure-JS
 * backend (~10-50x slower). TensorFlow 2.9.1's PyPI wheel carries the very same C API, so we take the
 * libraries from there and compile the addon locally. See infra/tfjs-native/README.md for the details.
 *
 * Contract:
 *   - Idempotent and cached: the wheel, the extracted libraries and the built addon live under
 *     ${XDG_CACHE_HOME:-~/.cache}/pdm-pipelines/tfjs-native, so repeat installs take seconds.
 *   - Where the normal Google download works, it is used unchanged (nothing special happens).
 *   - Never fails `npm install`: any problem ends in a loud warning and exit code 0, and
 *     lib/tf/backend.ts then falls back to the pure-JS backend (also with a warning).
 *
 * Env knobs:
 *   PDM_TFJS_NATIVE=skip          do nothing (e.g. CI jobs that never train)
 *   PDM_TFJS_NATIVE_SOURCE=auto   auto (default) | google (official download only) | pypi (wheel only)
 *   PDM_TFJS_GPU=1                also build @tensorflow/tfjs-node-gpu (default: only when nvidia-smi exists)
 *   PDM_TFJS_NATIVE_FORCE=1       rebuild even if the addon already loads
 *
 * Plain CommonJS JavaScript on purpose: it runs at install time, before `tsc` has built anything.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const cp = require('node:child_process');
const crypto = require('node:crypto');

const ROOT = path.resolve(__dirname, '..', '..');
const LIBTF_VERSION = '2.9.1'; // what tfjs-node 4.22 is built and tested against (scripts/deps-constants.js)
const CACHE = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'pdm-pipelines',
  'tfjs-native',
);

/** One entry per npm package we may have to provision. */
const VARIANTS = {
  cpu: {
    pkg: '@tensorflow/tfjs-node',
    installArgs: ['cpu'], // argv[2] of tfjs-node's scripts/install.js
    // tensorflow-cpu has no CUDA code and is ~200 MB instead of ~500 MB.
    wheel: { name: 'tensorflow-cpu', version: LIBTF_VERSION },
  },
  gpu: {
    pkg: '@tensorflow/tfjs-node-gpu',
    installArgs: ['gpu'],
    // Since TF 2.1 the plain `tensorflow` wheel is the CUDA build (CUDA 11.2 / cuDNN 8.1 for 2.9).
    wheel: { name: 'tensorflow', version: LIBTF_VERSION },
  },
};
// TF 2.9 only ships manylinux2014 x86_64 wheels; cp310 is arbitrary: the C libraries are the same in
// every cpXY wheel of a release, we never load Python code from it.
const WHEEL_PLATFORM = 'manylinux2014_x86_64';
const WHEEL_PYTHON = '3.10';

const log = (msg) => console.log(`[tfjs-native] ${msg}`);

function warnLoud(title, detail) {
  const bar = '!'.repeat(78);
  console.warn(
    `\n${bar}\n!! pdm-pipelines: ${title}\n${bar}\n${detail}\n` +
      `Install continues. Workers will use the pure-JS TensorFlow.js backend, which is MUCH slower\n` +
      `for training. Fix the cause above and run \`npm run postinstall\` (or \`npm install\`) again.\n` +
      `Full log: ${path.join(CACHE, 'last-install.log')}\n${bar}\n`,
  );
}

let logFile = null;
function run(cmd, args, opts = {}) {
  // Child output goes to a log file (node-gyp is verbose); we print a summary and point at the log.
  const res = cp.spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 20 * 60 * 1000,
    ...opts,
  });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  if (logFile) fs.appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n${out}${res.error ? String(res.error) : ''}\n`);
  if (res.error || res.status !== 0) {
    const tail = out.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.error ? res.error.message : `exit ${res.status}`})\n${tail}`);
  }
  return res.stdout;
}

function which(bin) {
  return cp.spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).status === 0;
}

function pkgDir(pkg) {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`, { paths: [ROOT] }));
  } catch {
    return null;
  }
}

/** Loads the package in a child process: a broken native addon can abort the process, not just throw. */
function loads(pkg) {
  const probe =
    `const tf=require(${JSON.stringify(pkg)});` +
    `const s=tf.tensor1d([1,2,3]).square().sum().dataSync()[0];` +
    `if(tf.getBackend()!=='tensorflow'||s!==14)throw new Error('backend '+tf.getBackend()+' sum '+s);`;
  const res = cp.spawnSync(process.execPath, ['-e', probe], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (res.status !== 0 && logFile) fs.appendFileSync(logFile, `\nload probe ${pkg} failed:\n${res.stderr}\n`);
  return res.status === 0;
}

/** Environment for tfjs-node's scripts/install.js -> node-pre-gyp -> node-gyp. */
function buildEnv() {
  const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' };
  // node-pre-gyp is a dependency of tfjs-node and must be on PATH (npm puts .bin there only for the
  // package being installed, not for our root postinstall when run by hand).
  env.PATH = [path.join(ROOT, 'node_modules', '.bin'), env.PATH].join(path.delimiter);
  // Use the local Node headers when present so node-gyp does not try to download them from nodejs.org.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    env.npm_config_nodedir = prefix;
  }
  return env;
}

/** Where node-pre-gyp puts the addon: the highest N-API version the package lists that Node supports. */
function napiLibDir(dir) {
  const binary = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).binary;
  const napi = Math.max(...binary.napi_versions.filter((v) => v <= Number(process.versions.napi)));
  return path.join(dir, binary.module_path.replace('{napi_build_version}', String(napi)));
}

/** Path 1: the package's own installer, i.e. exactly what npm would have run. */
function officialInstall(variant, dir) {
  log(`${variant.pkg}: trying the official libtensorflow download (storage.googleapis.com)`);
  fs.rmSync(path.join(dir, 'scripts', 'custom-binary.json'), { force: true }); // left by an earlier fallback
  // 'download' (argv[3]) forces a fresh download even if deps/ holds an earlier wheel-based layout.
  run(process.execPath, ['scripts/install.js', ...variant.installArgs, 'download'], {
    cwd: dir,
    env: buildEnv(),
    timeoutMs: 15 * 60 * 1000,
  });
}

function sha256(file) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8 << 20);
  let n;
  while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

/**
 * Path 2, step 1: libtensorflow from the PyPI wheel, extracted once into the cache.
 *
 * TF 2.9 wheels have no libtensorflow.so: the C API (TF_*, TFE_*) is exported by
 * tensorflow/python/_pywrap_tensorflow_internal.so, next to libtensorflow_framework.so.2. That library
 * also references ~190 CPython symbols (PyLong_FromLong, PyBaseObject_Type, ...) which only its pybind11
 * module-init code uses. We never call that code, but the dynamic loader must still resolve the data
 * references at load time, so we compile a tiny stub library defining them (each aborts if called).
 * Finally deps/lib/libtensorflow.so becomes a GNU ld linker script INPUT(internal.so stub.so), so the
 * unmodified binding.gyp (-ltensorflow -ltensorflow_framework) links against both. No patchelf needed.
 */
function provisionFromWheel(variant) {
  const { name, version } = variant.wheel;
  const libDir = path.join(CACHE, `libtensorflow-${name}-${version}-linux-x86_64`);
  const marker = path.join(libDir, '.complete');
  if (fs.existsSync(marker)) {
    log(`using cached libtensorflow from ${libDir}`);
    return libDir;
  }
  for (const bin of ['python3', 'cc', 'nm', 'make']) {
    if (!which(bin)) throw new Error(`'${bin}' not found; needed to build the addon (apt-get install python3 python3-pip build-essential)`);
  }
  const wheelDir = path.join(CACHE, 'wheels');
  fs.mkdirSync(wheelDir, { recursive: true });
  const prefix = `${name.replace(/-/g, '_')}-${version}-`;
  let wheel = fs.readdirSync(wheelDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (!wheel) {
    log(`downloading ${name}==${version} wheel from PyPI (~${name === 'tensorflow' ? 500 : 200} MB, once)`);
    // pip, not our own HTTP client: it honours the machine's index mirrors, proxies and CA settings.
    run('python3', ['-m', 'pip', 'download', `${name}==${version}`, '--no-deps', '--only-binary=:all:',
      '--python-version', WHEEL_PYTHON, '--platform', WHEEL_PLATFORM, '--disable-pip-version-check',
      '-d', wheelDir]);
    wheel = fs.readdirSync(wheelDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip download finished but no ${prefix}*.whl in ${wheelDir}`);
  }
  const wheelPath = path.join(wheelDir, wheel);

  // Remove half-extracted leftovers of interrupted earlier runs.
  for (const f of fs.readdirSync(CACHE)) {
    if (f.startsWith(`${path.basename(libDir)}.tmp-`)) fs.rmSync(path.join(CACHE, f), { recursive: true, force: true });
  }
  const tmp = `${libDir}.tmp-${process.pid}`;
  fs.mkdirSync(path.join(tmp, 'lib'), { recursive: true });
  log(`extracting C libraries and headers from ${wheel}`);
  // Python's zipfile streams members (the main library is ~470 MB); python3 is required by node-gyp anyway.
  run('python3', ['-c', `
import sys, zipfile, shutil, os
whl, out = sys.argv[1], sys.argv[2]
want = {'tensorflow/python/_pywrap_tensorflow_internal.so': 'lib/_pywrap_tensorflow_internal.so',
        'tensorflow/libtensorflow_framework.so.2': 'lib/libtensorflow_framework.so.2'}
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    for src, dst in want.items():
        if src not in names: sys.exit('missing in wheel: ' + src)
        with z.open(src) as i, open(os.path.join(out, dst), 'wb') as o: shutil.copyfileobj(i, o, 8 << 20)
        os.chmod(os.path.join(out, dst), 0o755)
    for n in names:
        # C API headers plus the few tensorflow/core/platform headers they include (ctstring*.h).
        if n.startswith(('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/')) and n.endswith('.h'):
            dst = os.path.join(out, 'include', n[len('tensorflow/include/'):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(n) as i, open(dst, 'wb') as o: shutil.copyfileobj(i, o)
`, wheelPath, tmp]);

  const internal = path.join(tmp, 'lib', '_pywrap_tensorflow_internal.so');
  const exported = run('nm', ['-D', '--defined-only', internal], { maxBuffer: 256 << 20 });
  // Symbols carry a version suffix in this build (TF_NewStatus@@tensorflow).
  if (!/ T TFE_NewContext(@|$)/m.test(exported) || !/ T TF_NewStatus(@|$)/m.test(exported)) {
    throw new Error(`${internal} does not export the TensorFlow C API (TF_*/TFE_*)`);
  }
  const pySyms = run('nm', ['-D', '--undefined-only', internal], { maxBuffer: 256 << 20 })
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop().replace(/@.*/, ''))
    .filter((s) => /^_?Py[A-Za-z0-9_]*$/.test(s));
  const stubC = path.join(tmp, 'pystub.c');
  fs.writeFileSync(stubC, [
    '/* Generated by pdm-pipelines infra/tfjs-native/postinstall.js: CPython symbols referenced by',
    ' * TensorFlow\'s pybind11 glue. Never called from Node; abort loudly if they ever are. */',
    '#include <stdio.h>',
    '#include <stdlib.h>',
    'static void pdm_py_stub(const char *n) { fprintf(stderr, "tfjs-native: CPython symbol %s called\\n", n); abort(); }',
    ...[...new Set(pySyms)].map((s) => `void ${s}(void) { pdm_py_stub("${s}"); }`),
    '',
  ].join('\n'));
  run('cc', ['-shared', '-fPIC', '-O1', '-Wl,-soname,libtfjs_pystub.so', '-o', path.join(tmp, 'lib', 'libtfjs_pystub.so'), stubC]);
  fs.writeFileSync(path.join(tmp, 'lib', 'libtensorflow.so'),
    '/* GNU ld script written by pdm-pipelines infra/tfjs-native: the C API lives in the wheel\'s\n' +
    '   _pywrap_tensorflow_internal.so; libtfjs_pystub.so satisfies its CPython references. */\n' +
    'INPUT(_pywrap_tensorflow_internal.so libtfjs_pystub.so)\n');
  fs.writeFileSync(path.join(tmp, 'SOURCE'), `${wheel}\nsha256 ${sha256(wheelPath)}\n${pySyms.length} CPython stubs\n`);
  fs.rmSync(libDir, { recursive: true, force: true });
  fs.renameSync(tmp, libDir); // atomic: a crashed install never leaves a half-written cache entry
  fs.writeFileSync(marker, new Date().toISOString());
  return libDir;
}

/** Hard link when cache and node_modules share a filesystem (instant, no extra 500 MB), else copy. */
function linkOrCopy(src, dst) {
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

/** Path 2, step 2: lay the libraries out the way tfjs-node's binding.gyp expects, then build. */
function installFromWheel(variant, dir) {
  const libDir = provisionFromWheel(variant);
  const deps = path.join(dir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
  fs.cpSync(path.join(libDir, 'include'), path.join(deps, 'include'), { recursive: true });
  for (const f of ['_pywrap_tensorflow_internal.so', 'libtensorflow_framework.so.2', 'libtfjs_pystub.so', 'libtensorflow.so']) {
    linkOrCopy(path.join(libDir, 'lib', f), path.join(deps, 'lib', f));
  }
  // -ltensorflow_framework at link time; the runtime soname is libtensorflow_framework.so.2.
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(deps, 'lib', 'libtensorflow_framework.so'));
  // scripts/install.js skips its download when this exact file exists.
  fs.symlinkSync('libtensorflow.so', path.join(deps, 'lib', `libtensorflow.so.${LIBTF_VERSION}`));

  const addon = path.join(napiLibDir(dir), 'tfjs_binding.node');
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  const cachedAddon = path.join(libDir, 'addons', `${variant.pkg.replace('/', '+')}-${version}-napi${process.versions.napi}-node${process.versions.modules}.node`);
  if (fs.existsSync(cachedAddon)) {
    fs.mkdirSync(path.dirname(addon), { recursive: true });
    fs.copyFileSync(cachedAddon, addon);
    if (loads(variant.pkg)) {
      log(`${variant.pkg}: restored the cached addon`);
      return;
    }
    fs.rmSync(cachedAddon, { force: true }); // stale: fall through to a rebuild
  }
  // A custom tf-lib entry is tfjs-node's documented switch to "--build-from-source" (the prebuilt addon
  // on storage.googleapis.com is unreachable here and is linked against a real libtensorflow.so.2).
  fs.writeFileSync(path.join(dir, 'scripts', 'custom-binary.json'),
    JSON.stringify({ 'tf-lib': `pypi:${variant.wheel.name}==${variant.wheel.version} (pdm-pipelines infra/tfjs-native)` }, null, 2));
  log(`${variant.pkg}: compiling the native addon against the wheel's libraries (node-gyp, ~30 s)`);
  run(process.execPath, ['scripts/install.js', ...variant.installArgs], {
    cwd: dir,
    env: buildEnv(),
  });
  fs.mkdirSync(path.dirname(cachedAddon), { recursive: true });
  fs.copyFileSync(addon, cachedAddon);
}

function provision(kind) {
  const variant = VARIANTS[kind];
  const dir = pkgDir(variant.pkg);
  if (!dir) {
    warnLoud(`${variant.pkg} is not installed`,
      `It is an optionalDependency. If npm removed it, its own install script failed: package.json must\n` +
      `keep \`"allowScripts": { "${variant.pkg}": false }\` so npm leaves it to this script.`);
    return false;
  }
  if (process.env.PDM_TFJS_NATIVE_FORCE !== '1' && loads(variant.pkg)) {
    log(`${variant.pkg}: native addon already loads, nothing to do`);
    return true;
  }
  const source = process.env.PDM_TFJS_NATIVE_SOURCE || 'auto';
  const errors = [];
  if (source === 'auto' || source === 'google') {
    try {
      officialInstall(variant, dir);
      if (loads(variant.pkg)) {
        log(`${variant.pkg}: ready (official libtensorflow)`);
        return true;
      }
      errors.push('official download: installed but the addon does not load');
    } catch (e) {
      const lines = e.message.split('\n');
      const cause = lines.find((l) => /getaddrinfo|ENOTFOUND|ECONN|ETIMEDOUT|EAI_AGAIN|certificate|HTTP/.test(l)) ?? lines[0];
      errors.push(`official download: ${cause.trim()}`);
      log(`${variant.pkg}: official download unavailable, falling back to the PyPI wheel`);
    }
  }
  if (source === 'auto' || source === 'pypi') {
    try {
      installFromWheel(variant, dir);
      if (loads(variant.pkg)) {
        log(`${variant.pkg}: ready (libtensorflow ${LIBTF_VERSION} from the PyPI ${variant.wheel.name} wheel)`);
        return true;
      }
      errors.push('PyPI wheel: addon built but does not load (see log)');
    } catch (e) {
      errors.push(`PyPI wheel: ${e.message}`);
    }
  }
  warnLoud(`could not provision native TensorFlow for ${variant.pkg}`, errors.join('\n'));
  return false;
}

function main() {
  if (process.env.PDM_TFJS_NATIVE === 'skip') return log('PDM_TFJS_NATIVE=skip: not touching tfjs-node');
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    // Elsewhere (macOS, Windows) the official download is the only supported path; let it be.
    return log(`${process.platform}-${process.arch}: only linux-x64 is handled here, skipping`);
  }
  fs.mkdirSync(CACHE, { recursive: true });
  logFile = path.join(CACHE, 'last-install.log');
  fs.writeFileSync(logFile, `pdm-pipelines tfjs-native ${new Date().toISOString()}\n`);
  const t0 = Date.now();
  provision('cpu');
  const wantGpu = process.env.PDM_TFJS_GPU === '1' || (process.env.PDM_TFJS_GPU !== '0' && which('nvidia-smi'));
  if (wantGpu) provision('gpu');
  else if (pkgDir(VARIANTS.gpu.pkg)) log(`${VARIANTS.gpu.pkg}: no NVIDIA GPU here, left unbuilt (set PDM_TFJS_GPU=1 to build anyway)`);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  warnLoud('unexpected error in infra/tfjs-native/postinstall.js', String(e && e.stack ? e.stack : e));
}
process.exitCode = 0; // never fail `npm install`
