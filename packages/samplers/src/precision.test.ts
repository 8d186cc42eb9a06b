/**
 * The float32 Gumbel trap (Zheng et al. 2024): Gumbel-max with 24-bit uniforms truncates the Gumbel noise
 * to [−2.85, 17.3] and quantises its tail, so tokens below ≈ 1e−7 are drawn too rarely (never, below
 * ≈ 2e−9 next to a dominant token) and masked-diffusion samples lose entropy. altar draws tokens by
 * Gumbel-max with 53-bit noise (sampleLogits, sampleProbs: AR decoding) and by float64 inverse CDF
 * with 53-bit uniforms, after a separate float64 unmask decision (the diffusion samplers).
 *
 * An empirical test cannot see a 24-bit truncation at any feasible size (its bias is 1.5e−6 relative at
 * p = 1e−5, 1.5e−4 at 1e−6: seeing an event of probability p needs ~1/p draws). So the test that fails under
 * the truncation is the reach test: a token 25 nats below the leader is selectable at all. The others check
 * that frequencies and entropies match the truth within binomial tolerances, low-probability tokens
 * included, and that masked-diffusion samples from the exact oracle keep the source's unigram entropy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import * as tf from '@tensorflow/tfjs-core';
import { HmmSource, hmmOracleDenoiser } from '@altar/data';
import { MaskedProcess } from '@altar/noise';
import { sampleLogits, sampleProbs } from './categorical.js';
import { sampleMasked } from './discrete.js';
import { unigramEntropyBits } from './quality.js';
import { chiSquareTest } from './stats.js';
import type { DiscreteDenoiser } from './types.js';

/** An Rng whose uniforms come from a script (then 0.5): to reach the extremes of the noise on purpose. */
class ScriptedRng extends Rng {
  constructor(private readonly script: number[]) {
    super(0);
  }
  override nextDouble(): number {
    return this.script.shift() ?? 0.5;
  }
}

const gumbelOf = (u: number): number => -Math.log(-Math.log(u));

function entropyBits(p: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < p.length; k++) if (p[k]! > 0) h -= p[k]! * Math.log2(p[k]!);
  return h;
}

/**
 * A test distribution on V tokens: a high-entropy Zipf-like bulk, plus `nLow` tokens at each of the
 * probabilities 1e−5, 1e−6 and 1e−7 (the last 3·nLow ids); float64, sums to 1.
 */
function testDistribution(V: number, nLow: number): Float64Array {
  const p = new Float64Array(V);
  const bulk = V - 3 * nLow;
  let lowMass = 0;
  for (const [g, q] of [1e-5, 1e-6, 1e-7].entries())
    for (let k = 0; k < nLow; k++) {
      p[bulk + g * nLow + k] = q;
      lowMass += q;
    }
  let z = 0;
  for (let k = 0; k < bulk; k++) z += 1 / (k + 10);
  for (let k = 0; k < bulk; k++) p[k] = ((1 - lowMass) * (1 / (k + 10))) / z;
  return p;
}

/** Checks draws against p: χ² over the bulk, each low group's count within 4.5 binomial σ, entropy. */
function expectFollows(counts: Float64Array, p: Float64Array, n: number, nLow: number): void {
  const V = p.length;
  const bulk = V - 3 * nLow;
  const obs = Array.from(counts.subarray(0, bulk)).concat([counts.subarray(bulk).reduce((a, b) => a + b, 0)]);
  const probs = Array.from(p.subarray(0, bulk)).concat([p.subarray(bulk).reduce((a, b) => a + b, 0)]);
  expect(chiSquareTest(obs, probs).pValue).toBeGreaterThan(1e-4);
  for (let g = 0; g < 3; g++) {
    let c = 0;
    let q = 0;
    for (let k = 0; k < nLow; k++) {
      c += counts[bulk + g * nLow + k]!;
      q += p[bulk + g * nLow + k]!;
    }
    const mean = n * q;
    expect(Math.abs(c - mean)).toBeLessThanOrEqual(4.5 * Math.sqrt(mean) + 1);
  }
  // plug-in entropy: E = H − (V_seen − 1)/(2 n ln 2) + O(1/n²); sd = sqrt(Var(log2 p) / n)
  const H = entropyBits(p);
  let m2 = 0;
  for (let k = 0; k < V; k++) if (p[k]! > 0) m2 += p[k]! * Math.log2(p[k]!) ** 2;
  const sd = Math.sqrt((m2 - H * H) / n);
  const seen = counts.reduce((a, c) => a + (c > 0 ? 1 : 0), 0);
  const freq = Array.from(counts, (c) => c / n);
  expect(Math.abs(entropyBits(freq) + (seen - 1) / (2 * n * Math.LN2) - H)).toBeLessThan(4.5 * sd);
}

const backends = testBackends();

describe.each(backends)('categorical sampling precision (the float32 Gumbel trap) on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('Gumbel-max reaches a token 25 nats below the leader (impossible with 24-bit uniforms)', async () => {
    await expectNoLeaks(async () => {
      // 24-bit uniforms (k + 0.5)/2^24 bound G to [−2.85, 17.33]: no draw lifts a gap above 20.2 nats
      const g24 = gumbelOf(1 - 0.5 / 2 ** 24) - gumbelOf(0.5 / 2 ** 24);
      expect(g24).toBeLessThan(20.3);
      // 53-bit uniforms bound it to [−3.6, 36.7]: gaps up to 40 nats stay reachable
      expect(gumbelOf(1 - 2 ** -53) - gumbelOf(2 ** -53)).toBeGreaterThan(40);
      const logits = tf.tensor2d([[0, -25]]);
      const low = sampleLogits(logits, new ScriptedRng([2 ** -40, 1 - 2 ** -45])); // G ≈ (−3.3, 31.2)
      const high = sampleLogits(logits, new ScriptedRng([0.5, 0.5]));
      const probs = tf.tensor2d([[1, Math.exp(-25)]]);
      const lowP = sampleProbs(probs, new ScriptedRng([2 ** -40, 1 - 2 ** -45]));
      expect(Array.from(await low.data())).toEqual([1]);
      expect(Array.from(await high.data())).toEqual([0]);
      expect(Array.from(await lowP.data())).toEqual([1]);
      tf.dispose([logits, low, high, probs, lowP]);
    });
  });

  it('inverse CDF in float64 (the diffusion samplers) reaches a token at 1e−12', () => {
    const w = Float32Array.from([1, 1e-12]); // float32 probabilities, as the samplers read them
    expect(new ScriptedRng([1 - 2 ** -45]).nextCategorical(w)).toBe(1);
    expect(new ScriptedRng([1 - 2 ** -38]).nextCategorical(w)).toBe(0);
  });
});

describe('categorical draws match the true frequencies and entropy (≥ 200k draws)', () => {
  beforeAll(async () => {
    await useBackend(backends.includes('wasm') ? 'wasm' : backends[0]!);
  });

  it('Gumbel-max (sampleLogits) on float32 logits: V = 256 with tokens at 1e−5, 1e−6 and 1e−7', async () => {
    const V = 256;
    const nLow = 20;
    const p = testDistribution(V, nLow);
    const n = 200_000;
    const chunk = 25_000;
    const rng = new Rng(31);
    const counts = new Float64Array(V);
    await expectNoLeaks(async () => {
      const row = Float32Array.from(p, (q) => Math.log(q));
      const logits = tf.tidy(() => tf.tile(tf.tensor2d(row, [1, V]), [chunk, 1])); // (chunk, V)
      for (let done = 0; done < n; done += chunk) {
        const d = sampleLogits(logits, rng);
        for (const x of await d.data()) counts[x] = counts[x]! + 1;
        d.dispose();
      }
      logits.dispose();
    });
    expectFollows(counts, p, n, nLow);
  });

  it('float64 inverse CDF (Rng.nextCategorical on float32 probabilities): V = 1024, same low tokens', () => {
    const V = 1024;
    const nLow = 100;
    const p = testDistribution(V, nLow);
    const w = Float32Array.from(p);
    const n = 400_000;
    const rng = new Rng(32);
    const counts = new Float64Array(V);
    for (let i = 0; i < n; i++) {
      const x = rng.nextCategorical(w);
      counts[x] = counts[x]! + 1;
    }
    expectFollows(counts, p, n, nLow);
  });
});

describe('masked-diffusion samples keep the source unigram entropy (exact oracle, many steps)', () => {
  beforeAll(async () => {
    await useBackend(backends.includes('wasm') ? 'wasm' : backends[0]!);
  });
  const N = 16;
  const src = new HmmSource({ seqLen: N });
  const V = src.vocabSize;
  const masked = new MaskedProcess({ vocabSize: V, schedule: 'log-linear' });
  const oracle = hmmOracleDenoiser(src, (t) => masked.marginalMatrix(t));
  // the source's pooled unigram distribution: the mean of its position marginals
  const marg = src.positionMarginals(N);
  const q = new Float64Array(V);
  for (let i = 0; i < N; i++) for (let x = 0; x < V; x++) q[x] = q[x]! + marg[i * V + x]! / N;
  const H = entropyBits(q);

  /** A denoiser at temperature τ: logits / τ of the exact oracle (τ < 1 is what a truncated Gumbel does). */
  const tempered = (tau: number): DiscreteDenoiser => ({
    vocabSize: V,
    predictX0Logits: (zt, t) => tf.tidy(() => tf.div(oracle.predictX0Logits(zt, t), tau) as tf.Tensor3D),
  });

  /**
   * Unigram entropy of B × N samples vs H: the plug-in estimate is low by E[KL(f‖q)] ≈ Σ_x Var(f_x)/(2 q_x ln 2)
   * (Var from the rows, which are independent; tokens within a row are not), and its noise is the
   * row-level standard error of −Σ_x f_x log2 q_x.
   */
  function entropyGap(samples: Int32Array, B: number): { gap: number; se: number } {
    const rowF = new Float64Array(B * V);
    for (let b = 0; b < B; b++) for (let i = 0; i < N; i++) rowF[b * V + samples[b * N + i]!]! += 1 / N;
    let bias = 0;
    for (let x = 0; x < V; x++) {
      let m = 0;
      let m2 = 0;
      for (let b = 0; b < B; b++) {
        m += rowF[b * V + x]! / B;
        m2 += rowF[b * V + x]! ** 2 / B;
      }
      bias += (m2 - m * m) / (B - 1) / (2 * q[x]! * Math.LN2);
    }
    const s = new Float64Array(B);
    for (let b = 0; b < B; b++) for (let x = 0; x < V; x++) s[b] = s[b]! - rowF[b * V + x]! * Math.log2(q[x]!);
    const mean = s.reduce((a, v) => a + v, 0) / B;
    const se = Math.sqrt(s.reduce((a, v) => a + (v - mean) ** 2, 0) / (B - 1) / B);
    return { gap: unigramEntropyBits(samples, V) + bias - H, se };
  }

  it('1024 steps (cached): the samples’ unigram entropy is the source’s; at temperature 0.85 it is not', async () => {
    await expectNoLeaks(async () => {
      const B = 160;
      const o = { batch: B, seqLen: N, steps: 1024, cached: true };
      const r = await sampleMasked(oracle, masked, { ...o, rng: new Rng(41) });
      const g = entropyGap(r.samples, B);
      expect(Math.abs(g.gap)).toBeLessThan(4 * g.se);
      expect(g.se).toBeLessThan(0.03); // B = 160 rows: a tolerance of ≈ 0.09 bit (measured se 0.022)
      // power: a lowered temperature (what a truncated Gumbel amounts to) is caught
      const cold = await sampleMasked(tempered(0.85), masked, { ...o, rng: new Rng(42) });
      expect(entropyGap(cold.samples, B).gap).toBeLessThan(-4 * g.se);
    });
  });
});
