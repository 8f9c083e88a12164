import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipelineSpec } from '../../lib/spec/pipeline-spec';
import { assetForObject, BucketEventSchema, createdObjects, groupByAsset, objectIdentity } from '../../lib/triggers/events';
import { resolveScheduleOptions, ScheduleOptionsError } from '../../lib/triggers/schedules';
import { describeTrigger } from '../../cli/trigger-info';

const base = {
  channels: [{ name: 'a' }],
  sampleRateHz: 1000,
  window: { length: 64, hop: 32 },
  classes: ['x', 'y'],
  labels: { kind: 'metadata' },
  backbone: 'registry:fleet@production',
};
const spec = (assetId: string, prefixes: string[], extra: object = {}) => parsePipelineSpec({ ...base, assetId, source: { prefixes }, ...extra });

const event = (key: string, eventName = 's3:ObjectCreated:Put', bucket = 'pdm') => ({
  EventName: eventName,
  Key: `${bucket}/${key}`,
  Records: [{ eventName, eventTime: '2026-01-01T00:00:00.000Z', s3: { bucket: { name: bucket }, object: { key, size: 10, eTag: '"abc"' } } }],
});

void test('trigger section: documented defaults, durations validated', () => {
  const s = spec('a', ['recordings/a/']);
  assert.deepEqual(s.trigger.dataArrival, { enabled: true, quietPeriod: '5m', minNewObjects: 0, minNewBytes: 0, maxWait: '1h' });
  assert.deepEqual(s.trigger.poll, { every: '5m', lookback: '15m' });
  assert.equal(s.trigger.schedule, undefined);
  const t = spec('a', ['recordings/a/'], { trigger: { dataArrival: { quietPeriod: '2 s', minNewObjects: 3 }, schedule: { cron: '0 3 * * *' } } });
  assert.equal(t.trigger.dataArrival.quietPeriod, '2s');
  assert.equal(t.trigger.dataArrival.maxWait, '1h');
  assert.equal(t.trigger.dataArrival.minNewObjects, 3);
  assert.throws(() => spec('a', ['recordings/a/'], { trigger: { dataArrival: { quietPeriod: 'soon' } } }), /trigger\.dataArrival\.quietPeriod/);
  assert.throws(() => spec('a', ['recordings/a/'], { trigger: { schedule: { overlap: 'sometimes' } } }), /trigger\.schedule\.overlap/);
});

void test('bucket events: validated, keys URL-decoded, only created objects kept', () => {
  const parsed = BucketEventSchema.parse(event('recordings/a/my+file%2B1.arrow'));
  assert.deepEqual(createdObjects(parsed), [{ bucket: 'pdm', key: 'recordings/a/my file+1.arrow', etag: 'abc', size: 10, at: '2026-01-01T00:00:00.000Z' }]);
  assert.deepEqual(createdObjects(BucketEventSchema.parse(event('recordings/a/x.arrow', 's3:ObjectRemoved:Delete'))), []);
  assert.equal(BucketEventSchema.safeParse({ Records: [] }).success, false);
  assert.equal(BucketEventSchema.safeParse({ Records: [{ eventName: 'x', s3: { bucket: {} } }] }).success, false);
  assert.equal(BucketEventSchema.safeParse('hello').success, false);
  assert.equal(objectIdentity({ key: 'k', etag: '"e"' }), 'k#e');
  assert.equal(objectIdentity({ key: 'k' }), 'k');
});

void test('object keys map to the asset with the longest matching prefix, in the right bucket', () => {
  const specs = [spec('a', ['recordings/a/']), spec('ab', ['recordings/a/b/']), spec('other', ['recordings/o/'], { source: { bucket: 'elsewhere', prefixes: ['recordings/o/'] } }), spec('off', ['recordings/off/'], { trigger: { dataArrival: { enabled: false } } })];
  assert.equal(assetForObject(specs, 'pdm', 'recordings/a/x.arrow', 'pdm')?.assetId, 'a');
  assert.equal(assetForObject(specs, 'pdm', 'recordings/a/b/x.arrow', 'pdm')?.assetId, 'ab');
  assert.equal(assetForObject(specs, 'pdm', 'recordings/o/x.arrow', 'pdm'), null, 'wrong bucket');
  assert.equal(assetForObject(specs, 'elsewhere', 'recordings/o/x.arrow', 'pdm')?.assetId, 'other');
  assert.equal(assetForObject(specs, 'pdm', 'recordings/off/x.arrow', 'pdm'), null, 'triggers disabled');
  assert.equal(assetForObject([parsePipelineSpec({ ...base, backbone: undefined, assetId: 'fleet', source: { prefixes: ['recordings/'] } })], 'pdm', 'recordings/x', 'pdm'), null, 'pretraining specs are never retrained');
  const { byAsset, ignored } = groupByAsset(specs, [{ bucket: 'pdm', key: 'recordings/a/1' }, { bucket: 'pdm', key: 'recordings/a/2' }, { bucket: 'pdm', key: 'labels/x' }], 'pdm');
  assert.deepEqual([...byAsset.keys()], ['a']);
  assert.equal(byAsset.get('a')?.objects.length, 2);
  assert.equal(ignored.length, 1);
});

void test('schedule options: flags over spec over defaults (skip, 1h catch-up, 24h, UTC)', () => {
  const plain = spec('a', ['recordings/a/']);
  const d = resolveScheduleOptions(plain, {});
  assert.equal(d.kind, 'retrain');
  assert.equal(d.every, '24h');
  assert.equal(d.overlap, 'skip');
  assert.equal(d.catchupWindow, '1h');
  assert.equal(d.pauseOnFailure, false);
  assert.equal(d.timeZone, 'UTC');
  const withSpec = spec('a', ['recordings/a/'], { trigger: { schedule: { cron: '0 3 * * *', timeZone: 'Europe/Berlin', jitter: '10m', pauseOnFailure: true } } });
  const s = resolveScheduleOptions(withSpec, {});
  assert.deepEqual(s.cron, ['0 3 * * *']);
  assert.equal(s.timeZone, 'Europe/Berlin');
  assert.equal(s.jitter, '10m');
  assert.equal(s.pauseOnFailure, true);
  const flags = resolveScheduleOptions(withSpec, { every: '6h', pauseOnFailure: false, overlap: 'buffer_one' });
  assert.equal(flags.every, '6h');
  assert.equal(flags.cron, undefined);
  assert.equal(flags.pauseOnFailure, false);
  assert.equal(flags.overlap, 'buffer_one');
  assert.equal(resolveScheduleOptions(plain, { kind: 'poll' }).every, '5m');
  assert.throws(() => resolveScheduleOptions(plain, { timeZone: 'Mars/Olympus' }), ScheduleOptionsError);
  assert.throws(() => resolveScheduleOptions(plain, { cron: ['every day'] }), /not a cron expression/);
  assert.throws(() => resolveScheduleOptions(plain, { every: 'daily' }), /every/);
});

void test('why a run started: schedule, data arrival with keys, manual', () => {
  assert.equal(describeTrigger({ trigger: 'schedule', scheduleId: 'retrain-a' }, {}), 'schedule retrain-a');
  assert.equal(describeTrigger({}, { TemporalScheduledById: 'retrain-a' }), 'schedule retrain-a');
  assert.equal(describeTrigger({ trigger: 'manual' }, { Trigger: 'manual' }), 'manual (pdmctl)');
  assert.match(describeTrigger({ trigger: 'data-arrival', objectCount: 7, objectKeys: ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'], dataArrivalWorkflowId: 'data-arrival-a' }, {}), /^data arrival: 7 new object\(s\): k1, k2, k3, k4, k5, … \(2 more\) \(via data-arrival-a\)$/);
});
