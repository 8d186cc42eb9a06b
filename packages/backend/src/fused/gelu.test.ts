/**
 * bias + GELU against a float64 reference over a wide input range, forward and both gradients, through each
 * path: the wasm SIMD module (D a multiple of 4), wasm's JS passes (other D), the cpu host kernel, WGSL.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { setFusedKernels, useFused } from './host-kernel.js';
import { geluWasmKernels } from './gelu-wasm.js';
import { FUSED_KERNELS } from './names.js';
import { biasGelu } from './ops.js';

afterAll(() => setFusedKernels(true));

const K = Math.sqrt(2 / Math.PI);
const gelu64 = (u: number) => 0.5 * u * (1 + Math.tanh(K * (u + 0.044715 * u ** 3)));
const dgelu64 = (u: number) => {
  const t = Math.tanh(K * (u + 0.044715 * u ** 3));
  return 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * K * (1 + 3 * 0.044715 * u * u);
};

/** On a 2⁻¹² grid: x + b is then exact in float32 and float64 alike, so only the GELU itself is compared. */
const grid = (v: number) => Math.round(v * 4096) / 4096;

/** (rows, d) inputs spanning the interesting range: large negative (σ → 0), around 0, large positive. */
function inputs(rows: number, d: number): { x: number[]; b: number[]; dy: number[] } {
  const n = rows * d;
  const x = Array.from({ length: n }, (_, i) => grid(-30 + (60 * i) / (n - 1))); // −30 … 30
  const b = Array.from({ length: d }, (_, j) => grid(0.25 * Math.sin(j + 1)));
  const dy = Array.from({ length: n }, (_, i) => Math.cos(0.37 * i));
  return { x, b, dy };
}

/** Float64 forward, dx and db. */
function reference(x: number[], b: number[], dy: number[]): { y: number[]; dx: number[]; db: number[] } {
  const d = b.length;
  const u = x.map((v, i) => v + b[i % d]!);
  const dx = u.map((v, i) => dy[i]! * dgelu64(v));
  const db = b.map((_, j) => dx.filter((_, i) => i % d === j).reduce((s, v) => s + v, 0));
  return { y: u.map(gelu64), dx, db };
}

/** Worst relative error, absolute below 1e-6 (GELU's tail values are far below float32's relevance there). */
function worstRel(got: ArrayLike<number>, want: number[]): number {
  let w = 0;
  for (let i = 0; i < want.length; i++)
    w = Math.max(w, Math.abs(got[i]! - want[i]!) / Math.max(1e-6, Math.abs(want[i]!)));
  return w;
}

describe.each(testBackends())('biasGelu on %s against a float64 reference', (backend) => {
  it.each([
    { rows: 37, d: 8, path: 'D % 4 = 0 (SIMD module on wasm)' },
    { rows: 41, d: 6, path: 'D % 4 ≠ 0 (JS passes on wasm)' },
  ])('$path: forward, dx and db over u ∈ [−30, 30]', async ({ rows, d }) => {
    expect(await useBackend(backend)).not.toBeNull();
    setFusedKernels(true);
    if (backend === 'cpu' || backend === 'wasm' || backend === 'webgpu')
      expect(useFused(FUSED_KERNELS.biasGelu)).toBe(true);
    if (backend === 'wasm') {
      const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
      expect(geluWasmKernels(memory)).not.toBeNull(); // the module assembles and instantiates on this heap
    }
    const { x, b, dy } = inputs(rows, d);
    const want = reference(x, b, dy);
    await expectNoLeaks(async () => {
      const outs = tf.tidy(() => {
        const xt = tf.tensor2d(x, [rows, d]);
        const bt = tf.tensor1d(b);
        const dyt = tf.tensor2d(dy, [rows, d]);
        const [dx, db] = tf.grads((a: tf.Tensor, c: tf.Tensor) => biasGelu(a, c))([xt, bt], dyt);
        return [biasGelu(xt, bt), dx!, db!];
      });
      const [y, dx, db] = await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
      // float32 evaluation of z = 2a costs ~|z|·2⁻²⁴ in σ(z): ~1e-6 relative at |z| ≈ 10
      expect(worstRel(y!, want.y), 'forward').toBeLessThan(2e-6);
      expect(worstRel(dx!, want.dx), 'dx').toBeLessThan(4e-6);
      expect(worstRel(db!, want.db), 'db').toBeLessThan(4e-5); // sums of 37–41 terms of both signs
    });
  });

  it('a NaN input gives NaN at its own position only, and ±large inputs stay finite', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    const x = [NaN, 1, -200, 200, 0, -1e-3, 1e-3, 50];
    const y = await tf.tidy(() => biasGelu(tf.tensor2d(x, [2, 4]), tf.zeros([4]))).data();
    expect(Number.isNaN(y[0])).toBe(true);
    expect(y[1]).toBeCloseTo(gelu64(1), 6);
    expect(Math.abs(y[2]!)).toBeLessThan(1e-30); // σ underflows (the SIMD path clamps at e^88: ~1e-36)
    expect(y[3]).toBeCloseTo(200, 4);
    expect(Math.abs(y[4]!)).toBe(0);
    expect(y[5]).toBeCloseTo(gelu64(-1e-3), 9);
    expect(y[6]).toBeCloseTo(gelu64(1e-3), 9);
    expect(y[7]).toBeCloseTo(50, 4);
  });
});
