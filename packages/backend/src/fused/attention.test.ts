import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import {
  attentionAttrs,
  attentionComposition,
  attentionFused,
  canFuseAttention,
  type AttentionFusedOptions,
} from './attention.js';
import { FUSED_KERNELS } from './names.js';
import { setFusedKernels } from './host-kernel.js';

const rng = new Rng(23);

interface Case {
  name: string;
  shape: [number, number, number, number];
  opts: AttentionFusedOptions;
  /** Spread of q and k (large: scores ~±1e3). */
  spread?: number;
}

const CASES: Case[] = [
  { name: 'causal, B·H = 6, odd N', shape: [2, 3, 7, 8], opts: { causal: true } },
  { name: 'bidirectional, dh 16', shape: [1, 2, 5, 16], opts: { causal: false } },
  { name: 'sliding W 3, N 11 (> 2W, not a multiple of W)', shape: [2, 1, 11, 8], opts: { causal: true, window: 3 } },
  { name: 'sliding W 4, N 7 (W < N ≤ 2W)', shape: [1, 2, 7, 8], opts: { causal: true, window: 4 } },
  { name: 'sliding W ≥ N (plain causal)', shape: [1, 1, 5, 8], opts: { causal: true, window: 9 } },
  { name: 'explicit scale', shape: [1, 2, 6, 8], opts: { causal: true, scale: 0.7 } },
  { name: 'causal N 70 (two 64-row WGSL tiles)', shape: [1, 2, 70, 8], opts: { causal: true } },
  { name: 'sliding W 40, N 69 (W < N ≤ 2W)', shape: [2, 1, 69, 8], opts: { causal: true, window: 40 } },
  // N and dh multiples of 8: wasm's kernel runs its SIMD products (triangular when causal)
  { name: 'causal N 24, dh 16 (SIMD products on wasm)', shape: [2, 2, 24, 16], opts: { causal: true } },
  { name: 'bidirectional N 16, dh 8 (SIMD products on wasm)', shape: [1, 3, 16, 8], opts: { causal: false } },
  { name: 'sliding W 12, N 16 (dense band, SIMD on wasm)', shape: [1, 2, 16, 8], opts: { causal: true, window: 12 } },
  { name: 'large logits (scores ~±1e3)', shape: [1, 2, 9, 16], opts: { causal: true, window: 4 }, spread: 12 },
];

interface Data {
  q: number[];
  k: number[];
  v: number[];
  w: number[];
}

const makeData = (c: Case): Data => {
  const n = c.shape.reduce((a, b) => a * b, 1);
  const s = c.spread ?? 1;
  const arr = (scale: number) => Array.from(rng.normalArray(n), (x) => x * scale);
  return { q: arr(s), k: arr(s), v: arr(1), w: arr(1) };
};

/**
 * Float64 reference with the full score matrix: o = softmax(s·Q Kᵀ + mask) V and the gradients of Σ o·w
 * (dV = Pᵀ W, dP = W Vᵀ, dS = P∘(dP − rowsum(P∘dP)), dQ = s·dS K, dK = s·dSᵀ Q).
 */
function reference(c: Case, x: Data): { out: number[]; grads: number[][] } {
  const [b, h, n, dh] = c.shape;
  const scale = c.opts.scale ?? 1 / Math.sqrt(dh);
  const win = c.opts.window ?? Infinity;
  const out = new Array<number>(x.q.length).fill(0);
  const gq = new Array<number>(x.q.length).fill(0);
  const gk = new Array<number>(x.q.length).fill(0);
  const gv = new Array<number>(x.q.length).fill(0);
  for (let bh = 0; bh < b * h; bh++) {
    const at = (i: number, d: number) => (bh * n + i) * dh + d;
    const p: number[][] = [];
    for (let i = 0; i < n; i++) {
      const row: number[] = [];
      for (let j = 0; j < n; j++) {
        const seen = !c.opts.causal || (j <= i && j > i - win);
        let s = 0;
        for (let d = 0; d < dh; d++) s += x.q[at(i, d)]! * x.k[at(j, d)]!;
        row.push(seen ? s * scale : -Infinity);
      }
      const m = Math.max(...row);
      const e = row.map((s) => Math.exp(s - m));
      const z = e.reduce((a, t) => a + t, 0);
      p.push(e.map((t) => t / z));
    }
    for (let i = 0; i < n; i++) {
      const dp: number[] = [];
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let d = 0; d < dh; d++) {
          out[at(i, d)]! += p[i]![j]! * x.v[at(j, d)]!;
          gv[at(j, d)]! += p[i]![j]! * x.w[at(i, d)]!;
          acc += x.w[at(i, d)]! * x.v[at(j, d)]!;
        }
        dp.push(acc);
      }
      const dot = dp.reduce((a, t, j) => a + t * p[i]![j]!, 0);
      for (let j = 0; j < n; j++) {
        const ds = p[i]![j]! * (dp[j]! - dot) * scale;
        for (let d = 0; d < dh; d++) {
          gq[at(i, d)]! += ds * x.k[at(j, d)]!;
          gk[at(j, d)]! += ds * x.q[at(i, d)]!;
        }
      }
    }
  }
  return { out, grads: [gq, gk, gv] };
}

async function evaluate(c: Case, x: Data): Promise<{ out: number[]; grads: number[][] }> {
  const res = tf.tidy(() => {
    const t = (a: number[]) => tf.tensor4d(a, c.shape);
    const [q, k, v, w] = [t(x.q), t(x.k), t(x.v), t(x.w)];
    const f = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
      tf.sum(tf.mul(attentionFused(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, c.opts), w)) as tf.Scalar;
    return [attentionFused(q, k, v, c.opts), ...tf.grads(f)([q, k, v])];
  });
  const vals = await Promise.all(res.map(async (t) => Array.from(await t.data())));
  tf.dispose(res);
  return { out: vals[0]!, grads: vals.slice(1) };
}

function expectClose(a: number[], b: number[], tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    expect(Number.isFinite(a[i]), `${what}[${i}] finite`).toBe(true);
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  }
  expect(worst, what).toBeLessThan(tol);
}

afterAll(() => setFusedKernels(true));

describe.each(testBackends())('attentionFused on %s', (backend) => {
  it.each(CASES)('$name: values and dq, dk, dv equal the float64 reference and the composition', async (c) => {
    expect(await useBackend(backend)).not.toBeNull();
    const x = makeData(c);
    const ref = reference(c, x);
    // Large logits: float32 scores of ~1e3 carry absolute rounding ~1e-4, so compare more loosely there.
    const tol = c.spread ? 2e-3 : 2e-5;
    for (const on of [true, false]) {
      setFusedKernels(on);
      // wasm keeps the composition (its kernel measured slower); the kernel itself is checked below.
      const [, , n, dh] = c.shape;
      const wasmFuses = !!c.opts.causal && n % 8 === 0 && dh % 8 === 0 && (!c.opts.window || n <= 2 * c.opts.window);
      const geometry = { n, causal: !!c.opts.causal, window: c.opts.window ?? 0 };
      if (on)
        expect(canFuseAttention(dh, geometry)).toBe(
          backend === 'cpu' || backend === 'webgpu' || (backend === 'wasm' && wasmFuses),
        );
      await expectNoLeaks(async () => {
        const got = await evaluate(c, x);
        const what = `${on ? 'fused' : 'composition'}`;
        expectClose(got.out, ref.out, tol, `${what} forward`);
        got.grads.forEach((g, i) => expectClose(g, ref.grads[i]!, c.spread ? 2e-2 : 1e-4, `${what} d${'qkv'[i]}`));
      });
    }
    setFusedKernels(true);
  });

  it.each(CASES)(
    '$name: the kernels themselves (forward; backward with dO = w) equal the float64 reference',
    async (c) => {
      expect(await useBackend(backend)).not.toBeNull();
      const x = makeData(c);
      const ref = reference(c, x);
      const attrs = attentionAttrs(c.opts, c.shape[3]) as unknown as NamedAttrMap;
      const tol = c.spread ? 2e-3 : 2e-5;
      await expectNoLeaks(async () => {
        const [q, k, v, dy] = [x.q, x.k, x.v, x.w].map((a) => tf.tensor4d(a, c.shape));
        const fwd = tf
          .engine()
          .runKernel(FUSED_KERNELS.attention, { q: q!, k: k!, v: v! }, attrs) as unknown as tf.Tensor[];
        const [o, lse, probs] = fwd as [tf.Tensor, tf.Tensor, tf.Tensor];
        const grads = tf
          .engine()
          .runKernel(
            FUSED_KERNELS.attentionGrad,
            { dy: dy!, q: q!, k: k!, v: v!, o, lse, probs },
            attrs,
          ) as unknown as tf.Tensor[];
        expectClose(Array.from(await o.data()), ref.out, tol, 'kernel forward');
        for (let i = 0; i < 3; i++) {
          expectClose(Array.from(await grads[i]!.data()), ref.grads[i]!, c.spread ? 2e-2 : 1e-4, `kernel d${'qkv'[i]}`);
        }
        tf.dispose([q!, k!, v!, dy!, ...fwd, ...grads]);
      });
    },
  );

  it('window 1: every row sees only its own key, so o = v, dv = w and dq = dk = 0', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    const c: Case = { name: 'w1', shape: [1, 2, 9, 8], opts: { causal: true, window: 1 } };
    const x = makeData(c);
    await expectNoLeaks(async () => {
      const got = await evaluate(c, x);
      expectClose(got.out, x.v, 1e-6, 'o');
      expectClose(got.grads[2]!, x.w, 1e-6, 'dv');
      expectClose(got.grads[0]!, new Array<number>(x.q.length).fill(0), 1e-6, 'dq');
      expectClose(got.grads[1]!, new Array<number>(x.q.length).fill(0), 1e-6, 'dk');
    });
  });

  it('rejects a window without causal, a bad window and unequal shapes, naming the value', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      const z = tf.zeros([1, 1, 4, 8]) as tf.Tensor4D;
      const y = tf.zeros([1, 1, 5, 8]) as tf.Tensor4D;
      expect(() => attentionFused(z, z, z, { causal: false, window: 2 })).toThrow(/window \(2\) needs causal/);
      expect(() => attentionFused(z, z, z, { causal: true, window: 1.5 })).toThrow(/window.*1\.5/);
      expect(() => attentionFused(z, y, z, { causal: true })).toThrow(/\[1,1,4,8\], \[1,1,5,8\]/);
      tf.dispose([z, y]);
    });
  });
});

describe.each(testBackends())('attention kernels on %s', (backend) => {
  const shape: [number, number, number, number] = [1, 2, 6, 8];
  const attrs = { causal: true, window: 0, scale: 0.5 };

  it('the forward returns o, L (B, H, N) and saved probabilities only on wasm (elsewhere nothing (N, N))', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      const [q, k, v] = [0, 1, 2].map(() => rng.normal(shape));
      const outs = tf
        .engine()
        .runKernel(FUSED_KERNELS.attention, { q: q!, k: k!, v: v! }, attrs) as unknown as tf.Tensor[];
      expect(outs.map((t) => t.shape)).toEqual([shape, [1, 2, 6], backend === 'wasm' ? [1, 2, 6, 6] : [0]]);
      // L is the row log-sum-exp of the scaled scores: row 0 sees only key 0, so L_0 = s·q_0·k_0.
      const [qv, kv, lv] = await Promise.all([q!.data(), k!.data(), outs[1]!.data()]);
      let dot = 0;
      for (let d = 0; d < 8; d++) dot += qv[d]! * kv[d]!;
      expect(lv[0]).toBeCloseTo(0.5 * dot, 5);
      tf.dispose([q!, k!, v!, ...outs]);
    });
  });

  it('the backward gives the same gradients from saved or recomputed probabilities', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      const [q, k, v, dy] = [0, 1, 2, 3].map(() => rng.normal(shape)) as tf.Tensor[];
      const [o, lse, probs] = tf
        .engine()
        .runKernel(FUSED_KERNELS.attention, { q: q!, k: k!, v: v! }, attrs) as unknown as tf.Tensor[];
      const none = tf.zeros([0]);
      const grads = async (p: tf.Tensor) => {
        const g = tf
          .engine()
          .runKernel(
            FUSED_KERNELS.attentionGrad,
            { dy: dy!, q: q!, k: k!, v: v!, o: o!, lse: lse!, probs: p },
            attrs,
          ) as unknown as tf.Tensor[];
        const vals = await Promise.all(g.map(async (t) => Array.from(await t.data())));
        tf.dispose(g);
        return vals;
      };
      const saved = await grads(probs!);
      const recomputed = await grads(none);
      saved.forEach((g, i) => expectClose(g, recomputed[i]!, 1e-6, `gradient ${i}`));
      tf.dispose([q!, k!, v!, dy!, o!, lse!, probs!, none]);
    });
  });

  it('head widths above 128 run the composition on webgpu; its kernel rejects them by name', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    const wide: [number, number, number, number] = [1, 1, 3, 136];
    expect(canFuseAttention(136)).toBe(backend === 'cpu');
    await expectNoLeaks(async () => {
      const [q, k, v] = [0, 1, 2].map(() => rng.normal(wide) as tf.Tensor4D) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const o = attentionFused(q, k, v, { causal: true });
      const ref = attentionComposition(q, k, v, true, 0, 1 / Math.sqrt(136));
      expectClose(Array.from(await o.data()), Array.from(await ref.data()), 1e-5, 'dh 136');
      if (backend === 'webgpu') {
        expect(() => tf.engine().runKernel(FUSED_KERNELS.attention, { q, k, v }, attrs)).toThrow(
          /head width 136 > 128/,
        );
      }
      tf.dispose([q, k, v, o, ref]);
    });
  });
});
