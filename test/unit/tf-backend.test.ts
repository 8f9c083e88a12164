// Smoke test for lib/tf/backend.ts: whatever backend this machine has, loadTf() returns a working
// tfjs namespace and describeTfBackend() reports it consistently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTfBackend, formatTfBackend, loadTf, TfBackendChoice } from '../../lib/tf/backend';

void test('rejects an invalid PDM_TF_BACKEND', () => {
  assert.equal(TfBackendChoice.safeParse('tpu').success, false);
  assert.deepEqual(TfBackendChoice.options, ['auto', 'gpu', 'cpu', 'js']);
});

void test('loadTf returns a working namespace and describes it', () => {
  const tf = loadTf();
  const sum = tf.tidy(() => tf.tensor1d([1, 2, 3]).square().sum().dataSync()[0]);
  assert.equal(sum, 14);
  const info = describeTfBackend();
  assert.equal(info.tfBackend, tf.getBackend());
  if (info.package === '@tensorflow/tfjs') {
    assert.equal(info.tfBackend, 'cpu');
  } else {
    // The native packages must register on the same deduped tfjs-core instance.
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.match(info.libtensorflowVersion ?? '', /^2\./);
  }
  assert.match(formatTfBackend(info), /backend /);
  assert.equal(loadTf(), tf, 'loadTf is memoized per process');
});
