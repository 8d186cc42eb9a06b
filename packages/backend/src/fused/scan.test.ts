import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { setFusedKernels, useFused } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { selectiveScanComposition, selectiveScanFused } from './scan.js';

const LMIN = -10;

/** Independent reference: the plain per-step recurrence in tfjs ops (differentiated by tfjs's own tape). */
function sequentialScan(dt: tf.Tensor, x: tf.Tensor, bm: tf.Tensor, cm: tf.Tensor, aLog: tf.Tensor): tf.Tensor {
  const [b, l, e] = x.shape as [number, number, number];
  const n = aLog.shape[1] as number;
  const a = tf.neg(tf.exp(aLog)); // (E, N)
  let h: tf.Tensor = tf.zeros([b, e, n]);
  const ys: tf.Tensor[] = [];
  const at = (t: tf.Tensor, i: number, w: number) => tf.reshape(tf.slice(t, [0, i, 0], [b, 1, w]), [b, w]);
  for (let i = 0; i < l; i++) {
    const d = at(dt, i, e);
    const decay = tf.exp(tf.maximum(tf.mul(tf.expandDims(d, -1), a), LMIN)); // (B, E, N)
    const inp = tf.mul(tf.expandDims(tf.mul(d, at(x, i, e)), -1), tf.expandDims(at(bm, i, n), 1));
    h = tf.add(tf.mul(decay, h), inp);
    ys.push(tf.sum(tf.mul(h, tf.expandDims(at(cm, i, n), 1)), -1)); // (B, E)
  }
  return tf.stack(ys, 1);
}

interface Case {
  name: string;
  b: number;
  l: number;
  e: number;
  n: number;
  chunk: number;
}
const CASES: Case[] = [
  { name: 'B=1, L=11 (not a multiple of the chunk 4)', b: 1, l: 11, e: 5, n: 3, chunk: 4 },
  { name: 'B=3, L=13, chunk 8', b: 3, l: 13, e: 4, n: 4, chunk: 8 },
  { name: 'B=2, L=1', b: 2, l: 1, e: 3, n: 2, chunk: 8 },
];

/** Inputs with Δ in (0.01, 0.7) and A down to −60, so that Δ·A < −10 (the clamp) for a share of entries. */
function inputs(c: Case): { vals: number[][]; shapes: number[][]; clamped: number; total: number } {
  const rng = new Rng(5 + c.l);
  const dt = Array.from(rng.uniformArray(c.b * c.l * c.e, 0.01, 0.7));
  const aLog = Array.from(rng.uniformArray(c.e * c.n, Math.log(0.5), Math.log(60)));
  let clamped = 0;
  for (let i = 0; i < dt.length; i++) {
    const ei = i % c.e;
    for (let ni = 0; ni < c.n; ni++) if (-dt[i]! * Math.exp(aLog[ei * c.n + ni]!) < LMIN) clamped++;
  }
  const norm = (k: number) => Array.from(rng.normalArray(k));
  return {
    vals: [dt, norm(dt.length), norm(c.b * c.l * c.n), norm(c.b * c.l * c.n), aLog],
    shapes: [
      [c.b, c.l, c.e],
      [c.b, c.l, c.e],
      [c.b, c.l, c.n],
      [c.b, c.l, c.n],
      [c.e, c.n],
    ],
    clamped,
    total: dt.length * c.n,
  };
}

type ScanFn = (...t: tf.Tensor[]) => tf.Tensor;

/** y and the gradients of Σ y · w with respect to all five inputs. */
async function evalScan(fn: ScanFn, c: Case): Promise<number[][]> {
  const { vals, shapes } = inputs(c);
  const w = Array.from(new Rng(99).normalArray(c.b * c.l * c.e));
  const res = tf.tidy(() => {
    const xs = vals.map((v, i) => tf.tensor(v, shapes[i]));
    const wt = tf.tensor(w, [c.b, c.l, c.e]);
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(fn(...a), wt)) as tf.Scalar)(xs);
    return [fn(...xs), ...g];
  });
  const out = await Promise.all(res.map(async (t) => Array.from(await t.data())));
  tf.dispose(res);
  return out;
}

function worstRel(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1, ...b.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

afterAll(() => setFusedKernels(true));

describe.each(testBackends())('selectiveScanFused on %s', (backend) => {
  it.each(CASES)('$name: y and the 5 gradients equal the sequential recurrence and the composition', async (c) => {
    expect(await useBackend(backend)).not.toBeNull();
    const { clamped, total } = inputs(c);
    if (c.l > 1) {
      expect(clamped).toBeGreaterThan(0); // the floor is active for some entries …
      expect(clamped).toBeLessThan(total); // … and not for others
    }
    setFusedKernels(true);
    if (backend === 'cpu' || backend === 'wasm') expect(useFused(FUSED_KERNELS.selectiveScan)).toBe(true);
    const seq = await evalScan(sequentialScan, c);
    const comp = await evalScan(
      (dt, x, bm, cm, aLog) =>
        selectiveScanComposition(dt!, x!, bm!, cm!, aLog!, { chunk: c.chunk, logDecayMin: LMIN }),
      c,
    );
    await expectNoLeaks(async () => {
      const fused = await evalScan(
        (dt, x, bm, cm, aLog) => selectiveScanFused(dt!, x!, bm!, cm!, aLog!, { logDecayMin: LMIN, chunk: c.chunk }),
        c,
      );
      const what = ['y', 'd dt', 'd x', 'd bm', 'd cm', 'd aLog'];
      fused.forEach((v, i) => {
        expect(worstRel(v, seq[i]!), `${what[i]} vs sequential`).toBeLessThan(5e-5);
        expect(worstRel(v, comp[i]!), `${what[i]} vs composition`).toBeLessThan(5e-5);
      });
      // A real A_log gradient was checked (at L = 1 it is 0: h_0 = 0 carries no decay).
      if (c.l > 1) expect(Math.max(...fused[5]!.map(Math.abs))).toBeGreaterThan(0);
    });
  });

  it('with fused kernels off it is the composition (same numbers, no kernel)', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    const c = CASES[1]!;
    const fn: ScanFn = (dt, x, bm, cm, aLog) => selectiveScanFused(dt!, x!, bm!, cm!, aLog!, { logDecayMin: LMIN });
    setFusedKernels(false);
    expect(useFused(FUSED_KERNELS.selectiveScan)).toBe(false);
    const off = await evalScan(fn, c);
    setFusedKernels(true);
    const on = await evalScan(fn, c);
    on.forEach((v, i) => expect(worstRel(v, off[i]!)).toBeLessThan(5e-5));
  });
});

describe('selectiveScanFused argument checks', () => {
  it('name the bad shapes and options', async () => {
    await useBackend('cpu');
    const z = (s: number[]) => tf.zeros(s);
    expect(() =>
      selectiveScanFused(z([1, 4, 3]), z([1, 4, 3]), z([1, 4, 2]), z([1, 4, 5]), z([3, 2]), { logDecayMin: -10 }),
    ).toThrow(/selectiveScanFused.*cm \[1,4,5\]/);
    expect(() =>
      selectiveScanFused(z([1, 4, 3]), z([1, 4, 3]), z([1, 4, 2]), z([1, 4, 2]), z([3, 2]), { logDecayMin: 1 }),
    ).toThrow(/logDecayMin.*1/);
    expect(() =>
      selectiveScanFused(z([1, 4, 3]), z([1, 4, 3]), z([1, 4, 2]), z([1, 4, 2]), z([3, 2]), {
        logDecayMin: -10,
        chunk: 9,
      }),
    ).toThrow(/chunk.*9/);
    tf.disposeVariables();
  });
});
