import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ModelRegistry } from '../../lib/registry/registry';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { simulateFleet } from '../../lib/sim/fleet';
import { CWRU_DIR, freshBucket, s3Client, SLICE_CLASSES, tinySpec } from '../helpers/services';
import { existsSync } from 'node:fs';

/**
 * The product as a user drives it: real Temporal and MinIO servers (started by test/run-tests.ts),
 * the CPU and GPU workers as separate processes, and every step through the `pdmctl` CLI.
 */
const ROOT = join(__dirname, '..', '..', '..');
const PDMCTL = join(ROOT, 'bin', 'pdmctl.js');
let s3: S3Client;
let store: S3BlobStore;
let env: NodeJS.ProcessEnv;
const workers: ChildProcess[] = [];
/** Everything the worker processes printed, scanned for secrets at the end. */
let workerOutput = '';
let cliOutput = '';
const work = mkdtempSync(join(tmpdir(), 'pdm-it-'));
let labelAsset = 'cwru-rig';

function pdmctl(...args: string[]): { code: number; out: string; err: string } {
  const res = spawnSync(process.execPath, [PDMCTL, ...args], { env, encoding: 'utf8', timeout: 600_000 });
  cliOutput += res.stdout + res.stderr;
  return { code: res.status ?? -1, out: res.stdout, err: res.stderr };
}

function startWorker(kind: 'cpu-worker' | 'gpu-worker'): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'workers', `${kind}.js`)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      workerOutput += d.toString();
      if (seen.includes(`${kind} ready`)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}:\n${seen}`)));
  });
}

/** A directory in the user-facing seed layout: <class>/load<H>_<n>.arrow plus labels.arrow. */
function sliceDir(): string {
  const dir = join(work, 'data');
  if (existsSync(CWRU_DIR)) {
    for (const cls of SLICE_CLASSES) {
      mkdirSync(join(dir, cls), { recursive: true });
      for (const f of readdirSync(join(CWRU_DIR, cls)).filter((f) => /^load[123]_/.test(f))) copyFileSync(join(CWRU_DIR, cls, f), join(dir, cls, f));
    }
    copyFileSync(join(CWRU_DIR, 'labels.arrow'), join(dir, 'labels.arrow'));
  } else {
    labelAsset = 'sim-rig';
    const fleet = simulateFleet({ seed: 5, loads: [1, 2, 3], seconds: 4 });
    for (const r of fleet.recordings.filter((r) => SLICE_CLASSES.includes(r.label))) {
      mkdirSync(join(dir, r.label), { recursive: true });
      writeFileSync(join(dir, r.relPath), r.bytes);
    }
    writeFileSync(join(dir, 'labels.arrow'), fleet.labels);
  }
  return dir;
}

function specFile(name: string, spec: object): string {
  const path = join(work, `${name}.json`);
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

before(async () => {
  s3 = s3Client();
  store = await freshBucket(s3, 'it');
  env = { ...process.env, PDM_BUCKET: store.bucket, PDM_CODE_VERSION: 'it-1', PDM_STATE_DIR: join(work, 'no-local-stack') };
  await Promise.all([startWorker('cpu-worker'), startWorker('gpu-worker')]);
});

after(() => {
  for (const w of workers) w.kill('SIGKILL');
  s3?.destroy();
});

void test('seed, pretrain, retrain, inspect and re-run through the CLI with worker processes', async () => {
  const dir = sliceDir();
  const seeded = pdmctl('seed', '--from', dir, '--asset', 'it');
  assert.equal(seeded.code, 0, seeded.err);
  assert.match(seeded.out, /seed: 13 uploaded/);
  assert.match(pdmctl('seed', '--from', dir, '--asset', 'it').out, /0 uploaded .*13 already there/);

  const backbone = specFile('it-backbone', tinySpec({ assetId: 'it-fleet', modelName: 'it-backbone', prefixes: ['recordings/it-load1/', 'recordings/it-load2/'], labelAsset, labels: { kind: 'ranges', key: 'labels/it.arrow', assetId: labelAsset }, training: { epochs: 3, patience: 3, learningRate: 0.003, batchSize: 32 } }));
  const pre = pdmctl('pretrain', backbone);
  assert.equal(pre.code, 0, pre.err + pre.out);
  assert.match(pre.out, /promotion: it-backbone@production -> v[0-9a-f]{16}/);

  const target = specFile('it-load3', tinySpec({ assetId: 'it-load3', prefixes: ['recordings/it-load3/'], labelAsset, labels: { kind: 'ranges', key: 'labels/it.arrow', assetId: labelAsset }, backbone: 'registry:it-backbone@production' }));
  const first = pdmctl('retrain', 'it-load3', '--spec', target);
  assert.equal(first.code, 0, first.err + first.out);
  assert.match(first.out, /^\s+\d+s\s+step (ingest|preprocess|loadBackbone|fineTune|validate|promote)/m, 'progress is shown while waiting');
  const version = /promotion: it-load3@production -> (v[0-9a-f]{16})/.exec(first.out)?.[1];
  assert.ok(version, first.out);
  assert.match(first.out, /Temporal UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/retrain-it-load3-/);

  const registry = new ModelRegistry(store);
  assert.equal((await registry.getAlias('it-load3', 'production'))?.doc.version, version);
  const card = await registry.getCard('it-load3', version);
  assert.equal(card?.lineage.codeVersion, 'it-1');
  assert.ok(card?.lineage.backbone?.version && card.lineage.datasetVersion && card.lineage.workflowId.startsWith('retrain-it-load3-'));

  const list = pdmctl('models', 'list');
  assert.match(list.out, new RegExp(`it-load3: 1 version\\(s\\); production -> ${version}`));
  const show = pdmctl('models', 'show', 'it-load3');
  assert.equal((JSON.parse(show.out) as { version: string }).version, version);

  const second = pdmctl('retrain', 'it-load3', '--spec', target);
  assert.equal(second.code, 0, second.err);
  assert.match(second.out, /ingest: \d+ recordings, \d+ rows \(reused\)/);
  assert.match(second.out, /preprocess: .* windows \(reused\)/);
  assert.match(second.out, /train: .*\(reused\)/);
  const id = /workflow (retrain-it-load3-\S+):/.exec(second.out)?.[1];
  assert.ok(id);
  const status = pdmctl('status', id);
  assert.match(status.out, /RetrainWorkflow .*: COMPLETED/);
  assert.match(status.out, /DatasetVersion: [0-9a-f]{64}/);

  const rollback = pdmctl('rollback', 'it-load3');
  assert.equal(rollback.code, 1);
  assert.equal(rollback.err.trim().split('\n').length, 1, 'errors are one line');
  assert.match(rollback.err, /^pdmctl: registry: it-load3@production \(v[0-9a-f]+\) has no previous version/);
});

void test('bad input through the CLI: a non-Arrow file fails with its type and key, nothing promoted', async () => {
  await store.put('recordings/it-bad/notes.arrow', 'timestamp,de_accel\n0,1\n');
  const target = specFile('it-bad', tinySpec({ assetId: 'it-bad', prefixes: ['recordings/it-bad/'], labelAsset, backbone: 'registry:it-backbone@production' }));
  const res = pdmctl('retrain', 'it-bad', '--spec', target);
  assert.equal(res.code, 1);
  assert.match(res.err, /^pdmctl: run retrain-it-bad-\S+ failed \[InvalidDataset\]: recordings\/it-bad\/notes\.arrow: not Arrow IPC data/);
  assert.equal(await new ModelRegistry(store).getAlias('it-bad', 'production'), null);
});

void test('no credentials in worker logs or CLI output', () => {
  assert.ok(workerOutput.includes('cpu-worker ready') && cliOutput.includes('promotion:'), 'the logs were captured');
  for (const secret of [process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_ACCESS_KEY_ID]) {
    assert.ok(secret && secret.length > 8);
    assert.ok(!workerOutput.includes(secret), 'a credential appears in the worker logs');
    assert.ok(!cliOutput.includes(secret), 'a credential appears in the CLI output');
  }
});
