/**
 * The exact denoiser of a Gaussian mixture as an oracle model: x0 / ε / v predictions and the score
 * under Gaussian noising z = α x0 + σ ε, from `gmmPosterior` (formulas: gmm.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { GaussianMixtureSource } from './gmm.js';
import { describe as describeValue } from './validate.js';

/**
 * The part of a Gaussian noise schedule the mixture oracle needs: α(t) and σ(t); @altar/noise's schedules fit.
 *
 * @example
 * ```ts
 * const schedule: GaussianSchedule = { alpha: (t) => Math.cos((Math.PI / 2) * t), sigma: (t) => Math.sin((Math.PI / 2) * t) };
 * gmmOracleDenoiser(gmmPreset('rings'), schedule, 'eps');
 * ```
 */
export interface GaussianSchedule {
  alpha(t: number): number;
  sigma(t: number): number;
}

/**
 * What the oracle predicts: the noise ε, the clean data x0, or v = α ε − σ x0.
 *
 * @example
 * ```ts
 * gmmOracleDenoiser(mix, schedule, 'v' as PredictionKind);
 * ```
 */
export type PredictionKind = 'eps' | 'x0' | 'v';

/**
 * The exact continuous denoiser of a mixture (the Denoiser contract of @altar/samplers and @altar/elbo), plus the score.
 *
 * @example
 * ```ts
 * const oracle: GmmOracleDenoiser = gmmOracleDenoiser(gmmPreset('rings'), new GaussianProcess('vp-cosine').schedule, 'eps');
 * const epsHat = oracle.predict(zt, 0.5); // E[ε | z_t], same shape as zt
 * ```
 */
export interface GmmOracleDenoiser {
  readonly prediction: PredictionKind;
  readonly name: string;
  /** zt: (B, d) or (B, ...) flattening to d per row; t: (B,) in [0, 1] or a number. Same shape as zt. */
  predict(zt: tf.Tensor, t: tf.Tensor1D | number): tf.Tensor;
  /** Same, reading t with `await data()`. */
  predictAsync(zt: tf.Tensor, t: tf.Tensor1D | number): Promise<tf.Tensor>;
  /** ∇_z log p_t(z), same shape as zt. */
  score(zt: tf.Tensor, t: tf.Tensor1D | number): tf.Tensor;
}

/**
 * The exact denoiser of a Gaussian mixture under z = α(t) x0 + σ(t) ε, computed with tensor ops in
 * float32 (t is read on the host to evaluate the schedule). Returns E[x0|z], E[ε|z] or E[v|z].
 *
 * @example
 * ```ts
 * const proc = new GaussianProcess('vp-cosine');
 * const oracle = gmmOracleDenoiser(gmmPreset('rings'), proc.schedule, 'eps');
 * const { samples } = await sampleGaussian(oracle, proc, { sampler: 'ddim', shape: [512, 2], steps: 50, rng: new Rng(0) });
 * ```
 */
export function gmmOracleDenoiser(
  source: GaussianMixtureSource,
  schedule: GaussianSchedule,
  prediction: PredictionKind = 'eps',
): GmmOracleDenoiser {
  if (!schedule || typeof schedule.alpha !== 'function' || typeof schedule.sigma !== 'function') {
    throw new AltarError('BAD_ARG', 'gmmOracleDenoiser: schedule must provide alpha(t) and sigma(t) functions');
  }
  if (prediction !== 'eps' && prediction !== 'x0' && prediction !== 'v') {
    throw new AltarError(
      'BAD_ARG',
      `gmmOracleDenoiser: prediction must be 'eps', 'x0' or 'v', got ${JSON.stringify(prediction)}`,
    );
  }
  const d = source.dim;
  const K = source.numComponents;

  const coefficients = (tv: ArrayLike<number> | number, B: number): { a: Float32Array; s: Float32Array } => {
    const a = new Float32Array(B);
    const s = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      const t = typeof tv === 'number' ? tv : tv[b]!;
      if (!Number.isFinite(t) || t < 0 || t > 1)
        throw new AltarError('BAD_ARG', `gmmOracleDenoiser: t must be in [0, 1], got ${t} (row ${b})`);
      const al = schedule.alpha(t);
      const sg = schedule.sigma(t);
      if (!Number.isFinite(al) || !Number.isFinite(sg) || sg < 0 || (al === 0 && sg === 0)) {
        throw new AltarError('BAD_ARG', `gmmOracleDenoiser: schedule gave alpha=${al}, sigma=${sg} at t=${t}`);
      }
      a[b] = al;
      s[b] = sg;
    }
    return { a, s };
  };

  const check = (zt: tf.Tensor, t: tf.Tensor1D | number): number => {
    if (!(zt instanceof tf.Tensor) || zt.rank < 2)
      throw new AltarError('BAD_ARG', `gmmOracleDenoiser: z_t must be a (B, ...) tensor, got ${describeValue(zt)}`);
    const B = zt.shape[0]!;
    if (zt.size / B !== d)
      throw new AltarError(
        'BAD_ARG',
        `gmmOracleDenoiser: z_t rows must have ${d} values, got shape [${zt.shape.join(', ')}]`,
      );
    if (typeof t !== 'number' && (!(t instanceof tf.Tensor) || t.rank !== 1 || t.shape[0] !== B)) {
      throw new AltarError('BAD_ARG', `gmmOracleDenoiser: t must be a number or a (B,) tensor with B = ${B}`);
    }
    return B;
  };

  const logPi = Float32Array.from(source.weights, (w) => Math.log(w));
  const means = Float32Array.from(source.means);
  const vars = Float32Array.from(source.variances);

  // Returns [x0, eps, negScore] expectations, each (B, d), inside the caller's tidy.
  const expectations = (
    zt: tf.Tensor,
    a: Float32Array,
    s: Float32Array,
  ): { x0: tf.Tensor2D; eps: tf.Tensor2D; score: tf.Tensor2D } => {
    const B = zt.shape[0]!;
    const z = tf.reshape(tf.cast(zt, 'float32'), [B, 1, d]); // (B, 1, d)
    const al = tf.tensor3d(a, [B, 1, 1]);
    const sg = tf.tensor3d(s, [B, 1, 1]);
    const mu = tf.tensor3d(means, [1, K, d]); // (1, K, d)
    const v = tf.tensor3d(vars, [1, K, d]);
    const vp = tf.add(tf.mul(tf.square(al), v), tf.square(sg)); // (B, K, d)
    const diff = tf.sub(z, tf.mul(al, mu)); // (B, K, d)
    const quad = tf.sum(tf.add(tf.div(tf.square(diff), vp), tf.log(vp)), -1); // (B, K)
    const logw = tf.add(tf.tensor2d(logPi, [1, K]), tf.mul(-0.5, quad)); // (B, K); the 2π term cancels in the softmax
    const r = tf.expandDims(tf.softmax(logw, -1), -1); // (B, K, 1)
    const x0k = tf.add(mu, tf.mul(tf.div(tf.mul(al, v), vp), diff)); // (B, K, d)
    const epsk = tf.mul(tf.div(sg, vp), diff); // (B, K, d)
    const scorek = tf.neg(tf.div(diff, vp)); // (B, K, d)
    return {
      x0: tf.sum(tf.mul(r, x0k), 1) as tf.Tensor2D, // (B, d)
      eps: tf.sum(tf.mul(r, epsk), 1) as tf.Tensor2D,
      score: tf.sum(tf.mul(r, scorek), 1) as tf.Tensor2D,
    };
  };

  const run = (zt: tf.Tensor, tv: ArrayLike<number> | number, what: PredictionKind | 'score'): tf.Tensor => {
    const B = zt.shape[0]!;
    const { a, s } = coefficients(tv, B);
    return tf.tidy(() => {
      const e = expectations(zt, a, s);
      let out: tf.Tensor;
      if (what === 'x0') out = e.x0;
      else if (what === 'eps') out = e.eps;
      else if (what === 'score') out = e.score;
      else out = tf.sub(tf.mul(tf.tensor2d(a, [B, 1]), e.eps), tf.mul(tf.tensor2d(s, [B, 1]), e.x0)); // v = α ε − σ x0
      return tf.reshape(out, zt.shape);
    });
  };

  const readT = (t: tf.Tensor1D | number): ArrayLike<number> | number =>
    typeof t === 'number' ? t : (t.dataSync() as Float32Array);

  return {
    prediction,
    name: `oracle(${source.name})`,
    predict(zt, t) {
      check(zt, t);
      return run(zt, readT(t), prediction);
    },
    async predictAsync(zt, t) {
      check(zt, t);
      const tv = typeof t === 'number' ? t : ((await t.data()) as Float32Array);
      return run(zt, tv, prediction);
    },
    score(zt, t) {
      check(zt, t);
      return run(zt, readT(t), 'score');
    },
  };
}
