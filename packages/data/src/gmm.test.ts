import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { GaussianMixtureSource, gmmPosterior } from './gmm.js';
import { gmmOracleDenoiser } from './gmm-oracle.js';
import { gmmPreset } from './gmm-presets.js';

const oneD = () =>
  new GaussianMixtureSource({ weights: [0.2, 0.5, 0.3], means: [[-2], [0.5], [3]], variances: [0.3, [1.2], 0.05] });

function normalPdf(x: number, m: number, v: number): number {
  return Math.exp((-0.5 * (x - m) ** 2) / v) / Math.sqrt(2 * Math.PI * v);
}

describe('GaussianMixtureSource', () => {
  it('1-D log density matches the closed form and integrates to 1 (trapezoid)', () => {
    const g = oneD();
    for (const x of [-3, -2, 0, 0.7, 3.1]) {
      const p = 0.2 * normalPdf(x, -2, 0.3) + 0.5 * normalPdf(x, 0.5, 1.2) + 0.3 * normalPdf(x, 3, 0.05);
      expect(Math.abs(g.logDensity([x]) - Math.log(p))).toBeLessThan(1e-12);
    }
    const h = 0.001;
    let integral = 0;
    for (let x = -12; x <= 12; x += h) integral += Math.exp(g.logDensity([x])) * h;
    expect(Math.abs(integral - 1)).toBeLessThan(1e-6);
  });

  it.each(['rings', 'grid', 'moons'] as const)('2-D preset %s integrates to 1 on a grid', (name) => {
    const g = gmmPreset(name);
    expect(g.dim).toBe(2);
    const h = 0.02;
    const lo = -3;
    const n = 300;
    const pts = new Float64Array(n * n * 2);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) pts.set([lo + (i + 0.5) * h, lo + (j + 0.5) * h], (i * n + j) * 2);
    const lps = g.logDensityBatch(pts);
    let integral = 0;
    for (const lp of lps) integral += Math.exp(lp) * h * h;
    expect(Math.abs(integral - 1)).toBeLessThan(2e-3);
  });

  it('sample moments match the exact mean and covariance', () => {
    const g = gmmPreset('random', { dim: 3, numComponents: 4, seed: 2 });
    const n = 50_000;
    const xs = g.sample(n, new Rng(4));
    const { mean, cov } = g.moments();
    const m = new Float64Array(3);
    for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) m[j]! += xs[i * 3 + j]! / n;
    for (let j = 0; j < 3; j++) expect(Math.abs(m[j]! - mean[j]!)).toBeLessThan(5 * Math.sqrt(cov[j * 3 + j]! / n));
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let c = 0;
        for (let i = 0; i < n; i++) c += (xs[i * 3 + a]! - m[a]!) * (xs[i * 3 + b]! - m[b]!);
        c /= n - 1;
        const scale = Math.sqrt(cov[a * 3 + a]! * cov[b * 3 + b]!);
        expect(Math.abs(c - cov[a * 3 + b]!)).toBeLessThan(0.05 * scale);
      }
    }
  });

  it('entropyReport agrees with the closed form for one Gaussian and with quadrature for a 1-D mixture', () => {
    const one = new GaussianMixtureSource({ weights: [1], means: [[0.3, -1]], variances: [[0.5, 2]] });
    const exact = 0.5 * (Math.log(2 * Math.PI * Math.E * 0.5) + Math.log(2 * Math.PI * Math.E * 2));
    const r1 = one.entropyReport(new Rng(1), 20_000);
    expect(Math.abs(r1.entropyNats - exact)).toBeLessThan(4 * r1.stdErrNats);
    expect(r1.entropyBitsPerDim).toBeCloseTo(r1.entropyNats / Math.LN2 / 2, 12);
    const g = oneD();
    let h = 0;
    for (let x = -12; x <= 12; x += 0.001) {
      const lp = g.logDensity([x]);
      h -= Math.exp(lp) * lp * 0.001;
    }
    const r = g.entropyReport(new Rng(2), 20_000);
    expect(Math.abs(r.entropyNats - h)).toBeLessThan(4 * r.stdErrNats);
  });

  it('validates specs and presets with precise errors', () => {
    expect(() => new GaussianMixtureSource({ weights: [1], means: [[0, 0]], variances: [0] })).toThrow(
      /gmm\.variances\[0\]/,
    );
    expect(() => new GaussianMixtureSource({ weights: [1, 1], means: [[0]], variances: [1, 1] })).toThrow(
      /gmm\.means: expected 2 means/,
    );
    expect(() => new GaussianMixtureSource({ weights: [1, 1], means: [[0], [1, 2]], variances: [1, 1] })).toThrow(
      /gmm\.means\[1\]/,
    );
    expect(() => new GaussianMixtureSource({ weights: [-1], means: [[0]], variances: [1] })).toThrow(ConfigError);
    expect(() => gmmPreset('spiral' as never)).toThrow(/unknown preset "spiral"/);
    expect(() => gmmPreset('random', { dim: 0 })).toThrow(/gmmPreset\.dim/);
    expect(() => oneD().logDensity([1, 2])).toThrow(/1 coordinates/);
  });
});

describe('gmmPosterior (closed form) against independent computations', () => {
  it('score equals the numerical gradient of log p_t(z)', () => {
    const g = gmmPreset('random', { dim: 3, numComponents: 5, seed: 1 });
    const rng = new Rng(8);
    for (const [alpha, sigma] of [
      [1, 0.3],
      [0.7, 0.7],
      [0.2, 1],
    ] as const) {
      const z = [rng.nextNormal(), rng.nextNormal(), rng.nextNormal()];
      const post = gmmPosterior(g, z, alpha, sigma);
      for (let j = 0; j < 3; j++) {
        const h = 1e-5;
        const zp = [...z];
        const zm = [...z];
        zp[j]! += h;
        zm[j]! -= h;
        const num = (gmmPosterior(g, zp, alpha, sigma).logPz - gmmPosterior(g, zm, alpha, sigma).logPz) / (2 * h);
        expect(Math.abs(post.score[j]! - num)).toBeLessThan(1e-6 * Math.max(1, Math.abs(num)));
        // Tweedie: E[ε|z] = −σ ∇ log p_t(z), and z = α E[x0|z] + σ E[ε|z].
        expect(Math.abs(post.meanEps[j]! + sigma * post.score[j]!)).toBeLessThan(1e-12);
        expect(Math.abs(alpha * post.meanX0[j]! + sigma * post.meanEps[j]! - z[j]!)).toBeLessThan(1e-12);
      }
    }
  });

  it('E[x0|z] and log p_t(z) agree with a self-normalised importance estimate from prior samples', () => {
    const g = gmmPreset('moons');
    const M = 200_000;
    const xs = g.sample(M, new Rng(12));
    const alpha = 0.8;
    const sigma = 0.5;
    for (const z of [
      [0.3, -0.1],
      [-0.8, 0.5],
    ]) {
      let W = 0;
      const m = [0, 0];
      let W2 = 0;
      for (let i = 0; i < M; i++) {
        const w =
          normalPdf(z[0]!, alpha * xs[2 * i]!, sigma ** 2) * normalPdf(z[1]!, alpha * xs[2 * i + 1]!, sigma ** 2);
        W += w;
        W2 += w * w;
        m[0]! += w * xs[2 * i]!;
        m[1]! += w * xs[2 * i + 1]!;
      }
      const post = gmmPosterior(g, z, alpha, sigma);
      const pz = W / M;
      const relSe = Math.sqrt(W2 / M - pz * pz) / Math.sqrt(M) / pz;
      expect(Math.abs(Math.log(pz) - post.logPz)).toBeLessThan(5 * relSe + 1e-3);
      expect(Math.abs(m[0]! / W - post.meanX0[0]!)).toBeLessThan(0.01);
      expect(Math.abs(m[1]! / W - post.meanX0[1]!)).toBeLessThan(0.01);
      expect(post.responsibilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });
});

describe.each(testBackends())('gmmOracleDenoiser on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  // VP-like schedule: α = cos(πt/2), σ = sin(πt/2).
  const schedule = {
    alpha: (t: number) => Math.cos((Math.PI * t) / 2),
    sigma: (t: number) => Math.sin((Math.PI * t) / 2),
  };

  it.each(['x0', 'eps', 'v'] as const)(
    '%s prediction and score match the float64 reference, no leaks',
    async (prediction) => {
      const g = gmmPreset('random', { dim: 4, numComponents: 6, seed: 3 });
      const oracle = gmmOracleDenoiser(g, schedule, prediction);
      expect(oracle.prediction).toBe(prediction);
      expect(tf.getBackend()).toBe(backend);
      const rng = new Rng(5);
      const B = 5;
      const zData = rng.normalArray(B * 4, 0, 1.5);
      const tData = [0.05, 0.3, 0.5, 0.8, 0.99];
      await expectNoLeaks(async () => {
        const zt = tf.tensor2d(zData, [B, 4]);
        const t = tf.tensor1d(tData);
        const out = oracle.predict(zt, t);
        const outA = await oracle.predictAsync(zt, t);
        const sc = oracle.score(zt, t);
        expect(out.shape).toEqual([B, 4]);
        const o = await out.data();
        const oa = await outA.data();
        const s = await sc.data();
        tf.dispose([zt, t, out, outA, sc]);
        for (let b = 0; b < B; b++) {
          const al = schedule.alpha(tData[b]!);
          const sg = schedule.sigma(tData[b]!);
          const ref = gmmPosterior(g, zData.subarray(b * 4, b * 4 + 4), al, sg);
          for (let j = 0; j < 4; j++) {
            const want =
              prediction === 'x0'
                ? ref.meanX0[j]!
                : prediction === 'eps'
                  ? ref.meanEps[j]!
                  : al * ref.meanEps[j]! - sg * ref.meanX0[j]!;
            expect(Math.abs(o[b * 4 + j]! - want)).toBeLessThan(2e-4 * Math.max(1, Math.abs(want)));
            expect(oa[b * 4 + j]).toBe(o[b * 4 + j]);
            expect(Math.abs(s[b * 4 + j]! - ref.score[j]!)).toBeLessThan(2e-4 * Math.max(1, Math.abs(ref.score[j]!)));
          }
        }
      }, `gmmOracleDenoiser ${prediction}`);
    },
  );

  it('keeps the input shape for (B, H, W, C) inputs and rejects bad ones', async () => {
    const g = gmmPreset('random', { dim: 4, numComponents: 2, seed: 1 });
    const oracle = gmmOracleDenoiser(g, schedule, 'x0');
    await expectNoLeaks(() => {
      const z = tf.zeros([2, 2, 2, 1]);
      const out = oracle.predict(z, 0.5);
      expect(out.shape).toEqual([2, 2, 2, 1]);
      const bad = tf.zeros([2, 3]);
      expect(() => oracle.predict(bad, 0.5)).toThrow(/rows must have 4 values/);
      expect(() => oracle.predict(z, 2)).toThrow(/t must be in \[0, 1\]/);
      tf.dispose([z, out, bad]);
    });
    expect(() => gmmOracleDenoiser(g, schedule, 'score' as never)).toThrow(/prediction must be/);
  });
});

describe('source factories', () => {
  it('createVectorSource / createTokenSource switch on type and reject unknown ones', async () => {
    const { createTokenSource, createVectorSource } = await import('./sources.js');
    expect(createVectorSource({ type: 'gmm', preset: 'grid' }).dim).toBe(2);
    expect(createVectorSource({ type: 'shapes', size: 16, channels: 1 }).dim).toBe(256);
    expect(createTokenSource({ type: 'hmm', seqLen: 40 }).seqLen).toBe(40);
    expect(() => createTokenSource({ type: 'markov' } as never)).toThrow(/source\.type: unknown token source "markov"/);
    expect(() => createVectorSource({ type: 'gmm', preset: 'grid', bogus: 1 } as never)).toThrow(/gmmPreset\.bogus/);
  });
});
