/**
 * Float64 host twins of the discrete bounds, for exact oracles (one sequence at a time, no tensors). The
 * oracle evaluation of `altar bound` runs here: T = 512 terms cost 512 oracle calls and O(N·K·V) each,
 * and Float64 keeps the bound's slack (often < 1e-3 nats) far above rounding.
 */
import { AltarError, type Rng } from '@altar/backend';
import type { FactorisedDiscreteProcess, D3PMProcess, MaskedProcess } from '@altar/noise';
import { klCategoricalHost } from './stats.js';
import { sampleTimesteps, type TimestepSampling } from './timesteps.js';
import type { HostDiscreteOracle } from './types.js';

/**
 * Adapt a posterior routine that takes per-position emission likelihoods (L[i*V + x] = q(z_i | x0_i = x),
 * e.g. @altar/data's hmmPosterior) into a HostDiscreteOracle for a factorised discrete process.
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: src.vocabSize, T: 32 });
 * const oracle = emissionOracle(proc, (L) => hmmPosterior(src, L).marginals); // exact p(x0_i | z_t)
 * ```
 */
export function emissionOracle(
  process: FactorisedDiscreteProcess,
  posterior: (likelihood: Float64Array) => Float64Array,
): HostDiscreteOracle {
  const V = process.vocabSize;
  return {
    vocabSize: V,
    posteriorX0(zt, t) {
      const M = process.marginalMatrix(t); // (K, V)
      const L = new Float64Array(zt.length * V);
      for (let i = 0; i < zt.length; i++) L.set(M.subarray(zt[i]! * V, zt[i]! * V + V), i * V);
      return posterior(L);
    },
  };
}

/**
 * z_t ~ q(z_t | x0) on the host: Int32Array (N).
 *
 * @example
 * ```ts
 * const zt = sampleTokensHost(proc, [3, 1, 4, 1], 16, new Rng(0)); // Int32Array (4), some = mask id
 * ```
 */
export function sampleTokensHost(
  process: FactorisedDiscreteProcess,
  x0: ArrayLike<number>,
  t: number,
  rng: Rng,
): Int32Array {
  const K = process.numStates;
  const Q = process.cumulativeMatrix(t);
  const out = new Int32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = rng.nextCategorical(Q.subarray(x0[i]! * K, x0[i]! * K + K));
  return out;
}

function oneHotHost(x0: ArrayLike<number>, V: number): Float64Array {
  const p = new Float64Array(x0.length * V);
  for (let i = 0; i < x0.length; i++) p[i * V + x0[i]!] = 1;
  return p;
}

/**
 * L_T for one sequence (nats).
 *
 * @example
 * ```ts
 * d3pmPriorKLHost(proc, x, proc.T); // L_T of one sequence, nats
 * ```
 */
export function d3pmPriorKLHost(process: FactorisedDiscreteProcess, x0: ArrayLike<number>, tEnd: number): number {
  const K = process.numStates;
  const Q = process.cumulativeMatrix(tEnd);
  const p = process.prior();
  let kl = 0;
  for (let i = 0; i < x0.length; i++) kl += klCategoricalHost(Q, p, x0[i]! * K, 0, K);
  return kl;
}

/**
 * KL(q(z_s | z_t, x0) || p(z_s | z_t)) summed over positions for one sequence (nats); s = 0 gives −log p(x0 | z_t).
 *
 * @example
 * ```ts
 * const zt = sampleTokensHost(proc, x, 5, rng);
 * discreteKLHost(proc, oracle, x, zt, 4, 5); // KL(q(z_4 | z_5, x) || p(z_4 | z_5)), nats
 * ```
 */
export function discreteKLHost(
  process: FactorisedDiscreteProcess,
  oracle: HostDiscreteOracle,
  x0: ArrayLike<number>,
  zt: Int32Array,
  s: number,
  t: number,
): number {
  const K = process.numStates;
  const probs = oracle.posteriorX0(zt, t);
  const p = process.posteriorHost(zt, probs, s, t);
  const q = process.posteriorHost(zt, oneHotHost(x0, process.vocabSize), s, t);
  let kl = 0;
  for (let i = 0; i < x0.length; i++) kl += klCategoricalHost(q, p, i * K, i * K, K);
  return kl;
}

/**
 * D3PM term L_{t−1} (t = 1: L_0) for given z_t, one sequence (nats).
 *
 * @example
 * ```ts
 * const zt = sampleTokensHost(proc, x, 5, rng);
 * d3pmTermHost(proc, oracle, x, zt, 5); // L_4, nats
 * ```
 */
export function d3pmTermHost(
  process: D3PMProcess,
  oracle: HostDiscreteOracle,
  x0: ArrayLike<number>,
  zt: Int32Array,
  t: number,
): number {
  return discreteKLHost(process, oracle, x0, zt, t - 1, t);
}

/**
 * A host NELBO of one sequence: the total, the prior term and, for the full sum, every step's term.
 *
 * @example
 * ```ts
 * const b: HostBound = d3pmNelboHost(proc, oracle, x, rng, 'full');
 * const { total, prior } = b; // b.terms?.[0] is L_0
 * ```
 */
export interface HostBound {
  /** The NELBO estimate (nats). */
  total: number;
  prior: number;
  /** Per-step terms (full sum only): index t−1 holds L_{t−1}. */
  terms?: Float64Array;
}

/**
 * D3PM NELBO for one sequence: 'full' (all T terms, each averaged over `numSamples` draws of z_t) or a
 * one-term estimate (nats).
 *
 * @example
 * ```ts
 * const bound = d3pmNelboHost(proc, oracle, x, rng, 'full').total; // ≥ −src.logProb(x) in expectation
 * ```
 */
export function d3pmNelboHost(
  process: D3PMProcess,
  oracle: HostDiscreteOracle,
  x0: ArrayLike<number>,
  rng: Rng,
  sampling: TimestepSampling | 'full' = 'full',
  opts: { proposal?: ArrayLike<number>; numSamples?: number } = {},
): HostBound {
  const T = process.T;
  const m = opts.numSamples ?? 1;
  const prior = d3pmPriorKLHost(process, x0, T);
  if (sampling === 'full') {
    const terms = new Float64Array(T);
    let total = prior;
    for (let t = 1; t <= T; t++) {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += d3pmTermHost(process, oracle, x0, sampleTokensHost(process, x0, t, rng), t);
      terms[t - 1] = acc / m;
      total += terms[t - 1]!;
    }
    return { total, prior, terms };
  }
  let acc = 0;
  for (let k = 0; k < m; k++) {
    const { t, weight } = sampleTimesteps(sampling, 1, T, rng, opts.proposal);
    const zt = sampleTokensHost(process, x0, t[0]!, rng);
    acc += T * weight[0]! * d3pmTermHost(process, oracle, x0, zt, t[0]!);
  }
  return { total: prior + acc / m, prior };
}

/**
 * Continuous-time masked NELBO integrand for given z_t (MDLM eq. 10 / MD4 eq. 5):
 * w(t) Σ_{i: z_t^i = m} −log p(x0_i | z_t), w(t) = −α'_t/(1 − α_t) (nats).
 *
 * @example
 * ```ts
 * const zt = sampleTokensHost(proc, x, 0.5, rng);
 * maskedTermHost(proc, oracle, x, zt, 0.5); // nats
 * ```
 */
export function maskedTermHost(
  process: MaskedProcess,
  oracle: HostDiscreteOracle,
  x0: ArrayLike<number>,
  zt: Int32Array,
  t: number,
): number {
  const V = process.vocabSize;
  const probs = oracle.posteriorX0(zt, t);
  let s = 0;
  for (let i = 0; i < x0.length; i++) {
    if (zt[i] !== process.maskId) continue;
    const p = probs[i * V + x0[i]!]!;
    if (!(p > 0)) return Infinity;
    s -= Math.log(p);
  }
  return s === 0 ? 0 : process.weight(t) * s;
}

/**
 * KL(q(z_1 | x0) || p(z_1)) for the masked process with p(z_1) = (1 − α_1) δ_m + α_1 U(V): N · α_1 log V.
 *
 * @example
 * ```ts
 * maskedPriorKL(new MaskedProcess({ vocabSize: 32, schedule: 'linear' }), 16);     // 0 (α_1 = 0)
 * maskedPriorKL(new MaskedProcess({ vocabSize: 32, schedule: 'log-linear' }), 16); // 16 · 1e-3 · ln 32
 * ```
 */
export function maskedPriorKL(process: MaskedProcess, numTokens: number): number {
  const a1 = process.alpha(1);
  return a1 > 0 ? numTokens * a1 * Math.log(process.vocabSize) : 0;
}

/**
 * Monte-Carlo masked NELBO for one sequence: mean over `numSamples` draws of t ~ U(0, 1) (stratified) and z_t.
 *
 * @example
 * ```ts
 * const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'log-linear' });
 * const oracle = emissionOracle(proc, (L) => hmmPosterior(src, L).marginals);
 * maskedNelboHost(proc, oracle, x, rng, 64).total; // ≥ −src.logProb(x) in expectation
 * ```
 */
export function maskedNelboHost(
  process: MaskedProcess,
  oracle: HostDiscreteOracle,
  x0: ArrayLike<number>,
  rng: Rng,
  numSamples = 1,
): HostBound {
  if (!(numSamples >= 1)) throw new AltarError('BAD_ARG', `maskedNelboHost: numSamples must be ≥ 1, got ${numSamples}`);
  const prior = maskedPriorKL(process, x0.length);
  const u0 = rng.nextDouble();
  let acc = 0;
  for (let k = 0; k < numSamples; k++) {
    const t = Math.max(1e-12, (u0 + k / numSamples) % 1);
    const zt = sampleTokensHost(process, x0, t, rng);
    acc += maskedTermHost(process, oracle, x0, zt, t);
  }
  return { total: prior + acc / numSamples, prior };
}
