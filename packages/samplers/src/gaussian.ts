/**
 * Samplers for continuous (Gaussian) diffusion z_t = α(t) x0 + σ(t) ε, t ∈ [0, 1], on any schedule
 * (VP, VE, flow / linear interpolant) and any prediction type.
 *
 * - DDPM ancestral (Ho et al. 2020, eq. 6–7), written for a general (α, σ) as in VDM (Kingma et al.
 *   2021, eq. 3–4): with α_{t|s} = α_t/α_s and σ²_{t|s} = σ_t² − α²_{t|s} σ_s²,
 *   q(z_s | z_t, x0) = N( α_{t|s} σ_s²/σ_t² · z_t + α_s σ²_{t|s}/σ_t² · x0 ,  σ²_{t|s} σ_s²/σ_t² ).
 * - DDIM (Song, Meng & Ermon 2021, eq. 12): z_s = α_s x̂0 + sqrt(σ_s² − c²) ε̂ + c ξ with
 *   c = η · sqrt(σ²_{t|s} σ_s²/σ_t²) (η = 1 matches DDPM's variance, η = 0 is deterministic).
 * - Probability-flow ODE (Song et al. 2021, "Score-Based Generative Modeling through SDEs", eq. 13):
 *   dz/dt = f z − ½ g² ∇log p_t(z) with f = α'/α, g² = dσ²/dt − 2 f σ², ∇log p = −ε̂/σ; this equals
 *   dz/dt = α' x̂0 + σ' ε̂ (differentiate z = α x0 + σ ε), which stays finite where α = 0.
 *   Euler, and Heun's 2nd-order method with the last step Euler when σ = 0 (Karras et al. 2022, Alg. 1).
 * - Reverse SDE by Euler–Maruyama (Song et al. 2021, eq. 6): dz = [f z − g² ∇log p] dt + g dw̄;
 *   the last step adds no noise.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { CostTracker, modelParamBytes } from './cost.js';
import type { ContinuousDenoiser, PredictionKind, SampleResult } from './types.js';

/**
 * The minimal Gaussian process a sampler needs: α(t) and σ(t) on [0, 1] (derivatives optional).
 *
 * @example
 * ```ts
 * // @altar/noise's GaussianProcess fits; so does a hand-written schedule:
 * const flow: GaussianScheduleLike = { alpha: (t) => 1 - t, sigma: (t) => t, priorStd: 1 };
 * await sampleGaussian(model, flow, { sampler: 'ode-euler', shape: [64, 2], steps: 32, rng: new Rng(0) });
 * ```
 */
export interface GaussianScheduleLike {
  alpha(t: number): number;
  sigma(t: number): number;
  /** dα/dt; central differences are used when absent. */
  dAlpha?(t: number): number;
  /** dσ/dt; central differences are used when absent. */
  dSigma?(t: number): number;
  /** Std of the prior p(z_1) = N(0, priorStd² I) (default σ(1)); used when tMax = 1. */
  readonly priorStd?: number;
}

/**
 * The Gaussian samplers: DDPM ancestral, DDIM (with η), the probability-flow ODE (Euler or Heun) and the reverse
 * SDE (Euler–Maruyama).
 *
 * @example
 * ```ts
 * const sampler: GaussianSamplerName = 'ode-heun';
 * ```
 */
export type GaussianSamplerName = 'ddpm' | 'ddim' | 'ode-euler' | 'ode-heun' | 'sde';
/**
 * Every {@link GaussianSamplerName}, for validating a CLI flag or config value.
 *
 * @example
 * ```ts
 * GAUSSIAN_SAMPLERS.includes('ddim'); // true
 * ```
 */
export const GAUSSIAN_SAMPLERS: readonly GaussianSamplerName[] = ['ddpm', 'ddim', 'ode-euler', 'ode-heun', 'sde'];

/**
 * Options of {@link sampleGaussian}: which sampler, the sample shape (batch first), the number of steps and the
 * random stream.
 *
 * @example
 * ```ts
 * const o: GaussianSampleOptions = { sampler: 'ddim', shape: [16, 16, 16, 3], steps: 50, rng: new Rng(0), eta: 0, clipX0: [-1, 1] };
 * ```
 */
export interface GaussianSampleOptions {
  sampler: GaussianSamplerName;
  /** Sample shape including the batch, e.g. [B, d]. */
  shape: number[];
  steps: number;
  rng: Rng;
  /** DDIM stochasticity η ∈ [0, 1] (default 0). */
  eta?: number;
  /** Integration interval [tMin, tMax]; default [0, 1] (tMax moves to 1 − 1e-3 where α(1) = 0 and the sampler needs 1/α). */
  tMin?: number;
  tMax?: number;
  /** Standard-normal draw for z_tMax (scaled by priorStd at tMax = 1, else σ(tMax)); drawn from `rng` when absent. Not disposed. */
  initialNoise?: tf.Tensor;
  /** Clamp x̂0 into [lo, hi] (e.g. [-1, 1] for images). */
  clipX0?: [number, number];
  paramBytes?: number;
}

const EPS_A = 1e-6;

/** Numerical derivative (central where possible) of a schedule function on [0, 1]. */
function derivative(f: (t: number) => number, t: number): number {
  const h = 1e-4;
  const lo = Math.max(0, t - h);
  const hi = Math.min(1, t + h);
  return (f(hi) - f(lo)) / (hi - lo);
}

/**
 * Convert a prediction to (x̂0, ε̂) given z = α x0 + σ ε. v is α ε − σ x0 (Salimans & Ho 2022, eq. 8 —
 * general (α, σ): x0 = (α z − σ v)/(α² + σ²), ε = (σ z + α v)/(α² + σ²)).
 *
 * @example
 * ```ts
 * const { x0, eps } = toX0Eps(vPrediction, 'v', zt, proc.alpha(t), proc.sigma(t));
 * ```
 */
export function toX0Eps(
  pred: tf.Tensor,
  type: PredictionKind,
  z: tf.Tensor,
  alpha: number,
  sigma: number,
): { x0: tf.Tensor; eps: tf.Tensor } {
  return tf.tidy(() => {
    switch (type) {
      case 'eps': {
        if (alpha < EPS_A)
          throw new AltarError(
            'BAD_ARG',
            `toX0Eps: eps-prediction at α = ${alpha} cannot determine x0; sample from a tMax with α(tMax) > 0`,
          );
        const x0 = tf.div(tf.sub(z, tf.mul(pred, sigma)), alpha);
        return { x0, eps: pred.clone() };
      }
      case 'x0': {
        const eps = sigma > 0 ? tf.div(tf.sub(z, tf.mul(pred, alpha)), sigma) : tf.zerosLike(z);
        return { x0: pred.clone(), eps };
      }
      case 'v': {
        const n = alpha * alpha + sigma * sigma;
        return {
          x0: tf.div(tf.sub(tf.mul(z, alpha), tf.mul(pred, sigma)), n),
          eps: tf.div(tf.add(tf.mul(z, sigma), tf.mul(pred, alpha)), n),
        };
      }
      default:
        throw new AltarError('BAD_ARG', `toX0Eps: unknown prediction type '${String(type)}'`);
    }
  });
}

/**
 * Sample from a continuous denoiser over `steps` steps of the chosen sampler.
 *
 * @example
 * ```ts
 * const proc = new GaussianProcess('vp-cosine');
 * const oracle = gmmOracleDenoiser(gmmPreset('rings'), proc.schedule, 'eps');
 * const { samples, cost } = await sampleGaussian(oracle, proc, { sampler: 'ddim', shape: [512, 2], steps: 50, rng: new Rng(0) });
 * samples.dispose();
 * ```
 */
export async function sampleGaussian(
  model: ContinuousDenoiser,
  proc: GaussianScheduleLike,
  o: GaussianSampleOptions,
): Promise<SampleResult<tf.Tensor>> {
  if (!(GAUSSIAN_SAMPLERS as readonly string[]).includes(o.sampler))
    throw new AltarError(
      'BAD_ARG',
      `sampleGaussian: unknown sampler '${o.sampler}', expected one of ${GAUSSIAN_SAMPLERS.join(', ')}`,
    );
  if (!Number.isInteger(o.steps) || o.steps < 1)
    throw new AltarError('BAD_ARG', `sampleGaussian: steps must be a positive integer, got ${o.steps}`);
  const eta = o.eta ?? 0;
  if (!(eta >= 0 && eta <= 1)) throw new AltarError('BAD_ARG', `sampleGaussian: eta must be in [0, 1], got ${o.eta}`);
  const B = o.shape[0]!;
  if (!Number.isInteger(B) || B < 1)
    throw new AltarError('BAD_ARG', `sampleGaussian: shape [${o.shape.join(', ')}] needs a positive batch first`);
  const needsInvAlpha = o.sampler === 'sde' || model.prediction === 'eps';
  const tMax = o.tMax ?? (needsInvAlpha && proc.alpha(1) < EPS_A ? 1 - 1e-3 : 1);
  const tMin = o.tMin ?? 0;
  if (!(tMin >= 0 && tMax <= 1 && tMin < tMax))
    throw new AltarError('BAD_ARG', `sampleGaussian: need 0 ≤ tMin < tMax ≤ 1, got [${tMin}, ${tMax}]`);
  const rowsPerCall = o.shape.slice(1).reduce((a, b) => a * b, 1);
  const tracker = new CostTracker(model, modelParamBytes(model, o.paramBytes));
  const dA = (t: number) => (proc.dAlpha ? proc.dAlpha(t) : derivative((u) => proc.alpha(u), t));
  const dS = (t: number) => (proc.dSigma ? proc.dSigma(t) : derivative((u) => proc.sigma(u), t));

  /** One network call at time t -> (x̂0, ε̂). */
  const denoise = (z: tf.Tensor, t: number) => {
    const a = proc.alpha(t);
    const s = proc.sigma(t);
    const r = tf.tidy(() => {
      const tt = tf.fill([B], t, 'float32') as tf.Tensor1D;
      const pred = model.predict(z, tt);
      const { x0, eps } = toX0Eps(pred, model.prediction, z, a, s);
      if (!o.clipX0) return { x0, eps };
      const x0c = tf.clipByValue(x0, o.clipX0[0], o.clipX0[1]);
      return { x0: x0c, eps: s > 0 ? tf.div(tf.sub(z, tf.mul(x0c, a)), s) : eps };
    });
    tracker.call(B, 1, rowsPerCall);
    return r;
  };
  /** PF-ODE velocity dz/dt = α' x̂0 + σ' ε̂. */
  const velocity = (z: tf.Tensor, t: number) => {
    const { x0, eps } = denoise(z, t);
    const v = tf.tidy(() => tf.add(tf.mul(x0, dA(t)), tf.mul(eps, dS(t))));
    tf.dispose([x0, eps]);
    return v;
  };

  const zStd = tMax === 1 && proc.priorStd !== undefined ? proc.priorStd : proc.sigma(tMax);
  let z: tf.Tensor;
  if (o.initialNoise) {
    if (o.initialNoise.shape.join() !== o.shape.join())
      throw new AltarError(
        'BAD_ARG',
        `sampleGaussian: initialNoise shape [${o.initialNoise.shape.join(', ')}] ≠ shape [${o.shape.join(', ')}]`,
      );
    z = tf.mul(o.initialNoise, zStd);
  } else {
    const n = o.rng.normal(o.shape);
    z = tf.mul(n, zStd);
    n.dispose();
  }
  const grid = Array.from({ length: o.steps + 1 }, (_, i) => tMin + ((tMax - tMin) * i) / o.steps);
  try {
    for (let i = o.steps; i >= 1; i--) {
      const t = grid[i]!;
      const s = grid[i - 1]!;
      const last = i === 1;
      const at = proc.alpha(t);
      const st = proc.sigma(t);
      const as = proc.alpha(s);
      const ss = proc.sigma(s);
      let next: tf.Tensor;
      switch (o.sampler) {
        case 'ddpm':
        case 'ddim': {
          const { x0, eps } = denoise(z, t);
          const ats = at / as;
          const s2ts = Math.max(st * st - ats * ats * ss * ss, 0);
          const postVar = st > 0 ? (s2ts * ss * ss) / (st * st) : 0;
          if (o.sampler === 'ddpm') {
            const cz = st > 0 ? (ats * ss * ss) / (st * st) : 0;
            const cx = st > 0 ? (as * s2ts) / (st * st) : as;
            const noise = postVar > 0 ? o.rng.normal(o.shape) : null;
            next = tf.tidy(() => {
              let m = tf.add(tf.mul(z, cz), tf.mul(x0, cx));
              if (noise) m = tf.add(m, tf.mul(noise, Math.sqrt(postVar)));
              return m;
            });
            noise?.dispose();
          } else {
            const c = eta * Math.sqrt(postVar);
            const noise = c > 0 ? o.rng.normal(o.shape) : null;
            next = tf.tidy(() => {
              let m = tf.add(tf.mul(x0, as), tf.mul(eps, Math.sqrt(Math.max(ss * ss - c * c, 0))));
              if (noise) m = tf.add(m, tf.mul(noise, c));
              return m;
            });
            noise?.dispose();
          }
          tf.dispose([x0, eps]);
          break;
        }
        case 'ode-euler':
        case 'ode-heun': {
          const v1 = velocity(z, t);
          const euler = tf.tidy(() => tf.add(z, tf.mul(v1, s - t)));
          if (o.sampler === 'ode-heun' && ss > 1e-8) {
            const v2 = velocity(euler, s);
            next = tf.tidy(() => tf.add(z, tf.mul(tf.add(v1, v2), (s - t) / 2)));
            tf.dispose([v2, euler]);
          } else next = euler;
          v1.dispose();
          break;
        }
        case 'sde': {
          if (at < EPS_A)
            throw new AltarError(
              'BAD_ARG',
              `sampleGaussian(sde): α(${t}) = ${at}; the reverse SDE drift needs α > 0, pass tMax < 1`,
            );
          const { x0, eps } = denoise(z, t);
          const f = dA(t) / at;
          const g2 = Math.max(2 * st * dS(t) - 2 * f * st * st, 0);
          const dt = t - s; // > 0, integrating backwards
          const noise = last ? null : o.rng.normal(o.shape);
          next = tf.tidy(() => {
            // drift f z − g² ∇log p = f z + g² ε̂ / σ
            const drift = tf.add(tf.mul(z, f), tf.mul(eps, st > 0 ? g2 / st : 0));
            let m = tf.sub(z, tf.mul(drift, dt));
            if (noise) m = tf.add(m, tf.mul(noise, Math.sqrt(g2 * dt)));
            return m;
          });
          noise?.dispose();
          tf.dispose([x0, eps]);
          break;
        }
      }
      z.dispose();
      z = next;
      tracker.observe();
    }
  } catch (e) {
    z.dispose();
    throw e;
  }
  return { samples: z, cost: tracker.finish(B) };
}
