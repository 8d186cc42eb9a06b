/**
 * AdamW.applyControlled and Ema.updateMasked (the device-steered updates the trainer uses) against float64
 * references: a masked step changes nothing and does not advance t or the EMA count.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { AdamW, ownedVariable } from './optimizer.js';
import { Ema } from './ema.js';

const P0 = [0.5, -1.2, 2.0, 0.1, -0.3, 0.7];
const G = [
  [0.3, -0.2, 0.9, -1.1, 0.05, 0.4],
  [-0.5, 0.1, 0.2, 0.7, -0.9, 0.3],
  [NaN, Infinity, 0.2, 0.1, 0.3, -0.2], // masked
  [0.8, -0.6, -0.1, 0.2, 0.4, -0.5],
  [0.1, 0.2, -0.3, 0.4, -0.5, 0.6],
];
const OK = [1, 1, 0, 1, 1];
const [b1, b2, eps, lr, scale] = [0.9, 0.99, 1e-8, 0.05, 0.5];

/** float64 AdamW over the unmasked steps only (t counts applied updates). */
function reference(): { p: number[]; m: number[]; v: number[] } {
  const p = [...P0];
  const m = P0.map(() => 0);
  const v = P0.map(() => 0);
  let t = 0;
  G.forEach((g, k) => {
    if (!OK[k]) return;
    t += 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * scale;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i] = p[i]! - (lr * (m[i]! / (1 - b1 ** t))) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + eps);
    }
  });
  return { p, m, v };
}

const close = (got: ArrayLike<number>, want: number[], tol: number) =>
  want.forEach((w, i) => expect(Math.abs(got[i]! - w) / (1 + Math.abs(w))).toBeLessThan(tol));

describe.each(testBackends())('device-steered updates on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('AdamW.applyControlled: masked steps change nothing, t counts applied updates (float64 reference)', async () => {
    await expectNoLeaks(async () => {
      const p = ownedVariable(tf.tensor1d(P0));
      const opt = new AdamW({ p }, { beta1: b1, beta2: b2, eps, weightDecay: 0 });
      const state = async () => Promise.all([p, ...Object.values(opt.stateTensors())].map(async (x) => x.data()));
      for (let k = 0; k < G.length; k++) {
        const before = await state();
        const g = tf.tensor1d(G[k]!);
        const [gs, ok] = [tf.scalar(scale), tf.scalar(OK[k]!)];
        opt.applyControlled({ p: g }, lr, gs, ok);
        tf.dispose([g, gs, ok]);
        if (!OK[k]) (await state()).forEach((x, i) => expect(Array.from(x)).toEqual(Array.from(before[i]!)));
      }
      expect(opt.t).toBe(0); // the host count waits for a read
      opt.syncStep((await opt.deviceStep().data())[0]!);
      expect(opt.t).toBe(4);
      const ref = reference();
      const [pv, mv, vv] = await state();
      close(pv!, ref.p, 2e-6);
      close(mv!, ref.m, 2e-6);
      close(vv!, ref.v, 2e-6);
      // the host path keeps the device count in step (mixing both)
      const g = tf.tensor1d(G[0]!);
      opt.apply({ p: g }, lr);
      g.dispose();
      expect([opt.t, (await opt.deviceStep().data())[0]]).toEqual([5, 5]);
      opt.dispose();
      p.dispose();
    });
  });

  it('Ema.updateMasked: d_t = min(d, (1+t)/(10+t)) over applied updates only; masked steps change nothing', async () => {
    await expectNoLeaks(async () => {
      const p = ownedVariable(tf.tensor1d([0]));
      const ema = new Ema({ p }, 0.5);
      let ref = 0;
      let t = 0;
      for (let k = 0; k < OK.length; k++) {
        const val = k + 1;
        const nv = tf.tensor1d([val]);
        p.assign(nv);
        nv.dispose();
        const before = (await ema.tensors()['p']!.data())[0];
        const ok = tf.scalar(OK[k]!);
        ema.updateMasked(ok);
        ok.dispose();
        if (OK[k]) {
          const d = Math.min(0.5, (1 + t) / (10 + t));
          ref = d * ref + (1 - d) * val;
          t += 1;
        } else expect((await ema.tensors()['p']!.data())[0]).toBe(before);
      }
      expect((await ema.tensors()['p']!.data())[0]).toBeCloseTo(ref, 6);
      ema.syncUpdates((await ema.deviceUpdates().data())[0]!);
      expect(ema.updates).toBe(4);
      ema.update(); // the host path keeps the device count in step
      expect((await ema.deviceUpdates().data())[0]).toBe(5);
      ema.dispose();
      p.dispose();
    });
  });
});
