/**
 * AdamW with a device-side control tensor (adamwUpdateControlled): ok = 1 equals the scalar-attribute kernel and a
 * float64 hand computation; ok = 0 returns p, m, v bit-exactly even for a NaN/Inf gradient; fused = composition.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { setFusedKernels } from './host-kernel.js';
import { adamwUpdate, adamwUpdateControlled, type AdamwControlledStep } from './ops.js';
import { adamwWasm } from './optim-wasm.js';

const rng = new Rng(5);
const arr = (n: number, scale = 1) => Array.from(rng.normalArray(n), (v) => v * scale);
const n = 300; // more than one workgroup of 64 on webgpu
const P0 = arr(n);
const M0 = arr(n, 0.1);
const V0 = arr(n, 0.1).map((x) => x * x);
const G0 = arr(n);
const s: AdamwControlledStep = { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 3e-4 };

/** Run one update and read [p, m, v] back (float32 arrays). */
async function update(
  g: number[],
  ctl: number[] | null,
  step: AdamwControlledStep & { bc1?: number; bc2?: number; gradScale?: number } = s,
): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const [p, m, v, gt] = [P0, M0, V0, g].map((x) => tf.tensor1d(x));
    return ctl
      ? adamwUpdateControlled(p!, m!, v!, gt!, tf.tensor1d(ctl), step)
      : adamwUpdate(p!, m!, v!, gt!, { ...step, bc1: step.bc1!, bc2: step.bc2!, gradScale: step.gradScale! });
  });
  const vals = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(outs);
  return vals;
}

function worstRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!) / (1e-3 + Math.abs(b[i]!)));
  return w;
}

/** float64 AdamW for one element (Loshchilov & Hutter 2019, Alg. 2). */
function reference(i: number, gradScale: number, t: number, beta1 = s.beta1): [number, number, number] {
  const g = G0[i]! * gradScale;
  const m = beta1 * M0[i]! + (1 - beta1) * g;
  const v = s.beta2 * V0[i]! + (1 - s.beta2) * g * g;
  const p = P0[i]! * (1 - s.decay) - (s.lr * (m / (1 - beta1 ** t))) / (Math.sqrt(v / (1 - s.beta2 ** t)) + s.eps);
  return [p, m, v];
}

afterAll(() => setFusedKernels(true));

describe.each(testBackends())('adamwUpdateControlled on %s', (backend) => {
  it.each([true, false])('fused %s: ok = 1 equals the attribute kernel and float64', async (fused) => {
    expect(await useBackend(backend)).not.toBeNull();
    setFusedKernels(fused);
    await expectNoLeaks(async () => {
      for (const t of [1, 3, 200]) {
        const got = await update(G0, [0.7, 1, t]);
        const attr = await update(G0, null, { ...s, bc1: 1 - 0.9 ** t, bc2: 1 - 0.99 ** t, gradScale: 0.7 });
        got.forEach((x, k) => expect(worstRel(x, attr[k]!), `output ${k}, t ${t}`).toBeLessThan(2e-5));
        const ref = P0.map((_, i) => reference(i, 0.7, t));
        got.forEach((x, k) =>
          expect(
            worstRel(
              x,
              ref.map((r) => r[k]!),
            ),
            `float64 output ${k}, t ${t}`,
          ).toBeLessThan(2e-5),
        );
      }
      // β1 = 0: 1 − β1^t = 1 exactly (no 0·∞ in −expm1(t·ln β))
      const zero = await update(G0, [1, 1, 2], { ...s, beta1: 0 });
      expect(
        worstRel(
          zero[0]!,
          P0.map((_, i) => reference(i, 1, 2, 0)[0]),
        ),
      ).toBeLessThan(2e-5);
    });
    setFusedKernels(true);
  });

  it.each([true, false])('fused %s: ok = 0 returns p, m, v bit-exactly, even for a NaN/Inf gradient', async (fused) => {
    expect(await useBackend(backend)).not.toBeNull();
    setFusedKernels(fused);
    await expectNoLeaks(async () => {
      const poisoned = G0.map((x, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? Infinity : x));
      for (const g of [G0, poisoned]) {
        const got = await update(g, [Number.NaN, 0, 0]);
        [P0, M0, V0].forEach((x, k) =>
          expect(Array.from(got[k]!), `output ${k}`).toEqual(Array.from(Float32Array.from(x))),
        );
      }
      // ok = 1 with the poisoned gradient does propagate it (the mask is what stops it)
      const leaked = await update(poisoned, [1, 1, 1]);
      expect(Number.isNaN(leaked[0]![0])).toBe(true);
    });
    setFusedKernels(true);
  });
});

describe('adamwUpdateControlled argument checks', () => {
  it('names a control tensor of the wrong shape or dtype', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const z = tf.zeros([2]);
      expect(() => adamwUpdateControlled(z, z, z, z, tf.zeros([2]), s)).toThrow(
        /ctl must be a float32 \[3\] tensor \[gradScale, ok, t\], got float32 \[2\]/,
      );
      expect(() => adamwUpdateControlled(z, z, z, z, tf.zeros([3], 'int32'), s)).toThrow(/got int32 \[3\]/);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('adamwUpdate on wasm: the SIMD pass and its scalar tail', () => {
  it('n = 303 (75 SIMD quads + 3 tail elements) equals float64 AdamW element by element', async () => {
    expect(await useBackend('wasm')).not.toBeNull();
    const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
    expect(adamwWasm(memory)).not.toBeNull(); // the module assembles and instantiates on this heap
    const k = 303;
    const r = new Rng(8);
    const [p, m, g] = [r.normalArray(k), r.normalArray(k), r.normalArray(k)].map((a) => Array.from(a));
    const v = Array.from(r.normalArray(k), (x) => 0.01 * x * x);
    const st = { ...s, bc1: 1 - 0.9 ** 4, bc2: 1 - 0.99 ** 4, gradScale: 0.8 };
    await expectNoLeaks(async () => {
      const outs = tf.tidy(() => adamwUpdate(tf.tensor1d(p!), tf.tensor1d(m!), tf.tensor1d(v), tf.tensor1d(g!), st));
      const [po, mo, vo] = await Promise.all(outs.map((t) => t.data()));
      tf.dispose(outs);
      for (let i = 0; i < k; i++) {
        const gi = g![i]! * st.gradScale;
        const mi = st.beta1 * m![i]! + (1 - st.beta1) * gi;
        const vi = st.beta2 * v[i]! + (1 - st.beta2) * gi * gi;
        const pi = p![i]! * (1 - st.decay) - (st.lr * (mi / st.bc1)) / (Math.sqrt(vi / st.bc2) + st.eps);
        expect(Math.abs(mo![i]! - mi), `m ${i}`).toBeLessThan(1e-6 * (1 + Math.abs(mi)));
        expect(Math.abs(vo![i]! - vi), `v ${i}`).toBeLessThan(1e-6 * (1e-3 + Math.abs(vi)));
        expect(Math.abs(po![i]! - pi), `p ${i}`).toBeLessThan(1e-6 * (1 + Math.abs(pi)));
      }
    });
  });
});
