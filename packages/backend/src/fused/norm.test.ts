import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { setFusedKernels, useFused } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { addLayerNorm, addRmsNorm, rmsNormFused } from './norm.js';
import { normWasm } from './norm-wasm.js';
import './ops.js';

const rng = new Rng(23);
const arr = (n: number, scale = 1, shift = 0) => Array.from(rng.normalArray(n), (v) => v * scale + shift);
const ROWS = 6;
const D = 16;
const EPS = 1e-5;
// x carries a large row mean (shift 30) so that the statistics are tested away from zero.
const X = arr(ROWS * D, 2, 30);
const R = arr(ROWS * D, 1.5);
const G = arr(D).map((v) => 1 + 0.3 * v);
const Bias = arr(D, 0.5);
const WS = arr(ROWS * D); // objective L = Σ s·WS + Σ y·WY
const WY = arr(ROWS * D);

type Kind = 'addLayerNorm' | 'addRmsNorm' | 'rmsNorm';
const KERNEL: Record<Kind, string> = {
  addLayerNorm: FUSED_KERNELS.addLayerNorm,
  addRmsNorm: FUSED_KERNELS.addRmsNorm,
  rmsNorm: FUSED_KERNELS.rmsNorm,
};

/** Float64 reference of the objective: inputs packed [x, r, g, b] (r and b absent where the op has none). */
function reference(kind: Kind, v: Float64Array, wS: number[], wY: number[]): number {
  const n = ROWS * D;
  const residual = kind !== 'rmsNorm';
  const centred = kind === 'addLayerNorm';
  const x = v.subarray(0, n);
  const r = residual ? v.subarray(n, 2 * n) : null;
  const go = residual ? 2 * n : n;
  const g = v.subarray(go, go + D);
  const b = centred ? v.subarray(go + D, go + 2 * D) : null;
  let loss = 0;
  for (let row = 0; row < ROWS; row++) {
    const s = Array.from({ length: D }, (_, k) => x[row * D + k]! + (r ? r[row * D + k]! : 0));
    const mean = centred ? s.reduce((a, c) => a + c, 0) / D : 0;
    const ms = s.reduce((a, c) => a + (c - mean) ** 2, 0) / D;
    const rstd = 1 / Math.sqrt(ms + EPS);
    for (let k = 0; k < D; k++) {
      const y = (s[k]! - mean) * rstd * g[k]! + (b ? b[k]! : 0);
      loss += y * wY[row * D + k]! + (residual ? s[k]! * wS[row * D + k]! : 0);
    }
  }
  return loss;
}

function packed(kind: Kind): number[] {
  if (kind === 'rmsNorm') return [...X, ...G];
  return kind === 'addRmsNorm' ? [...X, ...R, ...G] : [...X, ...R, ...G, ...Bias];
}

/** Reference outputs (the weights as one-hots would be slow; read s and y off the definitions) and gradients. */
function referenceGrads(kind: Kind, wS: number[], wY: number[]): number[] {
  const v = Float64Array.from(packed(kind));
  const grads: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const h = 1e-4 * Math.max(1, Math.abs(v[i]!));
    const keep = v[i]!;
    v[i] = keep + h;
    const up = reference(kind, v, wS, wY);
    v[i] = keep - h;
    const down = reference(kind, v, wS, wY);
    v[i] = keep;
    grads.push((up - down) / (2 * h));
  }
  return grads;
}

function referenceForward(kind: Kind): { s: number[]; y: number[] } {
  const s: number[] = [];
  const y: number[] = [];
  for (let row = 0; row < ROWS; row++) {
    const sr = Array.from({ length: D }, (_, k) =>
      Math.fround(X[row * D + k]! + (kind === 'rmsNorm' ? 0 : R[row * D + k]!)),
    );
    const mean = kind === 'addLayerNorm' ? sr.reduce((a, c) => a + c, 0) / D : 0;
    const rstd = 1 / Math.sqrt(sr.reduce((a, c) => a + (c - mean) ** 2, 0) / D + EPS);
    sr.forEach((c, k) => {
      s.push(c);
      y.push((c - mean) * rstd * G[k]! + (kind === 'addLayerNorm' ? Bias[k]! : 0));
    });
  }
  return { s, y };
}

/** The op's outputs, and the gradient of Σ s·wS + Σ y·wY with respect to every input (packed as reference). */
async function evalOp(kind: Kind, wS: number[], wY: number[]): Promise<{ s: number[]; y: number[]; grad: number[] }> {
  const res = tf.tidy(() => {
    const x = tf.tensor2d(X, [ROWS, D]);
    const r = tf.tensor2d(R, [ROWS, D]);
    const g = tf.tensor1d(G);
    const b = tf.tensor1d(Bias);
    const run = (...a: tf.Tensor[]): [tf.Tensor, tf.Tensor] => {
      if (kind === 'rmsNorm') return [a[0]!, rmsNormFused(a[0]!, a[1]!, EPS)];
      if (kind === 'addRmsNorm') return addRmsNorm(a[0]!, a[1]!, a[2]!, EPS);
      return addLayerNorm(a[0]!, a[1]!, a[2]!, a[3]!, EPS);
    };
    const ins = kind === 'rmsNorm' ? [x, g] : kind === 'addRmsNorm' ? [x, r, g] : [x, r, g, b];
    const objective = (...a: tf.Tensor[]) => {
      const [s, y] = run(...a);
      const ly = tf.sum(tf.mul(y, tf.tensor2d(wY, [ROWS, D])));
      return (kind === 'rmsNorm' ? ly : tf.add(ly, tf.sum(tf.mul(s, tf.tensor2d(wS, [ROWS, D]))))) as tf.Scalar;
    };
    const grads = tf.grads(objective)(ins);
    const [s, y] = run(...ins);
    return [s, y, tf.concat(grads.map((t) => tf.reshape(t, [-1])))];
  });
  const [s, y, grad] = await Promise.all(res.map(async (t) => Array.from(await t.data())));
  tf.dispose(res);
  return { s: s!, y: y!, grad: grad! };
}

function worstRel(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return worst;
}

const KINDS: Kind[] = ['addLayerNorm', 'addRmsNorm', 'rmsNorm'];
// Which outputs carry gradient: both, only the residual stream s, only the normalised y.
const WEIGHTINGS: Array<[string, number[], number[]]> = [
  ['s and y', WS, WY],
  ['s only', WS, WY.map(() => 0)],
  ['y only', WS.map(() => 0), WY],
];

afterAll(() => setFusedKernels(true));

describe.each(testBackends())('fused norms on %s', (backend) => {
  it.each(KINDS)('%s: forward and gradients equal float64 references and the composition', async (kind) => {
    expect(await useBackend(backend)).not.toBeNull();
    if (['cpu', 'wasm', 'webgpu'].includes(backend)) expect(useFused(KERNEL[kind])).toBe(true);
    const want = referenceForward(kind);
    await expectNoLeaks(async () => {
      for (const [label, wS, wY] of WEIGHTINGS) {
        if (kind === 'rmsNorm' && label === 's only') continue; // rmsNorm has no s output
        setFusedKernels(false);
        const comp = await evalOp(kind, wS, wY);
        setFusedKernels(true);
        const got = await evalOp(kind, wS, wY);
        expect(worstRel(got.s, want.s), `${label}: s`).toBeLessThan(1e-6);
        expect(worstRel(got.y, want.y), `${label}: y`).toBeLessThan(2e-5);
        const ref = referenceGrads(kind, wS, wY);
        expect(worstRel(got.grad, ref), `${label}: gradient vs float64`).toBeLessThan(5e-4);
        expect(worstRel(got.grad, comp.grad), `${label}: gradient vs composition`).toBeLessThan(1e-4);
        expect(worstRel(comp.grad, ref), `${label}: composition vs float64`).toBeLessThan(2e-3);
      }
    });
  });
});

/** Fused against composition at (3, 50, 100): D past a 64-thread workgroup's stride, rows past one column chunk. */
async function wideCase(kind: Kind, d: number): Promise<number[][]> {
  const big = new Rng(31);
  const rows = 150;
  const res = tf.tidy(() => {
    const x = tf.tensor3d(big.normalArray(rows * d), [3, 50, d]);
    const r = tf.tensor3d(big.normalArray(rows * d), [3, 50, d]);
    const g = tf.add(1, tf.tensor1d(big.normalArray(d)));
    const b = tf.tensor1d(big.normalArray(d));
    const wS = tf.tensor3d(big.normalArray(rows * d), [3, 50, d]);
    const wY = tf.tensor3d(big.normalArray(rows * d), [3, 50, d]);
    const f = (xx: tf.Tensor, rr: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const [s, y] =
        kind === 'rmsNorm'
          ? [tf.add(xx, rr), rmsNormFused(tf.add(xx, rr), gg)]
          : kind === 'addRmsNorm'
            ? addRmsNorm(xx, rr, gg)
            : addLayerNorm(xx, rr, gg, bb);
      return [s, y, tf.add(tf.sum(tf.mul(s, wS)), tf.sum(tf.mul(y, wY)))] as const;
    };
    const ins = kind === 'addLayerNorm' ? [x, r, g, b] : [x, r, g];
    const grads = tf.grads((...a: tf.Tensor[]) => f(a[0]!, a[1]!, a[2]!, a[3] ?? b)[2] as tf.Scalar)(ins);
    const [s, y] = f(x, r, g, b);
    return [s, y, ...grads];
  });
  const out = await Promise.all(res.map(async (t) => Array.from(await t.data())));
  tf.dispose(res);
  return out;
}

describe.each(testBackends())('fused norms on %s, wide rows', (backend) => {
  // D = 100: the wasm SIMD kernels; D = 18 (not a multiple of 4): their JS fallback
  it.each(KINDS.flatMap((k) => [[k, 100] as const, [k, 18] as const]))(
    '%s equals the composition at (3, 50, %i), forward and gradients',
    async (kind, d) => {
      expect(await useBackend(backend)).not.toBeNull();
      if (backend === 'wasm') {
        const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
        expect(normWasm(memory)).not.toBeNull(); // the SIMD module assembles and instantiates on this heap
      }
      await expectNoLeaks(async () => {
        setFusedKernels(false);
        const ref = await wideCase(kind, d);
        setFusedKernels(true);
        const got = await wideCase(kind, d);
        expect(got.length).toBe(ref.length);
        got.forEach((v, i) => expect(worstRel(v, ref[i]!), `output ${i}`).toBeLessThan(i < 2 ? 2e-5 : 2e-4));
      });
    },
  );
});

describe('fused norm argument checks', () => {
  it('name the bad shapes and eps', async () => {
    await useBackend('cpu');
    expect(() => rmsNormFused(tf.zeros([2, 3]), tf.zeros([2]))).toThrow(/rmsNormFused.*\[2,3\].*\[2\]/);
    expect(() => addLayerNorm(tf.zeros([2, 3]), tf.zeros([3]), tf.zeros([3]), tf.zeros([3]))).toThrow(
      /addLayerNorm.*\[2,3\], \[3\]/,
    );
    expect(() => addRmsNorm(tf.zeros([2, 3]), tf.zeros([2, 3]), tf.zeros([3]), 0)).toThrow(/addRmsNorm: eps.*0/);
  });
});
