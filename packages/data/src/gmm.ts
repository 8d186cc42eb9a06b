/**
 * A Gaussian mixture over R^d with diagonal covariances: a vector source with exact log density, and
 * its exact denoiser under Gaussian noising z = α x0 + σ ε (ε ~ N(0, I)).
 *
 * Density: p(x) = Σ_k π_k N(x; μ_k, diag v_k), log p by log-sum-exp.
 * Noised marginal (linear-Gaussian, Bishop PRML eq. 2.115): z | k ~ N(α μ_k, diag(α² v_k + σ²)), so
 *   log p_t(z) = LSE_k [log π_k + log N(z; α μ_k, α² v_k + σ²)],  r_k(z) = p(k | z) (softmax of the terms).
 * Per-component posterior of x0 (Gaussian conditioning, PRML eqs. 2.81–2.82 / 2.116), elementwise:
 *   E[x0 | z, k] = μ_k + α v_k / (α² v_k + σ²) · (z − α μ_k)
 *   E[ε  | z, k] = σ / (α² v_k + σ²) · (z − α μ_k)      (Cov(ε, z) = σ I)
 * Mixture: E[x0 | z] = Σ_k r_k E[x0 | z, k], likewise for ε, and the score
 *   ∇_z log p_t(z) = −Σ_k r_k (z − α μ_k) / (α² v_k + σ²) = −E[ε | z] / σ  (Tweedie / Efron 2011).
 * v-prediction: v = α ε − σ x0 (Salimans & Ho 2022, §4).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import { describe as describeValue, isArrayLikeNumbers, rejectUnknownKeys, requireNumber } from './validate.js';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * A source of real vectors (or flattened images).
 *
 * @example
 * ```ts
 * const source: VectorSource = gmmPreset('moons');
 * const batch = source.sampleBatch(256, new Rng(0)); // Float32Array (256 · 2)
 * source.logDensity?.([0, 0]);                      // exact, nats
 * ```
 */
export interface VectorSource {
  readonly name: string;
  readonly dim: number;
  /** (B*dim) row-major float32. */
  sampleBatch(batchSize: number, rng: Rng): Float32Array;
  /** Exact log density (nats), when known. */
  logDensity?(x: ArrayLike<number>): number;
}

/**
 * A Gaussian mixture: weights, means and per-component variances (isotropic or diagonal).
 *
 * @example
 * ```ts
 * const spec: GaussianMixtureSpec = { weights: [1, 1], means: [[-1, 0], [1, 0]], variances: [0.1, [0.2, 0.05]] };
 * const mix = new GaussianMixtureSource(spec);
 * ```
 */
export interface GaussianMixtureSpec {
  /** Mixture weights (K), non-negative; normalised here. */
  weights: ArrayLike<number>;
  /** K means, each of length d. */
  means: ArrayLike<number>[];
  /** K variances: a number (isotropic) or a length-d array (diagonal), each > 0. */
  variances: (number | ArrayLike<number>)[];
  name?: string;
}

/**
 * A Gaussian mixture over real vectors with an exact log density: the known-likelihood source for continuous
 * diffusion (bits/dim above the true entropy) and the model behind {@link gmmOracleDenoiser}.
 *
 * @example
 * ```ts
 * const mix = new GaussianMixtureSource({ weights: [0.5, 0.5], means: [[-1], [1]], variances: [0.25, 0.25] });
 * mix.logDensity([1]);              // exact log p(x), nats
 * const x = mix.sample(1000, new Rng(0)); // Float32Array (1000 · 1)
 * ```
 */
export class GaussianMixtureSource implements VectorSource {
  readonly name: string;
  readonly dim: number;
  readonly numComponents: number;
  /** π (K), normalised. */
  readonly weights: Float64Array;
  /** μ (K*d) row-major. */
  readonly means: Float64Array;
  /** diagonal variances (K*d) row-major. */
  readonly variances: Float64Array;
  private readonly cdf: Float64Array;

  constructor(spec: GaussianMixtureSpec) {
    if (typeof spec !== 'object' || spec === null)
      throw new ConfigError('gmm', `expected a spec object, got ${describeValue(spec)}`);
    rejectUnknownKeys('gmm', spec, ['weights', 'means', 'variances', 'name']);
    if (!isArrayLikeNumbers(spec.weights) || spec.weights.length < 1)
      throw new ConfigError('gmm.weights', `expected a non-empty array, got ${describeValue(spec.weights)}`);
    const K = spec.weights.length;
    if (!Array.isArray(spec.means) || spec.means.length !== K) {
      throw new ConfigError('gmm.means', `expected ${K} means (one per weight), got ${describeValue(spec.means)}`);
    }
    if (!Array.isArray(spec.variances) || spec.variances.length !== K) {
      throw new ConfigError(
        'gmm.variances',
        `expected ${K} variances (one per weight), got ${describeValue(spec.variances)}`,
      );
    }
    const first = spec.means[0];
    if (!isArrayLikeNumbers(first) || first.length < 1)
      throw new ConfigError('gmm.means[0]', `expected a non-empty array, got ${describeValue(first)}`);
    const d = first.length;
    this.dim = d;
    this.numComponents = K;
    this.name = spec.name ?? `gmm(K=${K}, d=${d})`;
    this.weights = new Float64Array(K);
    this.means = new Float64Array(K * d);
    this.variances = new Float64Array(K * d);
    let total = 0;
    for (let k = 0; k < K; k++) {
      const w = requireNumber(`gmm.weights[${k}]`, spec.weights[k], 0);
      this.weights[k] = w;
      total += w;
      const mu = spec.means[k];
      if (!isArrayLikeNumbers(mu) || mu.length !== d)
        throw new ConfigError(`gmm.means[${k}]`, `expected ${d} numbers, got ${describeValue(mu)}`);
      for (let j = 0; j < d; j++) this.means[k * d + j] = requireNumber(`gmm.means[${k}][${j}]`, mu[j]);
      const v = spec.variances[k];
      if (typeof v === 'number') {
        if (!(v > 0) || !Number.isFinite(v))
          throw new ConfigError(`gmm.variances[${k}]`, `expected a finite variance > 0, got ${v}`);
        this.variances.fill(v, k * d, (k + 1) * d);
      } else {
        if (!isArrayLikeNumbers(v) || v.length !== d)
          throw new ConfigError(`gmm.variances[${k}]`, `expected a number or ${d} numbers, got ${describeValue(v)}`);
        for (let j = 0; j < d; j++) {
          const vj = v[j]!;
          if (!(vj > 0) || !Number.isFinite(vj))
            throw new ConfigError(`gmm.variances[${k}][${j}]`, `expected a finite variance > 0, got ${vj}`);
          this.variances[k * d + j] = vj;
        }
      }
    }
    if (!(total > 0)) throw new ConfigError('gmm.weights', 'weights must have a positive sum');
    this.cdf = new Float64Array(K);
    let acc = 0;
    for (let k = 0; k < K; k++) {
      this.weights[k] = this.weights[k]! / total;
      this.cdf[k] = acc += this.weights[k]!;
    }
  }

  private checkPoint(op: string, x: ArrayLike<number>): void {
    if (!isArrayLikeNumbers(x) || x.length !== this.dim) {
      throw new AltarError('BAD_ARG', `${op}: expected a point with ${this.dim} coordinates, got ${describeValue(x)}`);
    }
  }

  /** log p(x) in nats (exact, log-sum-exp over components). */
  logDensity(x: ArrayLike<number>): number {
    this.checkPoint('GaussianMixtureSource.logDensity', x);
    return gmmPosterior(this, x, 1, 0).logPz;
  }

  /** log p for each row of a flat (n*d) array. */
  logDensityBatch(flat: ArrayLike<number>): Float64Array {
    const d = this.dim;
    if (!isArrayLikeNumbers(flat) || flat.length % d !== 0) {
      throw new AltarError(
        'BAD_ARG',
        `GaussianMixtureSource.logDensityBatch: length ${flat?.length} is not a multiple of dim ${d}`,
      );
    }
    const n = flat.length / d;
    const out = new Float64Array(n);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) row[j] = flat[i * d + j]!;
      out[i] = gmmPosterior(this, row, 1, 0).logPz;
    }
    return out;
  }

  /** Draw n points: k ~ π, x = μ_k + sqrt(v_k) ⊙ ε. Returns (n*d) float32. */
  sample(n: number, rng: Rng): Float32Array {
    if (!Number.isInteger(n) || n < 1)
      throw new AltarError('BAD_ARG', `GaussianMixtureSource.sample: n must be a positive integer, got ${n}`);
    const d = this.dim;
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const u = rng.nextDouble();
      let k = 0;
      while (k < this.numComponents - 1 && u >= this.cdf[k]!) k++;
      for (let j = 0; j < d; j++)
        out[i * d + j] = this.means[k * d + j]! + Math.sqrt(this.variances[k * d + j]!) * rng.nextNormal();
    }
    return out;
  }

  sampleBatch(batchSize: number, rng: Rng): Float32Array {
    return this.sample(batchSize, rng);
  }

  /** (B, d) float32 tensor; the caller disposes it. */
  sampleTensor(n: number, rng: Rng): tf.Tensor2D {
    return tf.tensor2d(this.sample(n, rng), [n, this.dim], 'float32');
  }

  /**
   * Differential entropy h(p) = −E log p(x), estimated by Monte Carlo over `numSamples` draws (unbiased,
   * with its standard error), in nats and in bits per dimension. The true NLL floor for vector models.
   */
  entropyReport(
    rng: Rng,
    numSamples = 4000,
  ): {
    entropyNats: number;
    stdErrNats: number;
    entropyBitsPerDim: number;
    stdErrBitsPerDim: number;
    numSamples: number;
  } {
    if (!Number.isInteger(numSamples) || numSamples < 2) {
      throw new AltarError(
        'BAD_ARG',
        `GaussianMixtureSource.entropyReport: numSamples must be an integer >= 2, got ${numSamples}`,
      );
    }
    const lps = this.logDensityBatch(this.sample(numSamples, rng));
    let sum = 0;
    let sumSq = 0;
    for (const lp of lps) {
      sum -= lp;
      sumSq += lp * lp;
    }
    const mean = sum / numSamples;
    const se = Math.sqrt(Math.max(0, (sumSq - numSamples * mean * mean) / (numSamples - 1)) / numSamples);
    const perDim = Math.LN2 * this.dim;
    return {
      entropyNats: mean,
      stdErrNats: se,
      entropyBitsPerDim: mean / perDim,
      stdErrBitsPerDim: se / perDim,
      numSamples,
    };
  }

  /** Exact mean Σ π_k μ_k and covariance Σ π_k (diag v_k + μ_k μ_kᵀ) − m mᵀ, (d) and (d*d). */
  moments(): { mean: Float64Array; cov: Float64Array } {
    const d = this.dim;
    const mean = new Float64Array(d);
    const cov = new Float64Array(d * d);
    for (let k = 0; k < this.numComponents; k++) {
      const w = this.weights[k]!;
      for (let a = 0; a < d; a++) {
        mean[a]! += w * this.means[k * d + a]!;
        cov[a * d + a]! += w * this.variances[k * d + a]!;
        for (let b = 0; b < d; b++) cov[a * d + b]! += w * this.means[k * d + a]! * this.means[k * d + b]!;
      }
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b]! -= mean[a]! * mean[b]!;
    return { mean, cov };
  }
}

/**
 * The exact posterior quantities of a mixture at one point z under z = α x0 + σ ε (see {@link gmmPosterior}).
 *
 * @example
 * ```ts
 * const { meanX0, score }: GmmPosterior = gmmPosterior(mix, [0.3, -0.1], 0.8, 0.6);
 * ```
 */
export interface GmmPosterior {
  /** log p_t(z), nats. */
  logPz: number;
  /** p(k | z), (K). */
  responsibilities: Float64Array;
  /** E[x0 | z], (d). */
  meanX0: Float64Array;
  /** E[ε | z], (d). */
  meanEps: Float64Array;
  /** ∇_z log p_t(z), (d). */
  score: Float64Array;
}

/**
 * Float64 host reference for one point z under z = α x0 + σ ε (α = 1, σ = 0 gives the data density).
 *
 * @example
 * ```ts
 * const post = gmmPosterior(gmmPreset('rings'), [0.2, 0.4], Math.SQRT1_2, Math.SQRT1_2);
 * post.meanX0; // E[x0 | z], Float64Array (2)
 * ```
 */
export function gmmPosterior(
  source: GaussianMixtureSource,
  z: ArrayLike<number>,
  alpha: number,
  sigma: number,
): GmmPosterior {
  const d = source.dim;
  const K = source.numComponents;
  if (!isArrayLikeNumbers(z) || z.length !== d)
    throw new AltarError('BAD_ARG', `gmmPosterior: z must have ${d} coordinates, got ${describeValue(z)}`);
  if (!Number.isFinite(alpha) || !Number.isFinite(sigma) || sigma < 0) {
    throw new AltarError(
      'BAD_ARG',
      `gmmPosterior: need finite alpha and sigma >= 0, got alpha=${alpha}, sigma=${sigma}`,
    );
  }
  const logw = new Float64Array(K);
  let mx = -Infinity;
  for (let k = 0; k < K; k++) {
    let lw = Math.log(source.weights[k]!);
    for (let j = 0; j < d; j++) {
      const vp = alpha * alpha * source.variances[k * d + j]! + sigma * sigma;
      const diff = z[j]! - alpha * source.means[k * d + j]!;
      lw -= 0.5 * ((diff * diff) / vp + Math.log(vp) + LOG_2PI);
    }
    logw[k] = lw;
    if (lw > mx) mx = lw;
  }
  let sum = 0;
  for (let k = 0; k < K; k++) sum += Math.exp(logw[k]! - mx);
  const logPz = mx + Math.log(sum);
  const r = new Float64Array(K);
  const meanX0 = new Float64Array(d);
  const meanEps = new Float64Array(d);
  const score = new Float64Array(d);
  for (let k = 0; k < K; k++) {
    const rk = (r[k] = Math.exp(logw[k]! - logPz));
    for (let j = 0; j < d; j++) {
      const v = source.variances[k * d + j]!;
      const vp = alpha * alpha * v + sigma * sigma;
      const diff = z[j]! - alpha * source.means[k * d + j]!;
      meanX0[j]! += rk * (source.means[k * d + j]! + ((alpha * v) / vp) * diff);
      meanEps[j]! += rk * ((sigma / vp) * diff);
      score[j]! -= rk * (diff / vp);
    }
  }
  return { logPz, responsibilities: r, meanX0, meanEps, score };
}

// ---------------------------------------------------------------------------------------------
// Presets
