/**
 * Continuous-time masked diffusion NELBO (MDLM, Sahoo et al. 2024, eq. 10; MD4, Shi et al. 2024, eq. 5):
 *   NELBO(x0) = E_{t ~ U(0,1)} E_{q(z_t | x0)} [ −α'_t/(1 − α_t) · Σ_{i: z_t^i = m} −log p_θ(x0_i | z_t) ]  (+ L_prior)
 * (the "carry-over unmasking" and "zero-masking" parameterisation: unmasked tokens cost nothing). The prior
 * term is N · α_1 log V (0 for schedules with α_1 = 0), see MaskedProcess.prior().
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import type { MaskedProcess } from '@altar/noise';
import { tokenCrossEntropy } from './ar.js';
import { maskedPriorKL } from './host.js';
import { sampleUnitTimes } from './timesteps.js';
import type { DiscreteDenoiser } from './types.js';

/**
 * The integrand for given z_t and t (host values, one per row): (B,) nats.
 *
 * @example
 * ```ts
 * const t = [0.3, 0.7];
 * const zt = proc.sample(x0, t, rng);
 * const term = maskedTerm(proc, model, x0, zt, t); // (2,) nats
 * ```
 */
export function maskedTerm(
  process: MaskedProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  zt: tf.Tensor2D,
  t: ArrayLike<number>,
): tf.Tensor1D {
  const [B] = x0.shape;
  if (t.length !== B) throw new AltarError('BAD_TIME', `maskedTerm: ${t.length} times for a batch of ${B}`);
  if (denoiser.vocabSize !== process.vocabSize)
    throw new AltarError(
      'BAD_MODEL',
      `maskedTerm: denoiser vocabSize ${denoiser.vocabSize} ≠ process vocabSize ${process.vocabSize}`,
    );
  const w = Float32Array.from({ length: B }, (_, b) => process.weight(t[b]!));
  return tf.tidy(() => {
    const logits = denoiser.predictX0Logits(zt, tf.tensor1d(Float32Array.from(t))); // (B, N, V)
    const ce = tokenCrossEntropy(logits, x0); // (B, N)
    const masked = tf.cast(tf.equal(zt, process.maskId), 'float32'); // (B, N)
    return tf.mul(tf.sum(tf.mul(ce, masked), -1), tf.tensor1d(w)) as tf.Tensor1D;
  });
}

/**
 * Options of {@link maskedNelbo}: how to draw t ('uniform' or 'stratified'), or the times themselves.
 *
 * @example
 * ```ts
 * maskedNelbo(proc, model, x0, rng, { sampling: 'stratified' });
 * maskedNelbo(proc, model, x0, rng, { t: [0.5, 0.5] }); // fixed times
 * ```
 */
export interface MaskedNelboOptions {
  /** 'uniform' i.i.d. t or the VDM low-discrepancy 'stratified' sampler. Default 'stratified'. */
  sampling?: 'uniform' | 'stratified';
  /** Pre-drawn times (B,) in (0, 1]. */
  t?: ArrayLike<number>;
}

/**
 * One-sample Monte-Carlo NELBO per example (unbiased): (B,) nats.
 *
 * @example
 * ```ts
 * const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'log-linear' });
 * const oracle = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t));
 * const loss = maskedNelbo(proc, oracle, src.sampleTensor(8, rng), rng); // (8,) nats, E[loss] ≥ −log p(x)
 * ```
 */
export function maskedNelbo(
  process: MaskedProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  rng: Rng,
  opts: MaskedNelboOptions = {},
): tf.Tensor1D {
  const [B, N] = x0.shape;
  const t = opts.t ?? sampleUnitTimes(opts.sampling ?? 'stratified', B, rng);
  const prior = maskedPriorKL(process, N);
  return tf.tidy(() => {
    const zt = process.sample(x0, t, rng);
    const term = maskedTerm(process, denoiser, x0, zt, t);
    return (prior ? tf.add(term, prior) : term) as tf.Tensor1D;
  });
}
