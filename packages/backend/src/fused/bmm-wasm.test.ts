/**
 * The wasm SIMD batched product (bmm-wasm.ts) against a float64 loop, in each of its four modes, on shapes with
 * several row and column tiles; and wasm's BatchMatMul, which runs it for batched products.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, useBackend } from '../testing/index.js';
import { bmmWasm, setBmmFma, type BmmMode } from './bmm-wasm.js';

interface Heap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
  wasm: { asm: { memory: WebAssembly.Memory } };
}

/** C = A·B per batch entry in float64; `keep(i, k)` zeroes A outside a triangle first. */
function reference(a: Float32Array, b: Float32Array, [bt, m, k, n]: number[], keep: (i: number, p: number) => boolean) {
  const c = new Float64Array(bt! * m! * n!);
  for (let e = 0; e < bt!; e++)
    for (let i = 0; i < m!; i++)
      for (let p = 0; p < k!; p++) {
        if (!keep(i, p)) continue;
        const av = a[(e * m! + i) * k! + p]!;
        for (let j = 0; j < n!; j++) c[(e * m! + i) * n! + j]! += av * b[(e * k! + p) * n! + j]!;
      }
  return c;
}

afterAll(() => setBmmFma(true));

describe.each([true, false])('bmmWasm on the wasm heap (fused multiply-adds allowed: %s)', (fma) => {
  it.each([
    { mode: 0, name: 'full', dims: [3, 12, 7, 24] },
    { mode: 0, name: 'full, K = 1', dims: [2, 4, 1, 8] },
    { mode: 1, name: 'lower output (zero tiles above the diagonal)', dims: [2, 20, 9, 24] },
    { mode: 2, name: 'lower-triangular A', dims: [2, 16, 16, 8] },
    { mode: 3, name: 'upper-triangular A', dims: [2, 16, 16, 16] },
    { mode: 0, name: 'full, K 2048: rows of A in three cache chunks', dims: [1, 40, 2048, 16] },
  ])('mode $mode ($name): equals a float64 loop', async ({ mode, dims }) => {
    expect(await useBackend('wasm')).not.toBeNull();
    setBmmFma(fma);
    const be = tf.backend() as unknown as Heap;
    const f = bmmWasm(be);
    expect(f).not.toBeNull();
    const [bt, m, k, n] = dims as [number, number, number, number];
    const rng = new Rng(4 + mode);
    const lower = (i: number, p: number) => p <= i;
    const keep = mode === 2 ? lower : mode === 3 ? (i: number, p: number) => p >= i : () => true;
    // A carries its triangle's zeros (the kernel skips them; the reference multiplies them)
    const a0 = rng.normalArray(bt * m * k).map((v, idx) => (keep(Math.floor(idx / k) % m, idx % k) ? v : 0));
    const b0 = rng.normalArray(bt * k * n);
    const want = reference(Float32Array.from(a0), Float32Array.from(b0), dims, keep);
    // float32 sums of K terms: rounding grows like √K (K 2048 cancels to values near 0.3 from terms near 1)
    const tol = 2e-5 * Math.max(1, Math.sqrt(k / 16));
    // every storage variant: A as (M, K) or Aᵀ (K, M), B as (K, N) or Bᵀ (N, K)
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      await expectNoLeaks(async () => {
        const c = tf.tidy(() => {
          const a = tf.tensor(a0, [bt, m, k]);
          const b = tf.tensor(b0, [bt, k, n]);
          const as = ta ? tf.transpose(a, [0, 2, 1]) : a;
          const bs = tb ? tf.transpose(b, [0, 2, 1]) : b;
          return tf.engine().makeTensorFromTensorInfo(f!(as, bs, [bt, m, n], mode as BmmMode, ta, tb));
        });
        const got = await c.data();
        c.dispose();
        let bad = 0;
        for (let e = 0; e < bt; e++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              const idx = (e * m + i) * n + j;
              // mode 1: a tile whose first column is ≥ its first row + 4 is all zeros; elsewhere the product
              const skipped = mode === 1 && Math.floor(j / 8) * 8 >= Math.floor(i / 4) * 4 + 4;
              const w = skipped ? 0 : want[idx]!;
              if (Math.abs(got[idx]! - w) > tol * (1 + Math.abs(w))) bad++;
            }
        expect(bad, `ta ${ta}, tb ${tb}`).toBe(0);
      });
    }
  });

  it("wasm's BatchMatMul runs it for (B, H, M, K) @ (B, H, K, N) and (M, K) @ (K, N), equal to the cpu backend", async () => {
    const rng = new Rng(12);
    const a0 = rng.normalArray(2 * 3 * 16 * 20);
    const b0 = rng.normalArray(2 * 3 * 20 * 24);
    const run = async () => {
      const cs = tf.tidy(() => [
        tf.matMul(tf.tensor4d(a0, [2, 3, 16, 20]), tf.tensor4d(b0, [2, 3, 20, 24])),
        tf.matMul(tf.tensor2d(a0.subarray(0, 96 * 20), [96, 20]), tf.tensor2d(b0.subarray(0, 20 * 24), [20, 24])),
      ]);
      const v = Float32Array.from([...(await cs[0]!.data()), ...(await cs[1]!.data())]);
      tf.dispose(cs);
      return v;
    };
    await useBackend('cpu');
    const want = await run();
    expect(await useBackend('wasm')).not.toBeNull();
    await expectNoLeaks(async () => {
      const got = await run();
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-4);
    });
  });
});

describe('the fused multiply-add module', () => {
  it('is used where the engine has relaxed SIMD (turned on by initBackend on Node 20), and ALTAR_WASM_FMA=0 turns it off', async () => {
    expect(await useBackend('wasm')).not.toBeNull();
    expect(setBmmFma(true)).toBe(true); // Node 20 + the V8 flag set at wasm init, or an engine that ships it
    process.env['ALTAR_WASM_FMA'] = '0';
    try {
      setBmmFma(false); // forget the decision, so that the next one reads the environment again
      expect(setBmmFma(true)).toBe(false);
    } finally {
      delete process.env['ALTAR_WASM_FMA'];
      setBmmFma(false);
    }
    expect(setBmmFma(true)).toBe(true);
  });
});
