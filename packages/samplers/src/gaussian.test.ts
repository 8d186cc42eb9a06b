import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { GAUSSIAN_SAMPLERS, sampleGaussian, toX0Eps, type GaussianScheduleLike } from './gaussian.js';
import type { ContinuousDenoiser, PredictionKind } from './types.js';

// Test-local schedules (independent of @altar/noise): VP with the DDPM linear β (continuous form,
// Song et al. 2021 eq. 29: β(t) = β0 + t(β1 − β0), β0 = 0.1, β1 = 20), the linear interpolant (flow), and VE.
const vpLinear: GaussianScheduleLike = {
  alpha: (t) => Math.exp(-0.5 * (0.1 * t + 0.5 * (20 - 0.1) * t * t)),
  sigma: (t) => Math.sqrt(1 - Math.exp(-(0.1 * t + 0.5 * (20 - 0.1) * t * t))),
};
const flow: GaussianScheduleLike = { alpha: (t) => 1 - t, sigma: (t) => t };
const ve: GaussianScheduleLike = { alpha: () => 1, sigma: (t) => 0.01 * Math.pow(10000, t) };

/** Data x0 ~ N(mu, s²) per coordinate: E[x0 | z] = mu + α s² (z − α mu) / (α² s² + σ²), in closed form. */
function gaussianDenoiser(
  proc: GaussianScheduleLike,
  mu: number,
  s: number,
  prediction: PredictionKind,
): ContinuousDenoiser {
  return {
    prediction,
    predict(zt, t) {
      const tv = t.dataSync()[0]!; // same t for the batch; cpu/wasm only test code
      const a = proc.alpha(tv);
      const sg = proc.sigma(tv);
      return tf.tidy(() => {
        const x0 = tf.add(tf.mul(tf.sub(zt, a * mu), (a * s * s) / (a * a * s * s + sg * sg)), mu);
        const eps = sg > 0 ? tf.div(tf.sub(zt, tf.mul(x0, a)), sg) : tf.zerosLike(zt);
        if (prediction === 'x0') return x0;
        if (prediction === 'eps') return eps;
        return tf.sub(tf.mul(eps, a), tf.mul(x0, sg));
      });
    },
  };
}

async function moments(x: tf.Tensor): Promise<{ mean: number; std: number }> {
  const d = await x.data();
  let m = 0;
  for (const v of d) m += v;
  m /= d.length;
  let v2 = 0;
  for (const v of d) v2 += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(v2 / (d.length - 1)) };
}

describe.each(testBackends())('gaussian samplers on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('toX0Eps inverts z = α x0 + σ ε for eps, x0 and v', async () => {
    await expectNoLeaks(async () => {
      const x0 = tf.tensor1d([0.5, -1, 2]);
      const eps = tf.tensor1d([1, 0.3, -0.7]);
      const a = 0.6,
        s = 0.8;
      const z = tf.tidy(() => tf.add(tf.mul(x0, a), tf.mul(eps, s)));
      const v = tf.tidy(() => tf.sub(tf.mul(eps, a), tf.mul(x0, s)));
      for (const [type, pred] of [
        ['eps', eps],
        ['x0', x0],
        ['v', v],
      ] as const) {
        const r = toX0Eps(pred, type, z, a, s);
        const [gx, ge] = [await r.x0.data(), await r.eps.data()];
        expect(Array.from(gx).map((q) => +q.toFixed(4))).toEqual([0.5, -1, 2]);
        expect(Array.from(ge).map((q) => +q.toFixed(4))).toEqual([1, 0.3, -0.7]);
        tf.dispose([r.x0, r.eps]);
      }
      tf.dispose([x0, eps, z, v]);
    });
  });

  const mu = 1.5;
  const sd = 0.5;
  const B = 1500;
  for (const [pname, proc] of [
    ['vp-linear', vpLinear],
    ['flow', flow],
    ['ve', ve],
  ] as const) {
    for (const sampler of GAUSSIAN_SAMPLERS) {
      for (const pred of ['eps', 'x0', 'v'] as const) {
        if (sampler === 'sde' && pname === 've' && pred !== 'eps') continue; // covered by eps; keeps the suite short
        it(`${sampler} on ${pname} with ${pred}-prediction recovers N(${mu}, ${sd}²)`, async () => {
          await expectNoLeaks(async () => {
            const model = gaussianDenoiser(proc, mu, sd, pred);
            // Euler in t is first order: on VE (σ exponential in t) it needs many more steps than Heun.
            const steps =
              sampler === 'sde' || sampler === 'ddpm'
                ? 200
                : sampler === 'ode-heun'
                  ? pname === 've'
                    ? 100
                    : 25
                  : pname === 've'
                    ? 1000
                    : 100;
            const { samples, cost } = await sampleGaussian(model, proc, {
              sampler,
              shape: [B, 1],
              steps,
              rng: new Rng(7),
              eta: 0.5,
            });
            const m = await moments(samples);
            samples.dispose();
            // sampling error of the mean: sd/sqrt(B) ≈ 0.013; discretisation error small at these steps
            expect(Math.abs(m.mean - mu)).toBeLessThan(0.06);
            expect(Math.abs(m.std - sd)).toBeLessThan(0.06);
            // Heun skips the corrector on a last step that lands on σ = 0 (Karras et al. 2022, Alg. 1)
            expect(cost.nfe).toBe(sampler === 'ode-heun' ? 2 * steps - (proc.sigma(0) === 0 ? 1 : 0) : steps);
            expect(cost.tokens).toBe(B);
            expect(cost.weightBytesLoaded).toBe(0);
            expect(cost.flopsKnown).toBe(false);
          }, `${sampler}/${pname}/${pred}`);
        });
      }
    }
  }

  it('PF-ODE is deterministic given the initial noise and ignores the RNG', async () => {
    await expectNoLeaks(async () => {
      const model = gaussianDenoiser(vpLinear, mu, sd, 'eps');
      const noise = new Rng(3).normal([64, 2]);
      const a = await sampleGaussian(model, vpLinear, {
        sampler: 'ode-heun',
        shape: [64, 2],
        steps: 200,
        rng: new Rng(1),
        initialNoise: noise,
      });
      const b = await sampleGaussian(model, vpLinear, {
        sampler: 'ode-heun',
        shape: [64, 2],
        steps: 200,
        rng: new Rng(99),
        initialNoise: noise,
      });
      expect(Array.from(await a.samples.data())).toEqual(Array.from(await b.samples.data()));
      // and the map is the exact transport: x = mu + sd · ξ for the Gaussian case (σ(tMax)≈1 prior)
      const xs = await a.samples.data();
      const ns = await noise.data();
      const sig1 = vpLinear.sigma(1);
      for (let i = 0; i < 10; i++)
        expect(xs[i]!).toBeCloseTo(mu + (sd * sig1 * ns[i]!) / Math.hypot(sig1, vpLinear.alpha(1) * sd) + 0 * i, 1);
      tf.dispose([a.samples, b.samples, noise]);
    });
  });

  it('rejects bad arguments with a message naming them', async () => {
    const model = gaussianDenoiser(flow, 0, 1, 'x0');
    await expect(
      sampleGaussian(model, flow, { sampler: 'euler' as never, shape: [2, 1], steps: 3, rng: new Rng(1) }),
    ).rejects.toThrow(/unknown sampler 'euler'/);
    await expect(
      sampleGaussian(model, flow, { sampler: 'ddim', shape: [2, 1], steps: 0, rng: new Rng(1) }),
    ).rejects.toThrow(/steps/);
    await expect(
      sampleGaussian(model, flow, { sampler: 'ddim', shape: [2, 1], steps: 3, eta: 2, rng: new Rng(1) }),
    ).rejects.toThrow(/eta/);
  });
});
