import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineSpec, parsePipelineSpecText } from '../../lib/spec/pipeline-spec';
import { InvalidSpecError } from '../../lib/errors';
import { classificationMetrics } from '../../lib/model/metrics';
import { applyGates } from '../../lib/report/gates';
import { canonicalJson, stepHash } from '../../lib/hash';

const SPECS = join(__dirname, '..', '..', '..', 'specs');

void test('every shipped spec validates, with documented defaults filled in', () => {
  for (const f of readdirSync(SPECS)) {
    const spec = parsePipelineSpecText(readFileSync(join(SPECS, f), 'utf8'), f);
    assert.ok(spec.classes.length >= 2, f);
    assert.equal(spec.split.train, 0.7);
    assert.equal(spec.training.batchSize, 64);
  }
});

void test('a spec with wrong types names each bad field', () => {
  assert.throws(
    () => parsePipelineSpec({ assetId: '../etc', source: { prefixes: ['a/../../b'] }, channels: [], sampleRateHz: 'fast', window: { length: 8, hop: 1 }, classes: ['a'], labels: { kind: 'metadata' } }, 'spec.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof InvalidSpecError);
      for (const field of ['assetId', 'source.prefixes.0', 'channels', 'sampleRateHz', 'window.length', 'classes']) assert.match(err.message, new RegExp(`${field.replace('.', '\\.')}:`));
      assert.match(err.message, /^spec\.yaml: /);
      return true;
    },
  );
});

void test('metrics: accuracy, per-class recall/precision, macro-F1 over present classes, confusion', () => {
  const m = classificationMetrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ['a', 'b', 'c']);
  assert.equal(m.accuracy, 3 / 5);
  assert.deepEqual(m.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
  assert.equal(m.perClass[1]!.precision, 2 / 3);
  assert.equal(m.perClass[1]!.recall, 1);
  assert.equal(m.perClass[2]!.f1, 0);
  const f1a = 0.5;
  const f1b = (2 * (2 / 3) * 1) / (2 / 3 + 1);
  assert.ok(Math.abs(m.macroF1 - (f1a + f1b + 0) / 3) < 1e-12);
});

void test('gates: floors, regression tolerance against the champion, class recall', () => {
  const good = classificationMetrics([0, 1, 0, 1], [0, 1, 0, 1], ['a', 'b']);
  const worse = classificationMetrics([0, 1, 0, 1], [0, 1, 0, 0], ['a', 'b']);
  const gates = { minAccuracy: 0.7, minMacroF1: 0, maxRegression: 0.01, minClassRecall: 0.6 };
  assert.equal(applyGates(gates, good, worse).passed, true);
  const r = applyGates(gates, worse, good);
  assert.equal(r.passed, false);
  assert.deepEqual(r.checks.filter((c) => !c.passed).map((c) => c.gate), ['minClassRecall', 'maxRegression']);
});

void test('step hashes ignore key order and separate steps', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ y: 1, x: 2 }] }), '{"a":[{"x":2,"y":1}],"b":1}');
  assert.equal(stepHash('s', { a: 1, b: 2 }), stepHash('s', { b: 2, a: 1 }));
  assert.notEqual(stepHash('s', { a: 1 }), stepHash('t', { a: 1 }));
});
