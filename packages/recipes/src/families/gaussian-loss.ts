/**
 * The Gaussian family's training losses besides the NELBO, and the data scale: the MSE of the model's
 * own parameterisation (L_simple of Ho et al. 2020 eq. 14 for ε; Salimans & Ho 2022 for v, which weights
 * the x0 error by 1 + SNR and stays bounded as t → 1), and a mixture's per-dimension scale.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import type { GaussianMixtureSource } from '@altar/data';
import type { GaussianProcess, PredictionKind } from '@altar/noise';

/**
 * Smallest diffusion time of training and evaluation (σ_t ≈ 6e-3 on vp-cosine); the decoder sits at z_{tMin}.
 *
 * @example
 * ```ts
 * powerTimes(new Rng(0), 4, 1).every((t) => t >= T_MIN); // true
 * ```
 */
export const T_MIN = 1e-3;

interface PredictingDenoiser {
  prediction: PredictionKind;
  predict(zt: tf.Tensor, t: tf.Tensor1D): tf.Tensor;
}

/**
 * Training times t = tMin + (1 − tMin)·u^p, u ~ U(0, 1): p = 1 is uniform, p > 1 favours low noise.
 *
 * @example
 * ```ts
 * powerTimes(new Rng(0), 8, 2); // Float32Array (8), biased towards small t
 * ```
 */
export function powerTimes(rng: Rng, batch: number, power: number): Float32Array {
  return Float32Array.from(rng.uniformArray(batch), (u) => T_MIN + (1 - T_MIN) * u ** power);
}

/**
 * Mean over elements of ‖pred − target‖², the target being the model's own parameterisation at times `t`: a scalar.
 *
 * @example
 * ```ts
 * const loss = predictionMse(proc, model, x0, rng, powerTimes(rng, B, 1)); // scalar
 * ```
 */
export function predictionMse(
  proc: GaussianProcess,
  den: PredictingDenoiser,
  x0: tf.Tensor,
  rng: Rng,
  times: Float32Array,
): tf.Scalar {
  return tf.tidy(() => {
    const eps = rng.normal(x0.shape);
    const zt = proc.qSample(x0, times, eps);
    const pred = den.predict(zt, tf.tensor1d(times));
    const target = den.prediction === 'eps' ? eps : den.prediction === 'x0' ? x0 : proc.vFromEpsX0(eps, x0, times);
    return tf.mean(tf.square(tf.sub(pred, target))) as tf.Scalar;
  });
}

/**
 * Overall per-dimension standard deviation of a mixture: √(tr Cov / d), Cov = Σ_k w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ.
 *
 * @example
 * ```ts
 * mixtureScale(new GaussianMixtureSource({ weights: [1], means: [[0, 0]], variances: [4] })); // 2
 * ```
 */
export function mixtureScale(gmm: GaussianMixtureSource): number {
  const d = gmm.dim;
  const K = gmm.weights.length;
  const mean = new Float64Array(d);
  let second = 0;
  for (let k = 0; k < K; k++) {
    const w = gmm.weights[k]!;
    for (let j = 0; j < d; j++) {
      const mu = gmm.means[k * d + j]!;
      mean[j] = mean[j]! + w * mu;
      second += w * (mu * mu + gmm.variances[k * d + j]!);
    }
  }
  let m2 = 0;
  for (let j = 0; j < d; j++) m2 += mean[j]! * mean[j]!;
  return Math.sqrt(Math.max(1e-12, (second - m2) / d));
}
