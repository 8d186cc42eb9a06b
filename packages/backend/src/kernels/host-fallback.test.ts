import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { hostFallbackKernels } from '../init-attempts.js';
import { expectNoLeaks, useBackend } from '../testing/index.js';

async function run(fn: () => tf.Tensor | tf.Tensor[]): Promise<number[][]> {
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const vals = await Promise.all(list.map(async (t) => Array.from(await t.data())));
  tf.dispose(list);
  return vals;
}

describe('host fallback kernels on wasm', () => {
  it('fills the kernels wasm lacks, including the gradients of gather and conv2d', async () => {
    expect(await useBackend('wasm')).not.toBeNull();
    const filled = hostFallbackKernels('wasm');
    expect(filled).toContain('Conv2DBackpropFilter');
    expect(filled).toContain('MaxPoolGrad'); // replaced: wasm's own is wrong
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined(); // the O(rows·width) host kernel
  });

  it('agrees exactly with the cpu kernels (segment sum: hand-computed; conv filter gradient: cpu)', async () => {
    const seg = () =>
      tf.unsortedSegmentSum(
        tf.tensor2d([1.5, -2, 3, 4, 5, 6, 7, -8, 9, 10, 11, 12], [4, 3]),
        tf.tensor1d([1, 0, 1, 3], 'int32'),
        4,
      );
    const convGrad = () =>
      tf.grads((x: tf.Tensor, w: tf.Tensor) =>
        tf
          .conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')
          .square()
          .sum(),
      )([
        tf.tensor4d(
          Array.from({ length: 2 * 5 * 5 * 2 }, (_, i) => Math.sin(i)),
          [2, 5, 5, 2],
        ),
        tf.tensor4d(
          Array.from({ length: 3 * 3 * 2 * 3 }, (_, i) => Math.cos(i)),
          [3, 3, 2, 3],
        ),
      ]);
    await useBackend('cpu');
    const refConv = await run(convGrad);
    await useBackend('wasm');
    await expectNoLeaks(async () => {
      // out[s] = Σ_{i: id_i = s} x_i, written out by hand
      expect((await run(seg))[0]).toEqual([4, 5, 6, 8.5, -10, 12, 0, 0, 0, 10, 11, 12]);
      const got = await run(convGrad);
      for (let k = 0; k < refConv.length; k++) {
        for (let i = 0; i < refConv[k]!.length; i++) expect(got[k]![i]).toBeCloseTo(refConv[k]![i]!, 3);
      }
    });
  });
});
