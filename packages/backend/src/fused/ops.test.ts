import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { setFusedKernels, useFused } from './host-kernel.js';
import {
  adamwUpdate,
  biasGelu,
  FUSED_KERNELS,
  layerNormFused,
  softmaxCrossEntropy,
  squaredNorms,
  type AdamwStep,
} from './ops.js';

const rng = new Rng(11);
const arr = (n: number, scale = 1) => Array.from(rng.normalArray(n), (v) => v * scale);
const X = arr(6 * 5 * 16, 2);
const B = arr(16);
const G = arr(16).map((v) => 1 + 0.3 * v);
const W = arr(6 * 5 * 16); // weights of the scalar objective Σ out·w
const L = arr(7 * 9, 3);
const T = [0, 8, 3, 3, 5, 1, 7];
const Wce = arr(7);

interface Result {
  out: number[];
  grads: number[][];
}

/** Forward value and the gradients of Σ out·w with respect to the float inputs. */
async function evalOp(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[], w: number[]): Promise<Result> {
  const res = tf.tidy(() => {
    const xs = inputs();
    const f = (...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a), tf.tensor(w, fn(...a).shape)));
    const floats = xs
      .map((x, i) => [x, i] as const)
      .filter(([x]) => x.dtype === 'float32')
      .map(([, i]) => i);
    const g = tf.grads((...fl: tf.Tensor[]) => {
      const all = [...xs];
      floats.forEach((idx, k) => (all[idx] = fl[k]!));
      return f(...all) as tf.Scalar;
    })(floats.map((i) => xs[i]!));
    return [fn(...xs), ...g];
  });
  const vals = await Promise.all(res.map(async (t) => Array.from(await t.data())));
  tf.dispose(res);
  return { out: vals[0]!, grads: vals.slice(1) };
}

const cases: Array<{
  name: string;
  kernel: string;
  fn: (...xs: tf.Tensor[]) => tf.Tensor;
  inputs: () => tf.Tensor[];
  w: number[];
}> = [
  {
    name: 'biasGelu',
    kernel: FUSED_KERNELS.biasGelu,
    fn: (x, b) => biasGelu(x!, b!),
    inputs: () => [tf.tensor3d(X, [6, 5, 16]), tf.tensor1d(B)],
    w: W,
  },
  {
    name: 'layerNormFused',
    kernel: FUSED_KERNELS.layerNorm,
    fn: (x, g, b) => layerNormFused(x!, g!, b!, 1e-5),
    inputs: () => [tf.tensor3d(X, [6, 5, 16]), tf.tensor1d(G), tf.tensor1d(B)],
    w: W,
  },
  {
    name: 'softmaxCrossEntropy',
    kernel: FUSED_KERNELS.crossEntropy,
    fn: (l, t) => softmaxCrossEntropy(l!, t!),
    inputs: () => [tf.tensor2d(L, [7, 9]), tf.tensor1d(T, 'int32')],
    w: Wce,
  },
];

function expectClose(a: number[], b: number[], tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  expect(worst, what).toBeLessThan(tol);
}

afterAll(() => setFusedKernels(true));

describe.each(testBackends())('fused ops on %s: forward and gradient equal the plain composition', (backend) => {
  it.each(cases)('$name', async ({ kernel, fn, inputs, w }) => {
    expect(await useBackend(backend)).not.toBeNull();
    setFusedKernels(false);
    const ref = await evalOp(fn, inputs, w);
    setFusedKernels(true);
    // cpu and wasm have the host kernel; other backends run the composition (then the check is trivial).
    if (backend === 'cpu' || backend === 'wasm') expect(useFused(kernel)).toBe(true);
    await expectNoLeaks(async () => {
      const got = await evalOp(fn, inputs, w);
      expectClose(got.out, ref.out, 2e-5, 'forward');
      expect(got.grads.length).toBe(ref.grads.length);
      got.grads.forEach((g, i) => expectClose(g, ref.grads[i]!, 5e-5, `gradient ${i}`));
    });
  });

  it('adamwUpdate equals the per-op AdamW composition (with decay, clipping scale, bias correction)', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    const s: AdamwStep = {
      lr: 3e-3,
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      decay: 3e-3 * 0.1,
      bc1: 1 - 0.9 ** 3,
      bc2: 1 - 0.99 ** 3,
      gradScale: 0.7,
    };
    const p = arr(40);
    const m = arr(40, 0.1);
    const v = arr(40, 0.1).map(Math.abs);
    const g = arr(40);
    const run = async () => {
      const outs = tf.tidy(() => adamwUpdate(tf.tensor1d(p), tf.tensor1d(m), tf.tensor1d(v), tf.tensor1d(g), s));
      const vals = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
      tf.dispose(outs);
      return vals;
    };
    setFusedKernels(false);
    const ref = await run();
    setFusedKernels(true);
    const got = await run();
    // Hand check of one element: m' = β1 m + (1−β1) g s; v' = β2 v + (1−β2)(g s)²; p' = p(1−decay) − lr m̂/(√v̂ + ε)
    const gs = g[0]! * s.gradScale;
    const m1 = 0.9 * m[0]! + 0.1 * gs;
    const v1 = 0.99 * v[0]! + 0.01 * gs * gs;
    const p1 = p[0]! * (1 - s.decay) - (s.lr * (m1 / s.bc1)) / (Math.sqrt(v1 / s.bc2) + s.eps);
    expect(got[0]![0]).toBeCloseTo(p1, 5);
    expect(got[1]![0]).toBeCloseTo(m1, 6);
    expect(got[2]![0]).toBeCloseTo(v1, 6);
    got.forEach((x, i) => expectClose(x, ref[i]!, 1e-6, `adamw output ${i}`));
  });
});

describe.each(testBackends())('squaredNorms on %s', (backend) => {
  it('equals Σ x² per tensor, by hand', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      for (const on of [false, true]) {
        setFusedKernels(on);
        // 10 tensors (two programs of ≤ 7 on webgpu), one of them longer than a workgroup's 256 threads
        const long = Array.from({ length: 1000 }, (_, i) => Math.sin(i));
        const ts: tf.Tensor[] = [
          tf.tensor1d([1, 2, -2]),
          tf.tensor2d([
            [0.5, 0],
            [0, -1.5],
          ]),
          tf.scalar(3),
          tf.tensor1d(long),
        ];
        for (let i = 0; i < 6; i++) ts.push(tf.fill([i + 1], i + 1));
        const n = squaredNorms(ts);
        const v = Array.from(await n.data());
        tf.dispose([n, ...ts]);
        expect(v.length).toBe(10);
        expect(v[0]).toBeCloseTo(9, 6);
        expect(v[1]).toBeCloseTo(2.5, 6);
        expect(v[2]).toBeCloseTo(9, 6);
        expect(v[3]).toBeCloseTo(
          long.reduce((s, x) => s + x * x, 0),
          2,
        );
        for (let i = 0; i < 6; i++) expect(v[4 + i]).toBeCloseTo((i + 1) * (i + 1) * (i + 1), 4);
      }
    });
  });
});

describe('fused op argument checks', () => {
  it('name the bad shapes', async () => {
    await useBackend('cpu');
    expect(() => biasGelu(tf.zeros([2, 3]), tf.zeros([4]))).toThrow(/biasGelu.*\[2,3\].*\[4\]/);
    expect(() => layerNormFused(tf.zeros([2, 3]), tf.zeros([3]), tf.zeros([2]))).toThrow(/layerNormFused/);
    expect(() => softmaxCrossEntropy(tf.zeros([2, 3]), tf.zeros([3], 'int32'))).toThrow(/softmaxCrossEntropy/);
  });

  it('an out-of-range target gives a NaN loss, not a silent 0', async () => {
    for (const b of ['cpu', 'wasm'] as const) {
      await useBackend(b);
      const ce = softmaxCrossEntropy(tf.zeros([2, 3]), tf.tensor1d([1, 3], 'int32'));
      const v = await ce.data();
      ce.dispose();
      expect(v[0]).toBeCloseTo(Math.log(3), 6);
      expect(Number.isNaN(v[1])).toBe(true);
    }
  });
});
