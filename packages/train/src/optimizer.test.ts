import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { AdamW, ownedVariable } from './optimizer.js';
import { Ema } from './ema.js';
import { lrAt } from './schedule.js';

/** Reference AdamW in float64 on the host (Loshchilov & Hutter, Alg. 2; PyTorch decay convention). */
function refAdamW(
  p: number[],
  grads: number[][],
  lrs: number[],
  b1: number,
  b2: number,
  eps: number,
  wd: number,
): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  let x = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    x = x.map((xi, i) => {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      const mh = m[i]! / (1 - b1 ** t);
      const vh = v[i]! / (1 - b2 ** t);
      return xi * (1 - lrs[k]! * wd) - (lrs[k]! * mh) / (Math.sqrt(vh) + eps);
    });
  });
  return x;
}

describe('lrAt', () => {
  it('warms up linearly, peaks, and decays by cosine to the floor', () => {
    const c = { lr: 1, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
    expect(lrAt(0, c)).toBeCloseTo(0.1, 12);
    expect(lrAt(9, c)).toBeCloseTo(1, 12);
    expect(lrAt(10, c)).toBeCloseTo(1, 12);
    expect(lrAt(60, c)).toBeCloseTo(0.1 + 0.45, 12); // half-way: floor + (peak − floor)/2
    expect(lrAt(110, c)).toBeCloseTo(0.1, 12);
    expect(lrAt(500, c)).toBeCloseTo(0.1, 12);
    expect(lrAt(50, { ...c, decay: 'constant' })).toBe(1);
  });
});

describe.each(testBackends())('AdamW and EMA on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('matches a float64 reference AdamW over 5 steps (with decoupled decay on matrices only)', async () => {
    await expectNoLeaks(async () => {
      const w0 = [0.5, -1, 2, 0.25];
      const b0 = [0.1, -0.2];
      const w = ownedVariable(tf.tensor2d(w0, [2, 2]));
      const b = ownedVariable(tf.tensor1d(b0));
      const opt = new AdamW({ w, b }, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 });
      const gw = [
        [0.3, -0.1, 0.2, 1.5],
        [0.1, 0.1, -0.4, 0.2],
        [1, 2, 3, 4],
        [-0.5, 0.5, 0, 0.1],
        [0.2, 0.2, 0.2, 0.2],
      ];
      const gb = [
        [1, -1],
        [0.5, 0.5],
        [0, 0.1],
        [2, -2],
        [0.3, 0.3],
      ];
      const lrs = [0.1, 0.05, 0.02, 0.02, 0.01];
      for (let k = 0; k < 5; k++) {
        const g = { w: tf.tensor2d(gw[k]!, [2, 2]), b: tf.tensor1d(gb[k]!) };
        opt.apply(g, lrs[k]!);
        g.w.dispose();
        g.b.dispose();
      }
      const wr = refAdamW(w0, gw, lrs, 0.9, 0.99, 1e-8, 0.1);
      const br = refAdamW(b0, gb, lrs, 0.9, 0.99, 1e-8, 0); // biases do not decay
      const wv = await w.data();
      const bv = await b.data();
      wr.forEach((x, i) => expect(wv[i]).toBeCloseTo(x, 5));
      br.forEach((x, i) => expect(bv[i]).toBeCloseTo(x, 5));
      expect(opt.t).toBe(5);
      opt.dispose();
      w.dispose();
      b.dispose();
    });
  });

  it('EMA follows d_t = min(d, (1+t)/(10+t)) and swapIn restores the trained weights', async () => {
    await expectNoLeaks(async () => {
      const p = ownedVariable(tf.tensor1d([0]));
      const ema = new Ema({ p }, 0.5);
      let ref = 0;
      for (let t = 0; t < 4; t++) {
        const val = t + 1;
        const nv = tf.tensor1d([val]);
        p.assign(nv);
        nv.dispose();
        ema.update();
        const d = Math.min(0.5, (1 + t) / (10 + t));
        ref = d * ref + (1 - d) * val;
      }
      expect((await ema.tensors()['p']!.data())[0]).toBeCloseTo(ref, 5);
      const inside = await ema.swapIn(async () => (await p.data())[0]);
      expect(inside).toBeCloseTo(ref, 5);
      expect((await p.data())[0]).toBe(4);
      ema.dispose();
      p.dispose();
    });
  });
});
