/** Unit conversions and estimator statistics. Losses are nats; reports are bits. */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';

/**
 * ln 2: nats per bit.
 *
 * @example
 * ```ts
 * const bits = nats / LN2;
 * ```
 */
export const LN2 = Math.LN2;

/**
 * nats → bits.
 *
 * @example
 * ```ts
 * natsToBits(Math.LN2); // 1
 * ```
 */
export function natsToBits(nats: number): number {
  return nats / LN2;
}

/**
 * Mean nats per example → bits per token (or per dimension): nats / (count · ln 2).
 *
 * @example
 * ```ts
 * bitsPer(16 * Math.LN2, 16); // 1 bit per token
 * ```
 */
export function bitsPer(natsPerExample: number, count: number): number {
  if (!(count > 0)) throw new AltarError('BAD_ARG', `bitsPer: count must be positive, got ${count}`);
  return natsPerExample / (count * LN2);
}
/**
 * {@link bitsPer} for token sequences: mean nats per sequence → bits per token.
 *
 * @example
 * ```ts
 * const nelbo = await d3pmNelbo(proc, model, x0, rng).data(); // (B,) nats
 * bitsPerToken(nelbo.reduce((a, b) => a + b) / nelbo.length, seqLen);
 * ```
 */
export const bitsPerToken = bitsPer;
/**
 * {@link bitsPer} for continuous data: mean nats per example → bits per dimension (images: per subpixel).
 *
 * @example
 * ```ts
 * bitsPerDim(meanNats, 16 * 16 * 3);
 * ```
 */
export const bitsPerDim = bitsPer;

/**
 * Tensor version: (B,) nats per example → (B,) bits per token/dim.
 *
 * @example
 * ```ts
 * const bits = bitsPerTensor(d3pmNelbo(proc, model, x0, rng), 16); // (B,) bits per token
 * ```
 */
export function bitsPerTensor(natsPerExample: tf.Tensor, count: number): tf.Tensor {
  return tf.tidy(() => tf.div(natsPerExample, count * LN2));
}

/**
 * Sample statistics of i.i.d. estimates: count, mean, unbiased variance and the standard error of the mean.
 *
 * @example
 * ```ts
 * const { mean, stdErr }: EstimateStats = estimateStats(nelbos);
 * const line = `${bitsPerToken(mean, N).toFixed(3)} ± ${bitsPerToken(stdErr, N).toFixed(3)} bits/token`;
 * ```
 */
export interface EstimateStats {
  n: number;
  mean: number;
  /** Unbiased sample variance of one estimate. */
  variance: number;
  /** Standard error of the mean, sqrt(variance / n). */
  stdErr: number;
}

/**
 * Mean, variance (n − 1) and standard error of i.i.d. estimates (two-pass, Float64).
 *
 * @example
 * ```ts
 * estimateStats([1, 2, 3]); // { n: 3, mean: 2, variance: 1, stdErr: 0.577… }
 * ```
 */
export function estimateStats(values: ArrayLike<number>): EstimateStats {
  const n = values.length;
  if (n === 0) throw new AltarError('BAD_ARG', 'estimateStats: no values');
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  const variance = n > 1 ? ss / (n - 1) : 0;
  return { n, mean, variance, stdErr: Math.sqrt(variance / n) };
}

/**
 * log Σ exp(a_i), stable (max-shifted), Float64.
 *
 * @example
 * ```ts
 * logSumExp([1000, 1000]); // 1000 + ln 2, without overflow
 * ```
 */
export function logSumExp(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i]! > m) m = a[i]!;
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.exp(a[i]! - m);
  return m + Math.log(s);
}

/**
 * KL(q || p) = Σ q log(q/p) over K categories, Float64; q_k = 0 terms are 0, p_k = 0 with q_k > 0 is +∞.
 * Terms use log(q/p) (one rounding) rather than log q − log p, so a KL near zero keeps its relative accuracy.
 *
 * @example
 * ```ts
 * klCategoricalHost([0.5, 0.5], [0.25, 0.75]); // 0.5 ln 2 + 0.5 ln(2/3) ≈ 0.1438 nats
 * ```
 */
export function klCategoricalHost(
  q: ArrayLike<number>,
  p: ArrayLike<number>,
  qOff = 0,
  pOff = 0,
  K = q.length - qOff,
): number {
  let kl = 0;
  for (let k = 0; k < K; k++) {
    const qk = q[qOff + k]!;
    if (qk <= 0) continue;
    const pk = p[pOff + k]!;
    if (pk <= 0) return Infinity;
    kl += qk * Math.log(qk / pk);
  }
  return Math.max(0, kl);
}

/**
 * Smallest probability used inside float32 logs (1e-30 is a normal float32; log = −69.1).
 *
 * @example
 * ```ts
 * const logP = tf.log(tf.maximum(probs, PROB_FLOOR)); // finite even where a probability is 0
 * ```
 */
export const PROB_FLOOR = 1e-30;

/**
 * KL(q || p) along the last axis of float32 probability tensors, q_k = 0 terms exactly 0 and finite
 * gradients (both clamped at PROB_FLOOR, so p_k = 0 under q_k > 0 costs ≈ 69 nats·q_k instead of ∞).
 * float32 note: each term carries ~1e-7 relative rounding, so a KL below ~1e-6 nats is noise-dominated;
 * the host Float64 twin klCategoricalHost is the reference for exact evaluations.
 *
 * @example
 * ```ts
 * const kl = klCategorical(tf.tensor2d([[0.5, 0.5]]), tf.tensor2d([[0.25, 0.75]])); // (1,) ≈ [0.1438]
 * ```
 */
export function klCategorical(q: tf.Tensor, p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lq = tf.log(tf.maximum(q, PROB_FLOOR));
    const lp = tf.log(tf.maximum(p, PROB_FLOOR));
    return tf.sum(tf.mul(q, tf.sub(lq, lp)), -1); // no clamp at 0: rounding noise stays unbiased
  });
}
