/**
 * Continuous samplers against the Gaussian-mixture oracle (exact E[x0 | z_t], no training): every sampler
 * recovers the mixture weights (chi-square on component assignments) and a small MMD to fresh source
 * samples; a 1-step DDIM does not (the test has power).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { GaussianMixtureSource, gmmOracleDenoiser } from '@altar/data';
import { GaussianProcess, gaussianSchedule } from '@altar/noise';
import { sampleGaussian, type GaussianSamplerName } from './gaussian.js';
import { chiSquareTest, mmdRbf } from './stats.js';

const weights = [0.1, 0.2, 0.3, 0.4];
const means = [
  [-1, -1],
  [-1, 1],
  [1, -1],
  [1, 1],
];
const std = 0.2;
const source = new GaussianMixtureSource({ weights, means, variances: means.map(() => std * std), name: 'corners' });
const B = 800;
const fresh = source.sample(B, new Rng(100));

/** Component of highest posterior for each 2-D row. */
function assign(x: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(weights.length);
  for (let i = 0; i < x.length / 2; i++) {
    let best = 0;
    let bestLp = -Infinity;
    for (let k = 0; k < weights.length; k++) {
      const d2 = (x[2 * i]! - means[k]![0]!) ** 2 + (x[2 * i + 1]! - means[k]![1]!) ** 2;
      const lp = Math.log(weights[k]!) - d2 / (2 * std * std);
      if (lp > bestLp) {
        bestLp = lp;
        best = k;
      }
    }
    counts[best] = counts[best]! + 1;
  }
  return counts;
}

const cases: Array<{
  sampler: GaussianSamplerName;
  schedule: 'vp-cosine' | 'vp-linear' | 'flow' | 've';
  pred: 'eps' | 'x0' | 'v';
  steps: number;
  eta?: number;
}> = [
  { sampler: 'ddpm', schedule: 'vp-linear', pred: 'eps', steps: 200 },
  { sampler: 'ddim', schedule: 'vp-cosine', pred: 'v', steps: 50 },
  { sampler: 'ddim', schedule: 'vp-linear', pred: 'eps', steps: 50, eta: 1 },
  { sampler: 'ode-euler', schedule: 'flow', pred: 'x0', steps: 100 },
  { sampler: 'ode-heun', schedule: 'vp-cosine', pred: 'eps', steps: 30 },
  { sampler: 'ode-heun', schedule: 've', pred: 'x0', steps: 60 },
  { sampler: 'sde', schedule: 'vp-linear', pred: 'v', steps: 300 },
];

describe.each(testBackends())('gaussian samplers with the mixture oracle on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  for (const c of cases) {
    it(`${c.sampler}${c.eta !== undefined ? ` η=${c.eta}` : ''} (${c.schedule}, ${c.pred}, ${c.steps} steps) recovers the weights and a small MMD`, async () => {
      await expectNoLeaks(async () => {
        const proc = new GaussianProcess(gaussianSchedule(c.schedule));
        const oracle = gmmOracleDenoiser(source, proc, c.pred);
        const r = await sampleGaussian(oracle, proc, {
          sampler: c.sampler,
          shape: [B, 2],
          steps: c.steps,
          rng: new Rng(8),
          ...(c.eta !== undefined ? { eta: c.eta } : {}),
        });
        const x = await r.samples.data();
        r.samples.dispose();
        const chi = chiSquareTest(assign(x), weights);
        expect(chi.pValue).toBeGreaterThan(1e-3);
        const mmd = mmdRbf(x, fresh, 2, 0.3);
        // two independent source sets of this size give MMD² ≈ 0 ± 0.002
        expect(mmd).toBeLessThan(0.01);
      });
    });
  }

  it('a single DDIM step collapses towards the mean: large MMD (the check has power)', async () => {
    await expectNoLeaks(async () => {
      const proc = new GaussianProcess(gaussianSchedule('vp-cosine'));
      const r = await sampleGaussian(gmmOracleDenoiser(source, proc, 'x0'), proc, {
        sampler: 'ddim',
        shape: [B, 2],
        steps: 1,
        rng: new Rng(8),
      });
      const x = await r.samples.data();
      r.samples.dispose();
      expect(mmdRbf(x, fresh, 2, 0.3)).toBeGreaterThan(0.05);
    });
  });

  it('PF-ODE (Heun, 100 steps) is deterministic given the initial noise', async () => {
    await expectNoLeaks(async () => {
      const proc = new GaussianProcess(gaussianSchedule('vp-cosine'));
      const oracle = gmmOracleDenoiser(source, proc, 'eps');
      const noise = new Rng(4).normal([32, 2]);
      const a = await sampleGaussian(oracle, proc, {
        sampler: 'ode-heun',
        shape: [32, 2],
        steps: 100,
        rng: new Rng(1),
        initialNoise: noise,
      });
      const b = await sampleGaussian(oracle, proc, {
        sampler: 'ode-heun',
        shape: [32, 2],
        steps: 100,
        rng: new Rng(2),
        initialNoise: noise,
      });
      const e = await sampleGaussian(oracle, proc, {
        sampler: 'ode-euler',
        shape: [32, 2],
        steps: 400,
        rng: new Rng(3),
        initialNoise: noise,
      });
      const [xa, xb, xe] = [await a.samples.data(), await b.samples.data(), await e.samples.data()];
      expect(Array.from(xa)).toEqual(Array.from(xb));
      // and Euler with many steps converges to the same ODE solution
      let maxDiff = 0;
      for (let i = 0; i < xa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(xa[i]! - xe[i]!));
      expect(maxDiff).toBeLessThan(0.05);
      tf.dispose([a.samples, b.samples, e.samples, noise]);
    });
  });
});
