/**
 * Proof 3: with exact oracle denoisers (@altar/data: HMM forward–backward, Gaussian-mixture posterior) the
 * NELBO is ≥ the source's true NLL and decreases towards it as T grows (T = 2, 8, 32, 128, 512); the
 * continuous-time masked bound is the large-T limit of D3PM-absorbing; likewise for the Gaussian mixture.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { HmmSource, gmmOracleDenoiser, gmmPosterior, gmmPreset, hmmOracleDenoiser, hmmPosterior } from '@altar/data';
import { D3PMProcess, GaussianProcess, MaskedProcess, type FactorisedDiscreteProcess } from '@altar/noise';
import {
  d3pmNelbo,
  d3pmNelboHost,
  d3pmPriorKLHost,
  d3pmTermHost,
  ddpmNelbo,
  ddpmNelboHost,
  emissionOracle,
  estimateStats,
  maskedNelbo,
  maskedNelboHost,
  vdmNelboHost,
  type HostGaussianOracle,
} from './index.js';
import { maskedExact, meanOf, seqProb } from '../test/fixtures.js';

const Ts = [2, 8, 32, 128, 512];
const source = new HmmSource({
  vocabSize: 8,
  numStates: 4,
  seqLen: 6,
  tokensPerState: 3,
  overlap: 1,
  seed: 7,
  name: 'hmm-tiny',
});
const oracleFor = (p: FactorisedDiscreteProcess) => emissionOracle(p, (L) => hmmPosterior(source, L).marginals);

/** Paired slack statistics (NELBO − NLL per sequence). */
function slackStats(nelbo: Float64Array, nll: Float64Array) {
  return estimateStats(nelbo.map((v, i) => v - nll[i]!));
}

/** Exact D3PM-absorbing NELBO of one sequence: enumerate the 2^n mask patterns at every t. */
function absorbingExact(process: D3PMProcess, x: Int32Array): number {
  const n = x.length;
  const K = process.numStates;
  const oracle = oracleFor(process);
  let total = d3pmPriorKLHost(process, x, process.T);
  for (let t = 1; t <= process.T; t++) {
    const Q = process.cumulativeMatrix(t);
    for (let mask = 0; mask < 1 << n; mask++) {
      const z = Int32Array.from(x, (v, i) => ((mask >> i) & 1 ? process.maskId : v));
      const q = seqProb(Q, K, x, z);
      if (q > 0) total += q * d3pmTermHost(process, oracle, x, z, t);
    }
  }
  return total;
}

describe('HMM oracle bounds (host Float64)', () => {
  const rng = new Rng(2024);
  const B = 48;
  const flat = source.sample(B, rng);
  const seqs = Array.from({ length: B }, (_, b) => flat.subarray(b * 6, b * 6 + 6));
  const nll = Float64Array.from(seqs, (x) => -source.logProb(x));

  it.each([
    { label: 'absorbing/jsd', make: (T: number) => new D3PMProcess({ kind: 'absorbing', vocabSize: 8, T }) },
    {
      label: 'uniform/cosine',
      make: (T: number) => new D3PMProcess({ kind: 'uniform', vocabSize: 8, T, schedule: 'cosine' }),
    },
  ])('D3PM $label: NELBO ≥ true NLL and decreasing over T = 2…512 (Monte Carlo, paired)', ({ make }) => {
    const stats = Ts.map((T) => {
      const process = make(T);
      const oracle = oracleFor(process);
      const r = new Rng(T);
      const nelbo = Float64Array.from(
        seqs,
        (x) => d3pmNelboHost(process, oracle, x, r, 'full', { numSamples: 2 }).total,
      );
      return { T, nelbo, slack: slackStats(nelbo, nll) };
    });
    for (const s of stats) expect(s.slack.mean).toBeGreaterThan(-3 * s.slack.stdErr);
    const paired = (a: Float64Array, b: Float64Array) => estimateStats(a.map((v, i) => v - b[i]!));
    for (let k = 0; k + 1 < stats.length; k++) {
      const d = paired(stats[k]!.nelbo, stats[k + 1]!.nelbo);
      expect(d.mean).toBeGreaterThan(-3 * d.stdErr); // slack(T_k) ≥ slack(T_{k+1}) up to noise
    }
    // and it really tightens: T = 2 is far looser than T = 512, which is close to the truth
    const d = paired(stats[0]!.nelbo, stats[4]!.nelbo);
    expect(d.mean).toBeGreaterThan(3 * d.stdErr);
    expect(stats[4]!.slack.mean).toBeLessThan(0.05 * estimateStats(nll).mean + 3 * stats[4]!.slack.stdErr);
  });

  it('exact (enumerated): continuous-time masked bound = true NLL; D3PM-absorbing decreases to it as T grows', () => {
    for (const x of seqs.slice(0, 3)) {
      const xi = Int32Array.from(x);
      const truth = -source.logProb(x);
      // With the exact oracle the continuous-time masked NELBO is the any-order AR loss with exact conditionals,
      // hence exactly −log p(x) (Ou et al. 2024; Shi et al. 2024 §3) — for every schedule with α_1 = 0.
      for (const schedule of ['linear', 'cosine'] as const) {
        const mp = new MaskedProcess({ vocabSize: 8, schedule });
        expect(Math.abs(maskedExact(mp, oracleFor(mp), xi) - truth)).toBeLessThan(1e-7 * truth);
      }
      const mp = new MaskedProcess({ vocabSize: 8, schedule: 'linear' });
      const cont = maskedExact(mp, oracleFor(mp), xi);
      const bounds = [2, 8, 32, 512].map((T) =>
        absorbingExact(new D3PMProcess({ kind: 'absorbing', vocabSize: 8, T }), xi),
      );
      for (let k = 0; k < bounds.length; k++) {
        expect(bounds[k]!).toBeGreaterThan(cont); // discrete time is strictly looser than its continuous limit
        if (k > 0) expect(bounds[k]!).toBeLessThan(bounds[k - 1]!);
      }
      expect((bounds[3]! - cont) / cont).toBeLessThan(2e-3); // T = 512 is the continuous bound within 0.2 %
      // the host Monte-Carlo estimator agrees with the exact integral
      const mc = maskedNelboHost(mp, oracleFor(mp), x, new Rng(3), 2000).total;
      expect(Math.abs(mc - cont) / cont).toBeLessThan(0.02);
    }
  });
});

describe.each(testBackends())('tensor losses with the data oracles on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('maskedNelbo and d3pmNelbo (absorbing, T = 8) with hmmOracleDenoiser agree with the exact bounds within 3 SE', async () => {
    const x = Int32Array.from(source.sample(1, new Rng(77)));
    const mp = new MaskedProcess({ vocabSize: 8, schedule: 'cosine' });
    const exactCont = maskedExact(mp, oracleFor(mp), x);
    const dp = new D3PMProcess({ kind: 'absorbing', vocabSize: 8, T: 8 });
    const exactD3pm = absorbingExact(dp, x);
    const B = 64;
    const rng = new Rng(8);
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(
        Int32Array.from({ length: B * 6 }, (_, k) => x[k % 6]!),
        [B, 6],
        'int32',
      );
      const mOracle = hmmOracleDenoiser(source, (t) => mp.marginalMatrix(t));
      const dOracle = hmmOracleDenoiser(source, (u) => dp.noiseMatrix(u)); // u = t/T
      for (const [loss, exact] of [
        [() => maskedNelbo(mp, mOracle, x0, rng), exactCont],
        [() => d3pmNelbo(dp, dOracle, x0, rng, { sampling: 'stratified' }), exactD3pm],
      ] as const) {
        const means = new Float64Array(16);
        for (let r = 0; r < 16; r++) {
          const v = loss();
          means[r] = meanOf(await v.data());
          v.dispose();
        }
        const st = estimateStats(means);
        expect(Math.abs(st.mean - exact)).toBeLessThan(3 * st.stdErr + 1e-4 * exact);
      }
      x0.dispose();
    });
  });

  it('ddpmNelbo (tensor, gmmOracleDenoiser, vp-cosine T = 32, full sum) agrees with the host bound', async () => {
    const gmm = gmmPreset('random', { dim: 2, numComponents: 4, seed: 3 });
    const proc = new GaussianProcess('vp-cosine');
    const oracle = gmmOracleDenoiser(gmm, proc.schedule, 'eps');
    const hostOracle: HostGaussianOracle = { dim: 2, meanX0: (z, a, s) => gmmPosterior(gmm, z, a, s).meanX0 };
    const B = 32;
    const xs = gmm.sample(B, new Rng(4));
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(xs, [B, 2]);
      const est = ddpmNelbo(proc, oracle, x0, 32, new Rng(5), { sampling: 'full' });
      const tv = Float64Array.from(await est.data());
      est.dispose();
      x0.dispose();
      const r = new Rng(6);
      const hv = Float64Array.from(
        { length: B },
        (_, b) => ddpmNelboHost(proc, hostOracle, Float64Array.from(xs.subarray(2 * b, 2 * b + 2)), 32, r).total,
      );
      const d = estimateStats(tv.map((v, i) => v - hv[i]!));
      expect(Math.abs(d.mean)).toBeLessThan(3 * d.stdErr + 1e-3);
    });
  });
});

describe('Gaussian-mixture oracle bounds (host Float64)', () => {
  const gmm = gmmPreset('random', { dim: 2, numComponents: 4, seed: 3 });
  const oracle: HostGaussianOracle = { dim: 2, meanX0: (z, a, s) => gmmPosterior(gmm, z, a, s).meanX0 };
  const B = 64;
  const xs = gmm.sample(B, new Rng(11));
  const points = Array.from({ length: B }, (_, b) => Float64Array.from(xs.subarray(2 * b, 2 * b + 2)));
  const nll = Float64Array.from(points, (x) => -gmm.logDensity(x));

  it.each(['vp-cosine', 'vp-linear', 've', 'flow'] as const)(
    '%s: NELBO ≥ −log p(x), decreasing over T, bounded below by the continuous VDM bound',
    (kind) => {
      const proc = new GaussianProcess(kind);
      const stats = Ts.map((T) => {
        const r = new Rng(100 + T);
        const nelbo = Float64Array.from(points, (x) => ddpmNelboHost(proc, oracle, x, T, r).total);
        return { T, nelbo, slack: slackStats(nelbo, nll) };
      });
      const paired = (a: Float64Array, b: Float64Array) => estimateStats(a.map((v, i) => v - b[i]!));
      for (const s of stats) expect(s.slack.mean).toBeGreaterThan(-3 * s.slack.stdErr);
      for (let k = 0; k + 1 < stats.length; k++) {
        const d = paired(stats[k]!.nelbo, stats[k + 1]!.nelbo);
        expect(d.mean).toBeGreaterThan(-3 * d.stdErr);
      }
      const d = paired(stats[0]!.nelbo, stats[4]!.nelbo);
      expect(d.mean).toBeGreaterThan(3 * d.stdErr);
      const r = new Rng(9);
      const vdm = Float64Array.from(points, (x) => vdmNelboHost(proc, oracle, x, r, 64).total);
      // the continuous-time bound is the T → ∞ limit: below every discrete T (up to noise) and above −log p(x)
      for (const s of stats) {
        const dv = paired(s.nelbo, vdm);
        expect(dv.mean).toBeGreaterThan(-3 * dv.stdErr);
      }
      expect(slackStats(vdm, nll).mean).toBeGreaterThan(-3 * slackStats(vdm, nll).stdErr);
      expect(Math.abs(slackStats(vdm, nll).mean)).toBeLessThan(1); // and within a nat of it (2-D, λ_max ≈ 10)
    },
  );
});
