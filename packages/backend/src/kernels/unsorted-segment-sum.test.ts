import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../testing/index.js';
import { unsortedSegmentSumReference } from './unsorted-segment-sum.js';

describe('UnsortedSegmentSum (host kernel on wasm)', () => {
  it('reference implementation sums rows by id and drops out-of-range ids', () => {
    const out = new Float32Array(6);
    unsortedSegmentSumReference([1, 2, 3, 4, 5, 6, 7, 8], [2, 0, 2, 5], 2, 3, out);
    expect(Array.from(out)).toEqual([3, 4, 0, 0, 6, 8]);
  });

  it('wasm agrees with the cpu backend kernel', async () => {
    const x = [1.5, -2, 3, 4, 5, 6, 7, -8, 9, 10, 11, 12];
    const ids = [1, 0, 1, 3];
    const run = async () => {
      const r = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor2d(x, [4, 3]), tf.tensor1d(ids, 'int32'), 4));
      const v = Array.from(await r.data());
      r.dispose();
      return v;
    };
    await useBackend('cpu');
    const expected = await run();
    expect(await useBackend('wasm')).not.toBeNull();
    const before = tf.memory().numTensors;
    expect(await run()).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
  });
});
