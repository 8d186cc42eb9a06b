import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { GAUSSIAN_SCHEDULES, GaussianProcess, ddpmLinearBetas, gaussianSchedule, tableSchedule } from './index.js';

const times = [0.02, 0.2, 0.5, 0.8, 0.97];

describe.each(GAUSSIAN_SCHEDULES)('gaussian schedule %s (host)', (kind) => {
  const s = gaussianSchedule(kind);
  it('logSnr = log(α²/σ²), decreasing, dλ/dt matches finite differences, VP keeps α² + σ² = 1', () => {
    for (const t of times) {
      expect(s.logSnr(t)).toBeCloseTo(Math.log(s.alpha(t) ** 2 / s.sigma(t) ** 2), 8);
      expect(s.logSnr(t + 0.01)).toBeLessThan(s.logSnr(t));
      const h = 1e-5;
      const fd = (s.logSnr(t + h) - s.logSnr(t - h)) / (2 * h);
      expect(Math.abs(s.dLogSnr(t) - fd) / Math.abs(fd)).toBeLessThan(1e-5);
      if (kind.startsWith('vp')) expect(s.alpha(t) ** 2 + s.sigma(t) ** 2).toBeCloseTo(1, 12);
    }
    // the data end is (almost) noiseless, the far end (almost) the prior
    expect(s.sigma(1e-6) / s.alpha(1e-6)).toBeLessThan(0.02);
    expect(s.alpha(1) / s.priorStd).toBeLessThan(0.03); // VE: the data mean is tiny next to σ_max
  });

  it('posterior q(z_s | z_t, x0) equals Gaussian conditioning of the joint (z_s, z_t) | x0', () => {
    const p = new GaussianProcess(s);
    for (const [sv, tv] of [
      [0.1, 0.3],
      [0.5, 0.51],
      [0.2, 0.9],
    ] as const) {
      const as = p.alpha(sv);
      const at = p.alpha(tv);
      const ss2 = p.sigma(sv) ** 2;
      const st2 = p.sigma(tv) ** 2;
      // z_t = (α_t/α_s) z_s + noise ⇒ Cov(z_s, z_t) = (α_t/α_s) σ_s², Var(z_t) = σ_t²
      const cov = (at / as) * ss2;
      const x0 = 0.7;
      const zt = -0.4;
      const wantMean = as * x0 + (cov / st2) * (zt - at * x0);
      const wantVar = ss2 - (cov * cov) / st2;
      const c = p.posteriorCoefs(sv, tv);
      expect(c.cz * zt + c.cx * x0).toBeCloseTo(wantMean, 9);
      expect(c.variance).toBeCloseTo(wantVar, 9);
      expect(c.variance).toBeGreaterThan(0);
    }
  });
});

describe('DDPM discrete table', () => {
  it('tableSchedule is exact on the grid of ddpmLinearBetas', () => {
    const T = 1000;
    const b = ddpmLinearBetas(T);
    expect(b[0]).toBeCloseTo(1e-4, 12);
    expect(b[T - 1]).toBeCloseTo(0.02, 12);
    const ab = new Float64Array(T + 1);
    ab[0] = 1 - 1e-12;
    for (let i = 1; i <= T; i++) ab[i] = ab[i - 1]! * (1 - b[i - 1]!);
    const s = tableSchedule(ab);
    for (const i of [1, 10, 500, 1000]) expect(s.alpha(i / T) ** 2).toBeCloseTo(ab[i]!, 10);
    // the continuous vp-linear schedule is DDPM's T = 1000 limit
    const c = gaussianSchedule('vp-linear');
    // (log ᾱ differs by Σ β²/2 ≈ 0.05 at the far end: log(1 − β) vs −β)
    for (const i of [100, 500, 900])
      expect(Math.abs(Math.log(c.alpha(i / T) ** 2) - Math.log(ab[i]!))).toBeLessThan(0.06);
  });
});

describe.each(testBackends())('gaussian process tensors on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(GAUSSIAN_SCHEDULES)('%s: qSample moments match α x0, σ; prediction conversions round-trip', async (kind) => {
    const p = new GaussianProcess(kind);
    const rng = new Rng(21);
    await expectNoLeaks(async () => {
      const B = 3;
      const D = 4000;
      const ts = [0.1, 0.5, 0.9];
      const x0 = tf.tensor2d(
        Float32Array.from({ length: B * D }, (_, k) => (k % 2 ? 0.8 : -0.3)),
        [B, D],
      );
      const eps = rng.normal([B, D]);
      const z = p.qSample(x0, ts, eps);
      const zv = await z.data();
      for (let b = 0; b < B; b++) {
        for (const par of [0, 1]) {
          const xv = par ? 0.8 : -0.3;
          let m = 0;
          let v = 0;
          const n = D / 2;
          for (let k = par; k < D; k += 2) m += zv[b * D + k]!;
          m /= n;
          for (let k = par; k < D; k += 2) v += (zv[b * D + k]! - m) ** 2;
          v /= n - 1;
          const a = p.alpha(ts[b]!);
          const sg = p.sigma(ts[b]!);
          expect(Math.abs(m - a * xv)).toBeLessThan(4 * (sg / Math.sqrt(n)) + 1e-5);
          expect(Math.abs(v / (sg * sg) - 1)).toBeLessThan(4 * Math.sqrt(2 / (n - 1)));
        }
      }
      // conversions: eps → x0 → eps, v → x0 / eps, score
      const x0r = p.x0FromEps(z, eps, ts);
      const epsr = p.epsFromX0(z, x0, ts);
      const v = p.vFromEpsX0(eps, x0, ts);
      const x0v = p.x0FromV(z, v, ts);
      const epsv = p.epsFromV(z, v, ts);
      const score = p.scoreFromEps(eps, ts);
      const epsS = p.epsFromScore(score, ts);
      const tol = kind === 've' ? 5e-3 : 1e-4; // VE: z has scale σ_max
      for (const [got, want] of [
        [x0r, x0],
        [epsr, eps],
        [x0v, x0],
        [epsv, eps],
        [epsS, eps],
      ] as const) {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))));
        expect((await d.data())[0]).toBeLessThan(tol * (kind === 've' ? 1 : 10));
        d.dispose();
      }
      // posterior mean tensor vs host coefficients
      const pm = p.posteriorMean(z, x0, [0.05, 0.25, 0.6], ts);
      const pmv = await pm.data();
      for (let b = 0; b < B; b++) {
        const c = p.posteriorCoefs([0.05, 0.25, 0.6][b]!, ts[b]!);
        const k = 7;
        expect(pmv[b * D + k]!).toBeCloseTo(c.cz * zv[b * D + k]! + c.cx * 0.8, 3);
      }
      expect(p.posteriorVariance([0.05, 0.25, 0.6], ts)[1]).toBeCloseTo(p.posteriorCoefs(0.25, 0.5).variance, 12);
      tf.dispose([x0, eps, z, x0r, epsr, v, x0v, epsv, score, epsS, pm]);
    });
  });
});
