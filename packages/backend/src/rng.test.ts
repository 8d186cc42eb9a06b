import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './init.js';
import { expectNoLeaks } from './memory.js';
import { Rng } from './rng.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Rng', () => {
  it('is reproducible from a seed and from a saved state', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    const saved = a.state();
    const next = a.nextDouble();
    expect(new Rng(saved).nextDouble()).toBe(next);
    expect(new Rng(43).nextU32()).not.toBe(xs[0]);
  });

  it('gives uniform and normal moments within 4 standard errors', () => {
    const r = new Rng(7);
    const n = 200_000;
    const u = r.uniformArray(n);
    const mean = u.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    const z = r.normalArray(n);
    const zm = z.reduce((s, v) => s + v, 0) / n;
    const zv = z.reduce((s, v) => s + (v - zm) ** 2, 0) / (n - 1);
    expect(Math.abs(zm)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(zv - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
  });

  it('nextOpenUnit never returns 0 or 1, even after float32 rounding', () => {
    const r = new Rng(1);
    const f = new Float32Array(100_000);
    for (let i = 0; i < f.length; i++) f[i] = r.nextOpenUnit();
    expect(Math.min(...f)).toBeGreaterThan(0);
    expect(Math.max(...f)).toBeLessThan(1);
  });

  it('Gumbel noise comes from 53-bit uniforms: its tail is not cut at the 24-bit limit', () => {
    const r = new Rng(4);
    let on24BitGrid = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = r.nextOpenUnit53();
      expect(u > 0 && u < 1).toBe(true);
      if (Number.isInteger(u * 16777216 - 0.5)) on24BitGrid++;
    }
    expect(on24BitGrid).toBe(0); // a 24-bit uniform would put every draw on this grid
    // The largest Gumbel value a uniform allows: −log(−log(1 − 2^−54)) ≈ 37.4 with 53 bits, ≈ 17.3 with 24.
    expect(-Math.log(-Math.log(1 - 2 ** -54))).toBeGreaterThan(37);
    const g = new Rng(5).gumbelArray(200_000);
    const mean = g.reduce((a, v) => a + v, 0) / g.length;
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(4 * Math.sqrt(Math.PI ** 2 / 6 / g.length)); // Euler–Mascheroni
  });

  it('categorical (Gumbel-max) matches softmax probabilities (chi-square)', async () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const n = 20_000;
    const r = new Rng(3);
    await expectNoLeaks(async () => {
      const logits = tf.tidy(() => tf.log(tf.tensor2d(probs, [1, 4])).tile([n, 1]));
      const s = r.categorical(logits);
      const v = await s.data();
      tf.dispose([logits, s]);
      const counts = [0, 0, 0, 0];
      for (const k of v) counts[k]!++;
      const chi2 = counts.reduce((acc, c, i) => acc + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
      expect(chi2).toBeLessThan(16.27); // 3 dof, p = 0.001
    });
  });

  it('nextCategorical handles unnormalised weights and rejects a zero sum', () => {
    const r = new Rng(5);
    const w = [0, 2, 0, 6];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[r.nextCategorical(w)]!++;
    expect(counts[0]).toBe(0);
    expect(counts[2]).toBe(0);
    expect(Math.abs(counts[3]! / 8000 - 0.75)).toBeLessThan(0.03);
    expect(() => r.nextCategorical([0, 0])).toThrow(/positive finite sum/);
  });

  it('nextInt is unbiased on a range that does not divide 2^32', () => {
    const r = new Rng(11);
    const counts = new Array(3).fill(0) as number[];
    for (let i = 0; i < 30_000; i++) counts[r.nextInt(0, 3)]!++;
    const chi2 = counts.reduce((a, c) => a + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(13.8); // 2 dof, p = 0.001
  });
});
