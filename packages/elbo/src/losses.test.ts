/**
 * AR NLL against the HMM's exact chain rule, the discretised decoder's normalisation, the Gaussian losses
 * against closed forms, and the stable host reductions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { HmmSource, gmmOracleDenoiser, gmmPosterior, gmmPreset } from '@altar/data';
import { GaussianProcess } from '@altar/noise';
import {
  arNll,
  bitsPerToken,
  causalLmNll,
  discretizedGaussianLogLik,
  epsMse,
  estimateStats,
  klCategorical,
  klCategoricalHost,
  logSumExp,
  vdmNelbo,
  vdmNelboHost,
  type CausalLM,
  type HostGaussianOracle,
} from './index.js';

describe('host reductions', () => {
  it('logSumExp is stable for huge and tiny inputs; KL is exact near zero', () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.LN2, 10);
    expect(logSumExp([-1000, -1000 - Math.log(3)])).toBeCloseTo(-1000 + Math.log(4 / 3), 10);
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
    // KL(q || p) with p = q(1 + δ) perturbed: ≈ ½ Σ q δ² — relative accuracy kept at 1e-10 levels
    const q = [0.2, 0.3, 0.5];
    const e = 1e-5;
    const p = [0.2 + e, 0.3 - e, 0.5];
    const want = 0.5 * ((e * e) / 0.2 + (e * e) / 0.3); // second-order expansion, error O(e³)
    expect(Math.abs(klCategoricalHost(q, p) - want) / want).toBeLessThan(1e-4);
    expect(klCategoricalHost([1, 0], [0.5, 0.5])).toBeCloseTo(Math.LN2, 14);
    expect(klCategoricalHost([0.5, 0.5], [1, 0])).toBe(Infinity);
    expect(bitsPerToken(Math.LN2 * 10, 10)).toBeCloseTo(1, 14);
  });
});

describe.each(testBackends())('losses on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('arNll / causalLmNll of an exact next-token model equal the HMM chain rule', async () => {
    const src = new HmmSource({ vocabSize: 6, numStates: 3, seqLen: 5, tokensPerState: 3, overlap: 1, seed: 2 });
    const B = 4;
    const N = 5;
    const flat = src.sample(B, new Rng(1));
    const model: CausalLM = {
      vocabSize: 6,
      forward(tokens) {
        const z = tokens.dataSync();
        const out = new Float32Array(B * N * 6);
        for (let b = 0; b < B; b++)
          for (let i = 0; i < N; i++) {
            const p = src.nextTokenProbs(Array.from(z.subarray(b * N, b * N + i + 1)));
            for (let x = 0; x < 6; x++) out[(b * N + i) * 6 + x] = Math.log(p[x]!) + 3; // shifted logits: softmax-invariant
          }
        return tf.tensor3d(out, [B, N, 6]);
      },
    };
    await expectNoLeaks(async () => {
      const tokens = tf.tensor2d(flat, [B, N], 'int32');
      const nll = causalLmNll(model, tokens);
      const v = await nll.data();
      for (let b = 0; b < B; b++) {
        const x = Array.from(flat.subarray(b * N, (b + 1) * N));
        const first = Math.log(src.nextTokenProbs([])[x[0]!]!);
        expect(v[b]!).toBeCloseTo(-src.logProb(x) + first, 4); // tokens 1..N−1 given their prefixes
      }
      // arNll with a mask counts only the masked-in positions
      const logits = tf.tensor3d(
        Float32Array.from({ length: B * N * 6 }, (_, k) => (k % 7) * 0.3),
        [B, N, 6],
      );
      const mask = tf.tensor2d(
        Float32Array.from({ length: B * N }, (_, k) => (k % 2 ? 1 : 0)),
        [B, N],
      );
      const fullT = arNll(logits, tokens);
      const maskedT = arNll(logits, tokens, mask);
      const full = await fullT.data();
      const masked = await maskedT.data();
      tf.dispose([fullT, maskedT]);
      const lv = await logits.data();
      for (let b = 0; b < B; b++) {
        let want = 0;
        let wantMasked = 0;
        for (let i = 0; i < N; i++) {
          const row = Array.from(lv.subarray((b * N + i) * 6, (b * N + i + 1) * 6));
          const ce = logSumExp(row) - row[flat[b * N + i]!]!;
          want += ce;
          if ((b * N + i) % 2) wantMasked += ce;
        }
        expect(full[b]!).toBeCloseTo(want, 4);
        expect(masked[b]!).toBeCloseTo(wantMasked, 4);
      }
      tf.dispose([tokens, nll, logits, mask]);
    });
  });

  it('klCategorical matches the host KL', async () => {
    await expectNoLeaks(async () => {
      const q = tf.tensor2d([
        [0.2, 0.3, 0.5],
        [1, 0, 0],
      ]);
      const p = tf.tensor2d([
        [0.25, 0.25, 0.5],
        [0.5, 0.25, 0.25],
      ]);
      const kl = klCategorical(q, p);
      const v = await kl.data();
      expect(v[0]!).toBeCloseTo(klCategoricalHost([0.2, 0.3, 0.5], [0.25, 0.25, 0.5]), 6);
      expect(v[1]!).toBeCloseTo(Math.LN2, 6);
      tf.dispose([q, p, kl]);
    });
  });

  it('the discretised 8-bit Gaussian decoder sums to 1 over the 256 bins', async () => {
    await expectNoLeaks(async () => {
      const bins = Float32Array.from({ length: 256 }, (_, k) => -1 + (2 * k) / 255);
      for (const [mean, std] of [
        [0, 0.01],
        [0.3, 0.2],
        [-0.99, 0.05],
        [1.2, 0.5],
        [0.5, 1e-3],
      ] as const) {
        const x = tf.tensor1d(bins);
        const m = tf.fill([256], mean);
        const s = tf.fill([256], std);
        const ll = discretizedGaussianLogLik(x, m, s);
        const total = tf.tidy(() => tf.sum(tf.exp(ll)));
        expect((await total.data())[0]!).toBeCloseTo(1, 4);
        tf.dispose([x, m, s, ll, total]);
      }
    });
  });

  it('a point-mass source: its exact denoiser gives eps-MSE ≈ 0 (x0 → eps conversion is exact)', async () => {
    // data = a single point x*: E[x0 | z] = x* exactly, so ε̂ = (z − α x*)/σ = ε
    const xStar = [0.4, -0.7];
    const p = new GaussianProcess('vp-cosine');
    const pointOracle = {
      prediction: 'x0' as const,
      predict: (zt: tf.Tensor) => tf.tidy(() => tf.mul(tf.onesLike(zt), tf.tensor2d([xStar]))),
    };
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(Array.from({ length: 16 }, () => xStar));
      const mse = epsMse(p, pointOracle, x0, new Rng(1), { tMin: 0.05 });
      expect(Math.max(...(await mse.data()))).toBeLessThan(1e-6);
      tf.dispose([x0, mse]);
    });
  });

  it('vdmNelbo (tensor, t-uniform) agrees with vdmNelboHost (λ-uniform) on a Gaussian mixture within 3 SE', async () => {
    const gmm = gmmPreset('random', { dim: 2, numComponents: 3, seed: 5 });
    const p = new GaussianProcess('vp-linear');
    const oracle = gmmOracleDenoiser(gmm, p.schedule, 'eps');
    const host: HostGaussianOracle = { dim: 2, meanX0: (z, a, s) => gmmPosterior(gmm, z, a, s).meanX0 };
    const xs = gmm.sample(1, new Rng(3));
    const B = 256;
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(
        Float32Array.from({ length: 2 * B }, (_, k) => xs[k % 2]!),
        [B, 2],
      );
      const est = vdmNelbo(p, oracle, x0, new Rng(4));
      const tv = estimateStats(await est.data());
      tf.dispose([x0, est]);
      const r = new Rng(5);
      const hv = estimateStats(
        Float64Array.from({ length: 64 }, () => vdmNelboHost(p, host, Float64Array.from(xs), r, 16).total),
      );
      expect(Math.abs(tv.mean - hv.mean)).toBeLessThan(3 * Math.hypot(tv.stdErr, hv.stdErr) + 1e-3);
    });
  });

  it("vdmNelbo with sampling 'log-snr' agrees with the t-uniform estimate and the host's, with a smaller spread", async () => {
    // The exact GMM denoiser on vp-cosine (whose λ'(t) diverges at both ends): both tensor estimators and
    // vdmNelboHost estimate the same NELBO of one point; importance sampling in λ must not move the mean.
    const gmm = gmmPreset('random', { dim: 2, numComponents: 3, seed: 5 });
    const p = new GaussianProcess('vp-cosine');
    const oracle = gmmOracleDenoiser(gmm, p.schedule, 'eps');
    const host: HostGaussianOracle = { dim: 2, meanX0: (z, a, s) => gmmPosterior(gmm, z, a, s).meanX0 };
    const xs = gmm.sample(1, new Rng(3));
    const B = 512;
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(
        Float32Array.from({ length: 2 * B }, (_, k) => xs[k % 2]!),
        [B, 2],
      );
      const a = vdmNelbo(p, oracle, x0, new Rng(4), { sampling: 'log-snr' });
      const b = vdmNelbo(p, oracle, x0, new Rng(6), { sampling: 'uniform' });
      const sa = estimateStats(await a.data());
      const sb = estimateStats(await b.data());
      tf.dispose([x0, a, b]);
      const r = new Rng(5);
      const hv = estimateStats(
        Float64Array.from({ length: 64 }, () => vdmNelboHost(p, host, Float64Array.from(xs), r, 16).total),
      );
      expect(Math.abs(sa.mean - hv.mean)).toBeLessThan(3 * Math.hypot(sa.stdErr, hv.stdErr) + 1e-3);
      expect(Math.abs(sa.mean - sb.mean)).toBeLessThan(3 * Math.hypot(sa.stdErr, sb.stdErr) + 1e-3);
      expect(sa.stdErr).toBeLessThan(sb.stdErr);
    });
  });
});
