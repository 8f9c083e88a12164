import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createIngestActivities, createPreprocessActivities, IngestResult } from '../../activities';
import type { PipelineSpecInput } from '../../lib/spec/pipeline-spec';
import type { S3BlobStore } from '../../lib/storage/s3-store';
import { buildStorageDeps } from '../../workers/clients';
import { labelTableBytes, recordingBytes } from '../helpers/arrow-fixtures';
import { freshBucket, s3Client } from '../helpers/services';

/**
 * Every kind of bad input, through the real ingest and preprocess activities against MinIO: each
 * must be a non-retryable ApplicationFailure whose type names the kind and whose message names the
 * object (or spec field) and the problem. (The workflow and CLI tests show that such a failure ends
 * the run with `production` untouched.)
 */
let s3: S3Client;
let store: S3BlobStore;
let acts: ReturnType<typeof createIngestActivities> & ReturnType<typeof createPreprocessActivities>;
const T0 = 1_704_067_200_000_000_000n;
const ROWS = 4096;

before(async () => {
  s3 = s3Client();
  store = await freshBucket(s3, 'bad');
  const deps = buildStorageDeps(s3, store.bucket);
  acts = { ...createIngestActivities(deps), ...createPreprocessActivities(deps) };
  // A label table for assets "a" and "conflict": two labels on consecutive 4096-sample recordings.
  const span = (i: number) => ({ start: T0 + BigInt(i) * 1_000_000_000n, end: T0 + BigInt(i) * 1_000_000_000n + 400_000_000n });
  await store.put('labels/good.arrow', labelTableBytes([{ assetId: 'a', ...span(0), label: 'x' }, { assetId: 'a', ...span(1), label: 'y' }]));
  await store.put('labels/conflict.arrow', labelTableBytes([{ assetId: 'a', ...span(0), label: 'x' }, { assetId: 'a', start: span(0).start + 1000n, end: span(1).end, label: 'y' }]));
  await store.put('labels/unknown.arrow', labelTableBytes([{ assetId: 'a', ...span(0), label: 'x' }, { assetId: 'a', ...span(1), label: 'zzz' }]));
  await store.put('labels/single.arrow', labelTableBytes([{ assetId: 'a', ...span(0), label: 'x' }, { assetId: 'a', ...span(1), label: 'x' }]));
  await store.put('labels/elsewhere.arrow', labelTableBytes([{ assetId: 'a', start: T0 - 10_000_000_000n, end: T0 - 5_000_000_000n, label: 'x' }]));
});

after(() => s3?.destroy());

function spec(prefix: string, over: Partial<PipelineSpecInput> = {}): PipelineSpecInput {
  return {
    assetId: 'a',
    source: { prefixes: [prefix] },
    channels: [{ name: 'de_accel' }, { name: 'fe_accel' }],
    sampleRateHz: 12000,
    window: { length: 256, hop: 256 },
    classes: ['x', 'y'],
    labels: { kind: 'ranges', key: 'labels/good.arrow' },
    ...over,
  };
}

let n = 0;
/** Uploads two recordings (one per labelled range) plus optional extra objects under a fresh prefix. */
async function dataset(extra: Record<string, Uint8Array | string> = {}, rows = ROWS): Promise<string> {
  const prefix = `recordings/case-${n++}/`;
  await store.put(`${prefix}r0.arrow`, recordingBytes({ rows, startNs: T0 }));
  await store.put(`${prefix}r1.arrow`, recordingBytes({ rows, startNs: T0 + 1_000_000_000n }));
  for (const [name, body] of Object.entries(extra)) await store.put(`${prefix}${name}`, body);
  return prefix;
}

async function expectFailure(p: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail(`expected a ${type} failure`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, message);
}

async function ingestThenPreprocess(s: PipelineSpecInput): Promise<unknown> {
  const env = new MockActivityEnvironment();
  const ing = await env.run<[PipelineSpecInput], IngestResult, (x: PipelineSpecInput) => Promise<IngestResult>>((x) => acts.ingest(x), s);
  return env.run((x: PipelineSpecInput, hash: string) => acts.preprocess(x, hash), s, ing.datasetHash);
}

const ingest = (s: PipelineSpecInput): Promise<IngestResult> => new MockActivityEnvironment().run((x: PipelineSpecInput) => acts.ingest(x), s);

void test('a valid dataset passes both steps (the baseline every case below breaks)', async () => {
  const out = (await ingestThenPreprocess(spec(await dataset()))) as { counts: { train: number } };
  assert.ok(out.counts.train > 0);
});

void test('bad recordings fail ingest with InvalidDataset naming the object', async () => {
  const good = recordingBytes({ rows: ROWS, startNs: T0 + 2_000_000_000n });
  const nan = new Float32Array(ROWS).fill(NaN, 0, 500);
  const ts = BigInt64Array.from({ length: ROWS }, (_, i) => T0 + 3_000_000_000n + BigInt(i) * 83333n);
  ts[10] = ts[5]!;
  const cases: [string, Uint8Array | string, RegExp][] = [
    ['cut.arrow', good.subarray(0, good.length - 64), /cut\.arrow: truncated Arrow IPC file/],
    ['notes.arrow', 'timestamp,de_accel\n', /notes\.arrow: not Arrow IPC data/],
    ['empty.arrow', new Uint8Array(0), /empty\.arrow: empty object \(0 bytes\)/],
    ['nots.arrow', recordingBytes({ omitTimestamp: true }), /nots\.arrow: no "timestamp" column/],
    ['nofe.arrow', recordingBytes({ channels: { de_accel: new Float32Array(ROWS) } }), /nofe\.arrow: missing channel column "fe_accel"/],
    ['strfe.arrow', recordingBytes({ channels: { de_accel: new Float32Array(ROWS) }, stringChannel: 'fe_accel' }), /strfe\.arrow: channel "fe_accel" has type Utf8/],
    ['nan.arrow', recordingBytes({ channels: { de_accel: nan, fe_accel: new Float32Array(ROWS) } }), /nan\.arrow: channel "de_accel" has 500 non-finite/],
    ['back.arrow', recordingBytes({ timestamps: ts }), /back\.arrow: timestamps are not strictly increasing at row 10/],
    ['fast.arrow', recordingBytes({ rateHz: 20000, startNs: T0 + 4_000_000_000n }), /fast\.arrow: sample rate 20000 Hz differs from the spec's 12000 Hz and the spec does not ask for resampling/],
  ];
  for (const [name, body, message] of cases) {
    const prefix = await dataset({ [name]: body });
    await expectFailure(ingest(spec(prefix)), 'InvalidDataset', message);
  }
});

void test('an object above the size limit fails before it is read', async () => {
  const prefix = await dataset();
  await expectFailure(ingest(spec(prefix, { limits: { maxObjectBytes: 1000 } })), 'InvalidDataset', /r0\.arrow: object is \d+ bytes, above the configured limit of 1000 bytes/);
});

void test('onInvalidRecording: skip leaves bad objects out and reports them', async () => {
  const prefix = await dataset({ 'cut.arrow': 'ARROW1 nope' });
  const out = await ingest(spec(prefix, { limits: { onInvalidRecording: 'skip' } }));
  assert.equal(out.objects, 2);
  assert.deepEqual(out.skipped.map((s) => s.key), [`${prefix}cut.arrow`]);
  assert.match(out.skipped[0]!.problem, /truncated/);
});

void test('label problems fail preprocess with InvalidLabels or InvalidDataset', async () => {
  const prefix = await dataset();
  await expectFailure(ingestThenPreprocess(spec(prefix, { labels: { kind: 'ranges', key: 'labels/conflict.arrow' } })), 'InvalidLabels', /labels\/conflict\.arrow: conflicting label ranges for asset a/);
  await expectFailure(ingestThenPreprocess(spec(prefix, { labels: { kind: 'ranges', key: 'labels/unknown.arrow' } })), 'InvalidLabels', /r1\.arrow: label "zzz" is not one of the spec's classes/);
  await expectFailure(ingestThenPreprocess(spec(prefix, { labels: { kind: 'ranges', key: 'labels/single.arrow' } })), 'InvalidDataset', /training windows cover 1 class\(es\) \(x\)/);
  await expectFailure(ingestThenPreprocess(spec(prefix, { labels: { kind: 'ranges', key: 'labels/elsewhere.arrow' } })), 'InvalidDataset', /no labelled windows of 256 samples in 2 recording\(s\)/);
  await expectFailure(ingestThenPreprocess(spec(prefix, { labels: { kind: 'ranges', key: 'labels/missing.arrow' } })), 'InvalidLabels', /labels\/missing\.arrow: label table not found/);
});

void test('recordings too short to split fail preprocess', async () => {
  const prefix = await dataset({}, 600);
  await expectFailure(ingestThenPreprocess(spec(prefix)), 'InvalidDataset', /has 1 training and 0 test windows: too few windows to split/);
});

void test('bad specs fail with InvalidSpec naming the field: wrong types, path traversal', async () => {
  await expectFailure(ingest({ ...spec('recordings/x/'), assetId: '../../etc' }), 'InvalidSpec', /assetId: must be 1-63 chars/);
  await expectFailure(ingest({ ...spec('../other-tenant/'), assetId: 'a' }), 'InvalidSpec', /source\.prefixes\.0: must be a relative key prefix/);
  await expectFailure(ingest({ ...spec('recordings/x/'), window: { length: '1024', hop: -1 } } as unknown as PipelineSpecInput), 'InvalidSpec', /window\.length: .*window\.hop:/);
});
