/**
 * Gaussian diffusion bounds, z_t = α_t x + σ_t ε, for any GaussianProcess (VP, cosine, VE, flow).
 *
 * Discrete time in the VDM form (Kingma et al. 2021 eq. 11–13; Ho et al. 2020 eq. 5 is the case t_min = 1/T):
 * T diffusion steps on the grid t_i = t_min + (1 − t_min) i/T, i = 0..T, z_{t_0} is the least-noisy latent:
 *   NELBO = L_prior + L_recon + Σ_{i=1}^{T} L_i
 *   L_prior = KL(q(z_1 | x) || N(0, σ_p² I))
 *   L_i     = E ½ (SNR(t_{i−1}) − SNR(t_i)) ‖x − x̂(z_{t_i})‖² = E ½ (e^{λ_{i−1} − λ_i} − 1) ‖ε − ε̂(z_{t_i})‖²  (VDM eq. 13)
 *             — the KL between q(z_{t_{i−1}} | z_{t_i}, x) and p(z_{t_{i−1}} | z_{t_i}) = q(· | z_{t_i}, x̂)
 *   L_recon = E −log p(x | z_{t_min}), decoder N(x̂(z_{t_min}), 1/SNR(t_min)) for continuous data, or the
 *             discretised Gaussian over 256 bins for 8-bit data in [−1, 1] (Ho et al. eq. 13 → bits/dim).
 * With a fixed t_min the bound decreases as T grows (VDM §3.2/App. F) towards the continuous-time bound
 * (VDM eq. 17, log-SNR form): L_∞ = −½ E_{t ~ U(t_min, 1)} (1 − t_min) λ'_t ‖ε − ε̂(z_t)‖², plus L_prior and L_recon.
 * (Ho et al.'s grid t_min = 1/T moves the decoder with T; its first steps then keep Δλ = O(1) however large T
 * is, and the fixed-variance reverse steps there leave an O(d) slack that never vanishes.)
 * Simple loss (Ho et al. eq. 14): ‖ε − ε̂‖² averaged over dimensions.
 *
 * float32 note: e^{λ_s − λ_t} − 1 is formed with expm1 on the host (accurate for adjacent steps at large T);
 * the discretised decoder floors bin probabilities at 1e-12 (−27.6 nats), as improved-diffusion does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import type { GaussianProcess } from '@altar/noise';
import { sampleTimesteps, sampleUnitTimes, type TimestepSampling } from './timesteps.js';
import type { ContinuousDenoiser } from './types.js';

/**
 * The decoder p(x | z_{tMin}): 'gaussian' (a density, for continuous data) or 'discretized8bit' (a probability per
 * 8-bit value, Ho et al. 2020 eq. 13, for images scaled to [−1, 1]).
 *
 * @example
 * ```ts
 * vdmNelbo(proc, unet, images, rng, { decoder: 'discretized8bit' }); // bits/dim comparable with the literature
 * ```
 */
export type GaussianDecoder = 'gaussian' | 'discretized8bit';

function dimsOf(x: tf.Tensor): number {
  return x.size / x.shape[0]!;
}

/** Sum over every axis but the first: (B, ...) → (B,). */
function sumPerExample(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.reshape(x, [x.shape[0]!, -1]), 1) as tf.Tensor1D;
}

function column(like: tf.Tensor, vals: ArrayLike<number>): tf.Tensor {
  return tf.tensor(Float32Array.from(vals), [like.shape[0]!, ...like.shape.slice(1).map(() => 1)], 'float32');
}

/**
 * L_T = KL(N(α_1 x, σ_1²) || N(0, σ_p²)) summed over dimensions: (B,) nats.
 *
 * @example
 * ```ts
 * gaussianPriorKL(new GaussianProcess('vp-cosine'), x0); // (B,) nats, ≈ 0 when α_1 ≈ 0
 * ```
 */
export function gaussianPriorKL(process: GaussianProcess, x0: tf.Tensor): tf.Tensor1D {
  const a = process.alpha(1);
  const s2 = process.sigma(1) ** 2;
  const p2 = process.priorStd ** 2;
  const d = dimsOf(x0);
  const c = 0.5 * d * (s2 / p2 - 1 - Math.log(s2 / p2));
  return tf.tidy(() => tf.add(tf.mul(sumPerExample(tf.square(x0)), (0.5 * a * a) / p2), c) as tf.Tensor1D);
}

/** Standard normal CDF Φ(x) = ½(1 + erf(x/√2)). */
function normCdf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
}

/**
 * log P(x | mean, std) of 8-bit data x ∈ {−1, −1 + 2/255, …, 1} under a Gaussian discretised into 256 bins
 * of width 2/255, the two outer bins extended to ±∞ (Ho et al. 2020 eq. 13): elementwise, same shape as x.
 *
 * @example
 * ```ts
 * const x = tf.tensor1d([-1, -1 + 256 / 255, 1]); // 8-bit values 0, 128, 255 scaled to [−1, 1]
 * discretizedGaussianLogLik(x, x, tf.fill([3], 1e-3)); // ≈ [0, 0, 0]: each bin holds almost all the mass
 * ```
 */
export function discretizedGaussianLogLik(x: tf.Tensor, mean: tf.Tensor, std: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const half = 1 / 255;
    const cx = tf.sub(x, mean);
    const inv = tf.reciprocal(std);
    const cdfPlus = normCdf(tf.mul(tf.add(cx, half), inv));
    const cdfMin = normCdf(tf.mul(tf.sub(cx, half), inv));
    const logCdfPlus = tf.log(tf.maximum(cdfPlus, 1e-12));
    const logOneMinusCdfMin = tf.log(tf.maximum(tf.sub(1, cdfMin), 1e-12));
    const logDelta = tf.log(tf.maximum(tf.sub(cdfPlus, cdfMin), 1e-12));
    return tf.where(tf.less(x, -0.999), logCdfPlus, tf.where(tf.greater(x, 0.999), logOneMinusCdfMin, logDelta));
  });
}

/** −log p(x | x̂) summed over dims, with decoder std per example: (B,) nats. */
function decoderNll(
  decoder: GaussianDecoder,
  x0: tf.Tensor,
  x0Hat: tf.Tensor,
  variance: ArrayLike<number>,
): tf.Tensor1D {
  return tf.tidy(() => {
    const v = column(x0, variance);
    if (decoder === 'discretized8bit') return tf.neg(sumPerExample(discretizedGaussianLogLik(x0, x0Hat, tf.sqrt(v))));
    // ½ [(x − x̂)²/v + log(2π v)]
    return sumPerExample(tf.mul(tf.add(tf.div(tf.square(tf.sub(x0, x0Hat)), v), tf.log(tf.mul(v, 2 * Math.PI))), 0.5));
  });
}

/**
 * Options of {@link ddpmNelbo}: how to pick the diffusion term(s), the decoder and t_min.
 *
 * @example
 * ```ts
 * ddpmNelbo(proc, model, x0, 1000, rng, { sampling: 'full', decoder: 'discretized8bit' }); // evaluation
 * ```
 */
export interface DdpmNelboOptions {
  /** 'full' sums all T diffusion terms (evaluation); the others draw one term per example. Default 'uniform'. */
  sampling?: TimestepSampling | 'full';
  proposal?: ArrayLike<number>;
  decoder?: GaussianDecoder;
  /** Time of the least-noisy latent z_0 (the decoder's input). Default 1e-3. */
  tMin?: number;
}

/**
 * t_i = t_min + (1 − t_min) i / T.
 *
 * @example
 * ```ts
 * gridTime(0, 1000, 1e-3);    // 0.001 (z_0, the decoder's input)
 * gridTime(1000, 1000, 1e-3); // 1
 * ```
 */
export function gridTime(i: number, T: number, tMin: number): number {
  return tMin + ((1 - tMin) * i) / T;
}

/** Solve λ(t) = lambda for t ∈ [lo, hi] by bisection (λ is decreasing in t). */
export function timeAtLogSnr(process: GaussianProcess, lambda: number, lo: number, hi: number): number {
  for (let k = 0; k < 60; k++) {
    const mid = 0.5 * (lo + hi);
    if (process.logSnr(mid) > lambda) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * Diffusion term L_i (i ∈ 1..T, one per row) for given noise: (B,) nats.
 *
 * @example
 * ```ts
 * const eps = rng.normal(x0.shape);
 * const term = ddpmTerm(proc, model, x0, eps, [10, 500], 1000); // L_10 and L_500 for two rows, (2,) nats
 * ```
 */
export function ddpmTerm(
  process: GaussianProcess,
  denoiser: ContinuousDenoiser,
  x0: tf.Tensor,
  eps: tf.Tensor,
  steps: ArrayLike<number>,
  T: number,
  tMin = 1e-3,
): tf.Tensor1D {
  const B = x0.shape[0]!;
  const t = new Float64Array(B);
  const coef = new Float32Array(B); // ½ (e^{λ_{i−1} − λ_i} − 1)
  for (let b = 0; b < B; b++) {
    const i = steps[b]!;
    if (!Number.isInteger(i) || i < 1 || i > T)
      throw new AltarError('BAD_TIME', `ddpmTerm: step must be an integer in 1..${T}, got ${i}`);
    t[b] = gridTime(i, T, tMin);
    coef[b] = 0.5 * Math.expm1(process.logSnr(gridTime(i - 1, T, tMin)) - process.logSnr(t[b]!));
  }
  return tf.tidy(() => {
    const zt = process.qSample(x0, t, eps);
    const pred = denoiser.predict(zt, tf.tensor1d(Float32Array.from(t)));
    const epsHat = process.toEps(denoiser.prediction, pred, zt, t);
    return tf.mul(sumPerExample(tf.square(tf.sub(eps, epsHat))), tf.tensor1d(coef)) as tf.Tensor1D;
  });
}

/**
 * L_recon = −log p(x | z_{t_min}) with a fresh noise draw: (B,) nats.
 *
 * @example
 * ```ts
 * const recon = gaussianReconNll(proc, model, x0, rng, 1e-3, 'discretized8bit'); // (B,) nats
 * ```
 */
export function gaussianReconNll(
  process: GaussianProcess,
  denoiser: ContinuousDenoiser,
  x0: tf.Tensor,
  rng: Rng,
  tMin = 1e-3,
  decoder: GaussianDecoder = 'gaussian',
): tf.Tensor1D {
  const B = x0.shape[0]!;
  const tm = new Float64Array(B).fill(tMin);
  const decVar = new Float64Array(B).fill(Math.exp(-process.logSnr(tMin)));
  return tf.tidy(() => {
    const eps = rng.normal(x0.shape);
    const z0 = process.qSample(x0, tm, eps);
    const x0Hat = process.toX0(denoiser.prediction, denoiser.predict(z0, tf.tensor1d(Float32Array.from(tm))), z0, tm);
    return decoderNll(decoder, x0, x0Hat, decVar);
  });
}

/**
 * Discrete-time Gaussian NELBO with T diffusion steps, per example (B,) nats. Divide by d·ln 2 for bits/dim.
 *
 * @example
 * ```ts
 * const proc = new GaussianProcess('vp-linear');
 * const nelbo = ddpmNelbo(proc, model, x0, 1000, rng); // (B,) nats, one diffusion term per example
 * const bitsPerDim = tf.div(nelbo, 2 * Math.LN2);       // for 2-D data
 * ```
 */
export function ddpmNelbo(
  process: GaussianProcess,
  denoiser: ContinuousDenoiser,
  x0: tf.Tensor,
  T: number,
  rng: Rng,
  opts: DdpmNelboOptions = {},
): tf.Tensor1D {
  const B = x0.shape[0]!;
  const tMin = opts.tMin ?? 1e-3;
  const decoder = opts.decoder ?? 'gaussian';
  let acc = tf.tidy(
    () =>
      tf.add(gaussianPriorKL(process, x0), gaussianReconNll(process, denoiser, x0, rng, tMin, decoder)) as tf.Tensor1D,
  );
  if (opts.sampling === 'full') {
    for (let i = 1; i <= T; i++) {
      const next = tf.tidy(() => {
        const eps = rng.normal(x0.shape);
        return tf.add(acc, ddpmTerm(process, denoiser, x0, eps, new Int32Array(B).fill(i), T, tMin)) as tf.Tensor1D;
      });
      acc.dispose();
      acc = next;
    }
    return acc;
  }
  const { t, weight } = sampleTimesteps(opts.sampling ?? 'uniform', B, T, rng, opts.proposal);
  const out = tf.tidy(() => {
    const eps = rng.normal(x0.shape);
    const term = ddpmTerm(process, denoiser, x0, eps, t, T, tMin);
    return tf.add(acc, tf.mul(term, tf.tensor1d(Float32Array.from(weight, (w) => T * w)))) as tf.Tensor1D;
  });
  acc.dispose();
  return out;
}

/**
 * L_simple (Ho et al. eq. 14): mean over dims of ‖ε − ε̂(z_t, t)‖², t ~ U(tMin, 1): (B,).
 *
 * @example
 * ```ts
 * const loss = tf.mean(epsMse(proc, model, x0, rng)) as tf.Scalar; // DDPM's L_simple
 * ```
 */
export function epsMse(
  process: GaussianProcess,
  denoiser: ContinuousDenoiser,
  x0: tf.Tensor,
  rng: Rng,
  opts: { tMin?: number; t?: ArrayLike<number> } = {},
): tf.Tensor1D {
  const B = x0.shape[0]!;
  const t = opts.t ?? sampleUnitTimes('uniform', B, rng, opts.tMin ?? 1e-3, 1);
  return tf.tidy(() => {
    const eps = rng.normal(x0.shape);
    const zt = process.qSample(x0, t, eps);
    const pred = denoiser.predict(zt, tf.tensor1d(Float32Array.from(t)));
    const epsHat = process.toEps(denoiser.prediction, pred, zt, t);
    return tf.div(sumPerExample(tf.square(tf.sub(eps, epsHat))), dimsOf(x0)) as tf.Tensor1D;
  });
}

/**
 * Options of {@link vdmNelbo}: t_min, how the diffusion time is drawn, and the decoder.
 *
 * @example
 * ```ts
 * vdmNelbo(proc, model, x0, rng, { sampling: 'log-snr' }); // lowest variance: use it to evaluate
 * ```
 */
export interface VdmNelboOptions {
  /** Lower end of the diffusion time range; the decoder sits at z_{tMin}. Default 1e-3. */
  tMin?: number;
  /**
   * How the diffusion term's time is drawn, one per example: t ~ U(tMin, 1) ('uniform', or 'stratified'
   * over the batch; weight −½(1 − tMin)λ'(t)), or 'log-snr': λ stratified uniform on [λ(1), λ(tMin)], t = λ⁻¹
   * — importance sampling with density ∝ |λ'(t)|, so the weight is the constant ½(λ(tMin) − λ(1)) and the
   * heavy 1/t-like tails of the t-uniform weight are gone (VDM eq. 17 in log-SNR form, Kingma et al. 2021).
   * Same expectation, lower variance: use it to evaluate; training samples need no such care.
   */
  sampling?: 'uniform' | 'stratified' | 'log-snr';
  decoder?: GaussianDecoder;
}

/**
 * Continuous-time NELBO (VDM eq. 17 in log-SNR form) + prior + decoder at tMin, one sample per example: (B,) nats.
 *
 * @example
 * ```ts
 * const proc = new GaussianProcess('vp-cosine');
 * const nelbo = vdmNelbo(proc, model, x0, rng, { sampling: 'stratified' }); // (B,) nats, unbiased
 * ```
 */
export function vdmNelbo(
  process: GaussianProcess,
  denoiser: ContinuousDenoiser,
  x0: tf.Tensor,
  rng: Rng,
  opts: VdmNelboOptions = {},
): tf.Tensor1D {
  const B = x0.shape[0]!;
  const tMin = opts.tMin ?? 1e-3;
  const mode = opts.sampling ?? 'stratified';
  let t: Float64Array;
  let w: Float32Array;
  if (mode === 'log-snr') {
    const lmax = process.logSnr(tMin);
    const lmin = process.logSnr(1);
    t = Float64Array.from(sampleUnitTimes('stratified', B, rng), (u) =>
      timeAtLogSnr(process, lmax - u * (lmax - lmin), tMin, 1),
    );
    w = new Float32Array(B).fill(0.5 * (lmax - lmin));
  } else {
    t = sampleUnitTimes(mode, B, rng, tMin, 1);
    w = Float32Array.from(t, (v) => -0.5 * (1 - tMin) * process.schedule.dLogSnr(v));
  }
  return tf.tidy(() => {
    const eps = rng.normal(x0.shape);
    const zt = process.qSample(x0, t, eps);
    const epsHat = process.toEps(denoiser.prediction, denoiser.predict(zt, tf.tensor1d(Float32Array.from(t))), zt, t);
    const diff = tf.mul(sumPerExample(tf.square(tf.sub(eps, epsHat))), tf.tensor1d(w));
    const rec = gaussianReconNll(process, denoiser, x0, rng, tMin, opts.decoder ?? 'gaussian');
    return tf.add(tf.add(gaussianPriorKL(process, x0), rec), diff) as tf.Tensor1D;
  });
}
