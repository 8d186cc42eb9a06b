import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { mm2d } from './matmul.js';

/** Float64 reference of x @ w and the gradients of Σ (x @ w)·dy: dx = dy wᵀ, dw = xᵀ dy. */
function reference(x: number[], w: number[], dy: number[], m: number, k: number, n: number) {
  const y = new Array<number>(m * n).fill(0);
  const dx = new Array<number>(m * k).fill(0);
  const dw = new Array<number>(k * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++)
      for (let j = 0; j < n; j++) {
        y[i * n + j]! += x[i * k + p]! * w[p * n + j]!;
        dx[i * k + p]! += dy[i * n + j]! * w[p * n + j]!;
        dw[p * n + j]! += x[i * k + p]! * dy[i * n + j]!;
      }
  return { y, dx, dw };
}

describe.each(testBackends())('mm2d on %s', (backend) => {
  // N > K takes the transposed weight-gradient route on wasm ((dyᵀ x)ᵀ); N < K the direct one.
  it.each([
    { m: 33, k: 8, n: 24 },
    { m: 33, k: 24, n: 8 },
  ])('(M $m, K $k) @ (K, N $n): value, dx and dw equal a float64 loop', async ({ m, k, n }) => {
    expect(await useBackend(backend)).not.toBeNull();
    const rng = new Rng(9);
    const [x, w, dy] = [rng.normalArray(m * k), rng.normalArray(k * n), rng.normalArray(m * n)].map((a) =>
      Array.from(a),
    );
    const want = reference(x!, w!, dy!, m, k, n);
    await expectNoLeaks(async () => {
      const outs = tf.tidy(() => {
        const [xt, wt] = [tf.tensor2d(x!, [m, k]), tf.tensor2d(w!, [k, n])];
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => mm2d(a as tf.Tensor2D, b as tf.Tensor2D));
        return [mm2d(xt, wt), ...g([xt, wt], tf.tensor2d(dy!, [m, n]))];
      });
      const [y, dx, dw] = await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
      for (const [got, ref, what] of [
        [y!, want.y, 'value'],
        [dx!, want.dx, 'dx'],
        [dw!, want.dw, 'dw'],
      ] as const) {
        expect(got.length, what).toBe(ref.length);
        const worst = Math.max(...ref.map((r, i) => Math.abs(got[i]! - r) / (1 + Math.abs(r))));
        expect(worst, what).toBeLessThan(1e-5);
      }
    });
  });
});
