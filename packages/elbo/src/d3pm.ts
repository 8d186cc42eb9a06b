/**
 * The D3PM negative ELBO (Austin et al. 2021, eq. 1 of the appendix / Sohl-Dickstein et al. 2015):
 *   NELBO(x0) = L_T + Σ_{t=2}^{T} L_{t−1} + L_0,
 *   L_T     = KL(q(z_T | x0) || p(z_T)),
 *   L_{t−1} = E_{q(z_t | x0)} KL(q(z_{t−1} | z_t, x0) || p(z_{t−1} | z_t)),
 *   L_0     = E_{q(z_1 | x0)} [−log p(x0 | z_1)],
 * with the x0-parameterised reverse model p(z_{t−1} | z_t) = Σ_x̃0 q(z_{t−1} | z_t, x̃0) p̃(x̃0 | z_t) per token
 * (factorised over positions). Because q(z_0 | z_1, x0) = δ_x0, L_0 is the same KL at t = 1, so every term
 * is "KL at step t" — `d3pmTerm`. Training uses one random term scaled by T (unbiased); evaluation sums all.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import type { D3PMProcess } from '@altar/noise';
import { tokenCrossEntropy } from './ar.js';
import { klCategorical } from './stats.js';
import { sampleTimesteps, type SampledSteps, type TimestepSampling } from './timesteps.js';
import type { DiscreteDenoiser } from './types.js';

function stepsArray(t: number | ArrayLike<number>, B: number, T: number): Float64Array {
  const ts = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const v = typeof t === 'number' ? t : t[b]!;
    if (!Number.isInteger(v) || v < 1 || v > T)
      throw new AltarError('BAD_TIME', `d3pmTerm: step must be an integer in 1..${T}, got ${v}`);
    ts[b] = v;
  }
  if (typeof t !== 'number' && t.length !== B)
    throw new AltarError('BAD_TIME', `d3pmTerm: ${t.length} steps for a batch of ${B}`);
  return ts;
}

/**
 * L_T = Σ_i KL(q(z_T | x0_i) || p(z_T)) per example: x0 int32 (B,N) → (B,) nats. 0 for uniform/absorbing with ᾱ_T = 0.
 *
 * @example
 * ```ts
 * const proc = new D3PMProcess({ kind: 'uniform', vocabSize: 8, T: 16 });
 * d3pmPriorKL(proc, x0); // (B,) nats; ≈ 0 because every schedule reaches the prior at T
 * ```
 */
export function d3pmPriorKL(process: D3PMProcess, x0: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const q = process.marginal(x0, process.T); // (B, N, K)
    const p = tf.tensor1d(Float32Array.from(process.prior()));
    return tf.sum(klCategorical(q, tf.broadcastTo(p, q.shape)), -1) as tf.Tensor1D;
  });
}

/**
 * One ELBO term and the auxiliary x0 cross-entropy for given z_t: both (B,) nats.
 *
 * @example
 * ```ts
 * const zt = proc.sample(x0, 5, rng);
 * const { kl, ce } = d3pmTermParts(proc, model, x0, zt, 5); // L_4 and the x0 cross-entropy, (B,) each
 * ```
 */
export function d3pmTermParts(
  process: D3PMProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  zt: tf.Tensor2D,
  t: number | ArrayLike<number>,
): { kl: tf.Tensor1D; ce: tf.Tensor1D } {
  const [B] = x0.shape;
  const V = process.vocabSize;
  if (denoiser.vocabSize !== V)
    throw new AltarError('BAD_MODEL', `d3pmTerm: denoiser vocabSize ${denoiser.vocabSize} ≠ process vocabSize ${V}`);
  const ts = stepsArray(t, B, process.T);
  const ss = ts.map((v) => v - 1);
  return tf.tidy(() => {
    const logits = denoiser.predictX0Logits(zt, tf.tensor1d(Float32Array.from(ts, (v) => v / process.T))); // (B, N, V)
    const probs = tf.softmax(logits); // (B, N, V)
    const pPost = process.posterior(zt, probs, ss, ts); // (B, N, K)  p(z_{t−1} | z_t)
    const qPost = process.posterior(zt, tf.cast(tf.oneHot(tf.cast(x0, 'int32'), V), 'float32'), ss, ts); // (B, N, K)
    const kl = tf.sum(klCategorical(qPost, pPost), -1) as tf.Tensor1D; // (B,)
    const ce = tf.sum(tokenCrossEntropy(logits, x0), -1) as tf.Tensor1D; // (B,)
    return { kl, ce };
  });
}

/**
 * L_{t−1} for given z_t (t = 1 gives L_0 = −log p(x0 | z_1)): (B,) nats.
 *
 * @example
 * ```ts
 * const zt = proc.sample(x0, 1, rng);
 * const l0 = d3pmTerm(proc, model, x0, zt, 1); // L_0 = −log p(x0 | z_1), (B,) nats
 * ```
 */
export function d3pmTerm(
  process: D3PMProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  zt: tf.Tensor2D,
  t: number | ArrayLike<number>,
): tf.Tensor1D {
  return tf.tidy(() => d3pmTermParts(process, denoiser, x0, zt, t).kl);
}

/**
 * Options of {@link d3pmNelbo}: how to pick the term(s) (one-term samplers, or 'full' for all T), an importance
 * proposal or pre-drawn steps, and the hybrid weight λ.
 *
 * @example
 * ```ts
 * d3pmNelbo(proc, model, x0, rng, { sampling: 'antithetic' });      // training
 * d3pmNelbo(proc, model, x0, rng, { sampling: 'full' });            // evaluation, T model calls
 * d3pmNelbo(proc, model, x0, rng, { lambda: 0.01 });                // + λ · CE (hybrid)
 * ```
 */
export interface D3PMNelboOptions {
  /** 'full' sums all T terms (T model calls, for evaluation); the others draw one term per example. */
  sampling?: TimestepSampling | 'full';
  /** Proposal p(t), t = 1..T, for 'importance'. */
  proposal?: ArrayLike<number>;
  /** Pre-drawn steps (overrides sampling), e.g. to feed ImportanceTimesteps.update with d3pmTerm values. */
  steps?: SampledSteps;
  /** Hybrid loss weight λ (D3PM eq. 5): adds λ · E_q[−log p̃(x0 | z_t)] on the same z_t. Default 0. */
  lambda?: number;
}

/**
 * NELBO estimate per example, (B,) nats. One-term estimators return L_T + T · w · L_{t−1}(z_t) with
 * z_t ~ q(z_t | x0) (+ λ·CE for the hybrid loss); 'full' returns L_T + Σ_t L_{t−1}(z_t) with one z_t per t.
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: src.vocabSize, T: 32 });
 * const oracle = hmmOracleDenoiser(src, (u) => proc.noiseMatrix(u));
 * const loss = d3pmNelbo(proc, oracle, src.sampleTensor(8, rng), rng, { sampling: 'stratified' }); // (8,) nats
 * ```
 */
export function d3pmNelbo(
  process: D3PMProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  rng: Rng,
  opts: D3PMNelboOptions = {},
): tf.Tensor1D {
  const [B] = x0.shape;
  const T = process.T;
  const lambda = opts.lambda ?? 0;
  if (opts.sampling === 'full' && !opts.steps) {
    let acc = d3pmPriorKL(process, x0);
    for (let t = 1; t <= T; t++) {
      const next = tf.tidy(() => {
        const zt = process.sample(x0, t, rng);
        const { kl, ce } = d3pmTermParts(process, denoiser, x0, zt, t);
        // the hybrid CE is an expectation over t too: average it over the T steps
        return tf.add(acc, lambda ? tf.add(kl, tf.mul(ce, lambda / T)) : kl) as tf.Tensor1D;
      });
      acc.dispose();
      acc = next;
    }
    return acc;
  }
  const steps =
    opts.steps ??
    sampleTimesteps(opts.sampling === 'full' || !opts.sampling ? 'uniform' : opts.sampling, B, T, rng, opts.proposal);
  return tf.tidy(() => {
    const zt = process.sample(x0, steps.t, rng);
    const { kl, ce } = d3pmTermParts(process, denoiser, x0, zt, steps.t);
    const scale = tf.tensor1d(Float32Array.from(steps.weight, (w) => T * w));
    let out = tf.add(d3pmPriorKL(process, x0), tf.mul(kl, scale));
    if (lambda) out = tf.add(out, tf.mul(ce, lambda));
    return out as tf.Tensor1D;
  });
}

/**
 * Hybrid loss L_vb + λ L_CE (D3PM eq. 5), one-term: (B,) nats. λ = 0.01 in D3PM's experiments.
 *
 * @example
 * ```ts
 * const loss = tf.mean(d3pmHybridLoss(proc, model, x0, rng, 0.01)) as tf.Scalar; // what a Trainer minimises
 * ```
 */
export function d3pmHybridLoss(
  process: D3PMProcess,
  denoiser: DiscreteDenoiser,
  x0: tf.Tensor2D,
  rng: Rng,
  lambda = 0.01,
  sampling: TimestepSampling = 'uniform',
): tf.Tensor1D {
  return d3pmNelbo(process, denoiser, x0, rng, { sampling, lambda });
}
