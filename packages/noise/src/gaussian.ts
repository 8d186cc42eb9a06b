/**
 * Gaussian forward processes z_t = α_t x0 + σ_t ε, ε ~ N(0, I), in continuous time t ∈ [0, 1]; the
 * discrete step i of T is t = i/T (t = 0 is the data). Schedules are host Float64 functions; the tensor
 * ops below are tidy-wrapped and broadcast a per-example (B,) α, σ over the trailing axes.
 *
 * log-SNR λ_t = log(α_t² / σ_t²) (Kingma et al. 2021, "VDM", §3). Schedules:
 * - 'vp-linear': the continuous limit of DDPM's linear β 1e-4 → 0.02 at T = 1000 (Ho et al. 2020): the VP-SDE
 *   with β(t) = β_min + t(β_max − β_min), β_min = 0.1, β_max = 20 (Song et al. 2021 eq. 33):
 *   ᾱ_t = α_t² = exp(−β_min t − ½(β_max − β_min) t²), σ_t² = 1 − ᾱ_t.
 * - 'vp-cosine': Nichol & Dhariwal 2021 eq. 17, ᾱ_t = f(t)/f(0), f(t) = cos²(π/2 · (t + s)/(1 + s)), s = 0.008.
 * - 've': α_t = 1, σ_t = σ_min (σ_max/σ_min)^t (Song et al. 2021 eq. 31; σ_min = 0.01, σ_max = 50); prior N(0, σ_max²).
 * - 'flow': the linear interpolant of flow matching / rectified flow, α_t = 1 − t, σ_t = t (Lipman et al. 2023;
 *   Liu et al. 2023), with α_1 = δ = 1e-4 instead of 0.
 * - 'vp-cosine' floors ᾱ at sigmoid(−20) (Nichol & Dhariwal clip β ≤ 0.999 for the same reason).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import { expandTime, type TimeArg } from './time.js';

/**
 * A Gaussian noise schedule in continuous time t ∈ [0, 1]: z_t = α_t x0 + σ_t ε, described by α, σ and
 * the log signal-to-noise ratio λ_t = log(α_t² / σ_t²). Build one with {@link gaussianSchedule} or
 * {@link tableSchedule}, or write your own.
 *
 * @example
 * ```ts
 * const s: GaussianSchedule = gaussianSchedule('vp-cosine');
 * s.alpha(0.5) ** 2 + s.sigma(0.5) ** 2; // 1 (variance preserving)
 * ```
 */
export interface GaussianSchedule {
  readonly name: string;
  alpha(t: number): number;
  sigma(t: number): number;
  /** λ_t = log(α_t²/σ_t²), decreasing in t. */
  logSnr(t: number): number;
  /** dλ_t/dt (< 0). */
  dLogSnr(t: number): number;
  /** Standard deviation of the prior p(z_1) = N(0, priorStd² I). */
  readonly priorStd: number;
}

/**
 * The named Gaussian schedules: 'vp-linear' (DDPM's linear β, continuous), 'vp-cosine' (Nichol & Dhariwal),
 * 've' (variance exploding, σ from σ_min to σ_max), 'flow' (rectified flow, α ≈ 1 − t, σ = t).
 *
 * @example
 * ```ts
 * const kind: GaussianScheduleKind = 'flow';
 * const proc = new GaussianProcess(kind);
 * ```
 */
export type GaussianScheduleKind = 'vp-linear' | 'vp-cosine' | 've' | 'flow';
/**
 * Every {@link GaussianScheduleKind}, for validating a config value.
 *
 * @example
 * ```ts
 * GAUSSIAN_SCHEDULES.includes('ve'); // true
 * ```
 */
export const GAUSSIAN_SCHEDULES: readonly GaussianScheduleKind[] = ['vp-linear', 'vp-cosine', 've', 'flow'];

/** log(1 − e^{−g}) for g > 0, stable for small and large g. */
function log1mExpNeg(g: number): number {
  return g < Math.LN2 ? Math.log(-Math.expm1(-g)) : Math.log1p(-Math.exp(-g));
}

/**
 * A named {@link GaussianSchedule}; `opts` overrides its constants (β range for 'vp-linear', offset `s`
 * for 'vp-cosine', σ range for 've', the endpoint gap for 'flow').
 *
 * @example
 * ```ts
 * const vp = gaussianSchedule('vp-linear', { betaMin: 0.1, betaMax: 20 });
 * vp.logSnr(0.1) > vp.logSnr(0.9); // true: λ_t decreases in t
 * ```
 */
export function gaussianSchedule(
  kind: GaussianScheduleKind,
  opts: {
    betaMin?: number;
    betaMax?: number;
    s?: number;
    logSnrMin?: number;
    sigmaMin?: number;
    sigmaMax?: number;
    flowDelta?: number;
  } = {},
): GaussianSchedule {
  switch (kind) {
    case 'vp-linear': {
      const b0 = opts.betaMin ?? 0.1;
      const b1 = opts.betaMax ?? 20;
      const g = (t: number) => b0 * t + 0.5 * (b1 - b0) * t * t; // −log ᾱ_t
      const dg = (t: number) => b0 + (b1 - b0) * t;
      return {
        name: 'vp-linear',
        priorStd: 1,
        alpha: (t) => Math.exp(-0.5 * g(t)),
        sigma: (t) => Math.sqrt(-Math.expm1(-g(t))),
        logSnr: (t) => -g(t) - log1mExpNeg(g(t)),
        dLogSnr: (t) => -dg(t) / -Math.expm1(-g(t)),
      };
    }
    case 'vp-cosine': {
      const s = opts.s ?? 0.008;
      // Nichol & Dhariwal clip β_t ≤ 0.999 so that ᾱ_T > 0; in continuous time we floor ᾱ at
      // sigmoid(logSnrMin) (default λ ≥ −20, ᾱ_1 ≈ 2e-9): an eps-model can then still be turned into x0.
      const abarMin = 1 / (1 + Math.exp(-(opts.logSnrMin ?? -20)));
      const c = Math.PI / (2 * (1 + s));
      const u = (t: number) => (t + s) * c;
      const f0 = Math.cos(u(0)) ** 2;
      const raw = (t: number) => Math.cos(u(t)) ** 2 / f0;
      const abar = (t: number) => Math.min(1, Math.max(abarMin, raw(t)));
      return {
        name: 'vp-cosine',
        priorStd: 1,
        alpha: (t) => Math.sqrt(abar(t)),
        sigma: (t) => Math.sqrt(1 - abar(t)),
        logSnr: (t) => Math.log(abar(t)) - Math.log1p(-abar(t)),
        // dλ/dt = ᾱ'/(ᾱ(1 − ᾱ)), ᾱ' = −sin(2u) c / f0 (0 where the floor is active)
        dLogSnr: (t) => {
          if (raw(t) <= abarMin) return 0;
          const a = abar(t);
          return (-Math.sin(2 * u(t)) * c) / f0 / (a * (1 - a));
        },
      };
    }
    case 've': {
      const lo = opts.sigmaMin ?? 0.01;
      const hi = opts.sigmaMax ?? 50;
      const r = Math.log(hi / lo);
      return {
        name: 've',
        priorStd: hi,
        alpha: () => 1,
        sigma: (t) => lo * Math.exp(r * t),
        logSnr: (t) => -2 * (Math.log(lo) + r * t),
        dLogSnr: () => -2 * r,
      };
    }
    case 'flow': {
      // α_t = 1 − (1 − δ) t keeps α_1 = δ = 1e-4 > 0 (λ_1 ≈ −18.4) so that eps ↔ x0 stays defined at t = 1.
      const dl = opts.flowDelta ?? 1e-4;
      return {
        name: 'flow',
        priorStd: 1,
        alpha: (t) => 1 - (1 - dl) * t,
        sigma: (t) => t,
        logSnr: (t) => 2 * (Math.log1p(-(1 - dl) * t) - Math.log(t)),
        dLogSnr: (t) => (-2 * (1 - dl)) / (1 - (1 - dl) * t) - 2 / t,
      };
    }
    default:
      throw new AltarError(
        'BAD_SCHEDULE',
        `gaussianSchedule: unknown schedule '${String(kind)}', expected ${GAUSSIAN_SCHEDULES.join(', ')}`,
      );
  }
}

/**
 * DDPM's exact discrete table: β_i linear from beta1 to betaT, i = 1..T (Ho et al. 2020 §4).
 *
 * @example
 * ```ts
 * const betas = ddpmLinearBetas(1000); // β_1 = 1e-4 … β_1000 = 0.02
 * ```
 */
export function ddpmLinearBetas(T: number, beta1 = 1e-4, betaT = 0.02): Float64Array {
  if (!Number.isInteger(T) || T < 1)
    throw new AltarError('BAD_TIME', `ddpmLinearBetas: T must be a positive integer, got ${T}`);
  const b = new Float64Array(T);
  for (let i = 0; i < T; i++) b[i] = T === 1 ? betaT : beta1 + ((betaT - beta1) * i) / (T - 1);
  return b;
}

/**
 * A VP schedule from a discrete table ᾱ_0 = 1, ᾱ_1, …, ᾱ_T (e.g. cumulative products of ddpmLinearBetas):
 * at t = i/T it is exact; between grid points log-SNR is interpolated linearly.
 *
 * @example
 * ```ts
 * const betas = ddpmLinearBetas(1000);
 * const alphaBar = [1];
 * for (const b of betas) alphaBar.push(alphaBar.at(-1)! * (1 - b));
 * const ddpm = new GaussianProcess(tableSchedule(alphaBar, 'ddpm-1000'));
 * ddpm.alpha(0.5) ** 2; // ᾱ_500
 * ```
 */
export function tableSchedule(alphaBar: ArrayLike<number>, name = 'vp-table'): GaussianSchedule {
  const T = alphaBar.length - 1;
  if (T < 1) throw new AltarError('BAD_CONFIG', 'tableSchedule: need ᾱ_0..ᾱ_T with T ≥ 1');
  const lam = new Float64Array(T + 1);
  for (let i = 0; i <= T; i++) {
    const a = alphaBar[i]!;
    if (!(a >= 0 && a <= 1)) throw new AltarError('BAD_CONFIG', `tableSchedule: ᾱ_${i} = ${a} outside [0, 1]`);
    lam[i] = Math.log(a) - Math.log1p(-a);
  }
  const at = (t: number) => {
    const x = Math.min(T, Math.max(0, t * T));
    const i = Math.min(T - 1, Math.floor(x));
    return { i, w: x - i };
  };
  const logSnr = (t: number) => {
    const { i, w } = at(t);
    if (w === 0) return lam[i]!;
    if (w === 1) return lam[i + 1]!;
    return (1 - w) * lam[i]! + w * lam[i + 1]!;
  };
  const sig = (l: number) => 1 / (1 + Math.exp(-l));
  return {
    name,
    priorStd: 1,
    logSnr,
    alpha: (t) => Math.sqrt(sig(logSnr(t))),
    sigma: (t) => Math.sqrt(sig(-logSnr(t))),
    dLogSnr: (t) => {
      const { i } = at(t);
      return (lam[i + 1]! - lam[i]!) * T;
    },
  };
}

/**
 * What a continuous denoiser predicts: the noise ε, the clean data x0, or v = α ε − σ x0 (Salimans & Ho 2022).
 *
 * @example
 * ```ts
 * const kind: PredictionKind = 'v';
 * const x0 = proc.toX0(kind, prediction, zt, t); // any kind converts to x0 (or to ε with toEps)
 * ```
 */
export type PredictionKind = 'eps' | 'x0' | 'v';

/**
 * Gaussian diffusion over a {@link GaussianSchedule}: `qSample` draws z_t = α_t x0 + σ_t ε, the posterior
 * q(z_s | z_t, x0) gives ancestral steps (VDM eq. 7 form, any α and σ), and the conversions among
 * ε / x0 / v / score predictions. Tensor methods are tidy-wrapped and never modify their inputs.
 *
 * @example
 * ```ts
 * const proc = new GaussianProcess('vp-cosine');
 * const x0 = tf.tensor2d([[0.5, -1]]);
 * const eps = new Rng(0).normal([1, 2]);
 * const zt = proc.qSample(x0, 0.3, eps);          // α_0.3 · x0 + σ_0.3 · ε
 * const back = proc.x0FromEps(zt, eps, 0.3);      // recovers x0
 * ```
 */
export class GaussianProcess {
  readonly schedule: GaussianSchedule;
  readonly name: string;

  constructor(schedule: GaussianSchedule | GaussianScheduleKind) {
    this.schedule = typeof schedule === 'string' ? gaussianSchedule(schedule) : schedule;
    this.name = this.schedule.name;
  }

  alpha(t: number): number {
    return this.schedule.alpha(t);
  }
  sigma(t: number): number {
    return this.schedule.sigma(t);
  }
  logSnr(t: number): number {
    return this.schedule.logSnr(t);
  }
  snr(t: number): number {
    return Math.exp(this.schedule.logSnr(t));
  }
  get priorStd(): number {
    return this.schedule.priorStd;
  }

  /**
   * Posterior q(z_s | z_t, x0) = N(μ, σ²_{s|t}) for s < t (host scalars): with α_{t|s} = α_t/α_s,
   * σ²_{t|s} = σ_t² − α²_{t|s} σ_s²:  μ = (α_{t|s} σ_s²/σ_t²) z_t + (α_s σ²_{t|s}/σ_t²) x0,
   * σ²_{s|t} = σ²_{t|s} σ_s²/σ_t²  (VDM eq. 6–7 / App. A; DDPM eq. 6–7 in the VP case).
   * s = 0 (data) gives μ = x0, σ² = 0.
   */
  posteriorCoefs(s: number, t: number): { cz: number; cx: number; variance: number } {
    if (!(s < t)) throw new AltarError('BAD_TIME', `posteriorCoefs: need s < t, got s = ${s}, t = ${t}`);
    if (s === 0) return { cz: 0, cx: 1, variance: 0 };
    const as = this.alpha(s);
    const at = this.alpha(t);
    const ss2 = this.sigma(s) ** 2;
    const st2 = this.sigma(t) ** 2;
    const ats = at / as;
    // σ²_{t|s} = σ_t² − α²_{t|s} σ_s² = σ_t² (1 − SNR(t)/SNR(s)) computed via expm1 for accuracy when s ≈ t
    const st2s = -st2 * Math.expm1(this.logSnr(t) - this.logSnr(s));
    return { cz: (ats * ss2) / st2, cx: (as * st2s) / st2, variance: (st2s * ss2) / st2 };
  }

  /** z_t = α_t x0 + σ_t eps; x0, eps (B, ...) with t one value per example. */
  qSample(x0: tf.Tensor, t: TimeArg, eps: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      tf.add(
        tf.mul(
          this.perExample(x0, t, (v) => this.alpha(v)),
          x0,
        ),
        tf.mul(
          this.perExample(x0, t, (v) => this.sigma(v)),
          eps,
        ),
      ),
    );
  }

  posteriorMean(zt: tf.Tensor, x0: tf.Tensor, s: TimeArg, t: TimeArg): tf.Tensor {
    const B = zt.shape[0]!;
    const ss = expandTime('posteriorMean', s, B);
    const ts = expandTime('posteriorMean', t, B);
    const cz = new Float64Array(B);
    const cx = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const c = this.posteriorCoefs(ss[b]!, ts[b]!);
      cz[b] = c.cz;
      cx[b] = c.cx;
    }
    return tf.tidy(() => tf.add(tf.mul(this.column(zt, cz), zt), tf.mul(this.column(zt, cx), x0)));
  }

  /** σ²_{s|t} per example: Float64Array (B) (host; s, t as in posteriorMean). */
  posteriorVariance(s: TimeArg, t: TimeArg, batch = typeof t === 'number' ? 1 : t.length): Float64Array {
    const ss = expandTime('posteriorVariance', s, batch);
    const ts = expandTime('posteriorVariance', t, batch);
    return ss.map((sv, b) => this.posteriorCoefs(sv, ts[b]!).variance);
  }

  // ---- prediction conversions (z = α x0 + σ ε, v = α ε − σ x0; Salimans & Ho 2022 §4) ----
  x0FromEps(zt: tf.Tensor, eps: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() =>
      tf.div(
        tf.sub(
          zt,
          tf.mul(
            this.perExample(zt, t, (v) => this.sigma(v)),
            eps,
          ),
        ),
        this.perExample(zt, t, (v) => this.alpha(v)),
      ),
    );
  }
  epsFromX0(zt: tf.Tensor, x0: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() =>
      tf.div(
        tf.sub(
          zt,
          tf.mul(
            this.perExample(zt, t, (v) => this.alpha(v)),
            x0,
          ),
        ),
        this.perExample(zt, t, (v) => this.sigma(v)),
      ),
    );
  }
  /** v = α ε − σ x0. */
  vFromEpsX0(eps: tf.Tensor, x0: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() =>
      tf.sub(
        tf.mul(
          this.perExample(eps, t, (v) => this.alpha(v)),
          eps,
        ),
        tf.mul(
          this.perExample(eps, t, (v) => this.sigma(v)),
          x0,
        ),
      ),
    );
  }
  /** x0 = (α z − σ v)/(α² + σ²) (= α z − σ v for VP). */
  x0FromV(zt: tf.Tensor, v: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() => {
      const a = this.perExample(zt, t, (u) => this.alpha(u));
      const s = this.perExample(zt, t, (u) => this.sigma(u));
      return tf.div(tf.sub(tf.mul(a, zt), tf.mul(s, v)), tf.add(tf.square(a), tf.square(s)));
    });
  }
  /** ε = (σ z + α v)/(α² + σ²). */
  epsFromV(zt: tf.Tensor, v: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() => {
      const a = this.perExample(zt, t, (u) => this.alpha(u));
      const s = this.perExample(zt, t, (u) => this.sigma(u));
      return tf.div(tf.add(tf.mul(s, zt), tf.mul(a, v)), tf.add(tf.square(a), tf.square(s)));
    });
  }
  /** ∇_z log q(z_t) = −ε/σ_t. */
  scoreFromEps(eps: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() =>
      tf.neg(
        tf.div(
          eps,
          this.perExample(eps, t, (v) => this.sigma(v)),
        ),
      ),
    );
  }
  epsFromScore(score: tf.Tensor, t: TimeArg): tf.Tensor {
    return tf.tidy(() =>
      tf.neg(
        tf.mul(
          score,
          this.perExample(score, t, (v) => this.sigma(v)),
        ),
      ),
    );
  }

  /** Turn a denoiser output of the given kind into an x0 prediction. */
  toX0(kind: PredictionKind, pred: tf.Tensor, zt: tf.Tensor, t: TimeArg): tf.Tensor {
    if (kind === 'x0') return tf.clone(pred);
    if (kind === 'eps') return this.x0FromEps(zt, pred, t);
    if (kind === 'v') return this.x0FromV(zt, pred, t);
    throw new AltarError('BAD_PREDICTION', `toX0: unknown prediction kind '${String(kind)}'`);
  }

  /** Turn a denoiser output of the given kind into an eps prediction. */
  toEps(kind: PredictionKind, pred: tf.Tensor, zt: tf.Tensor, t: TimeArg): tf.Tensor {
    if (kind === 'eps') return tf.clone(pred);
    if (kind === 'x0') return this.epsFromX0(zt, pred, t);
    if (kind === 'v') return this.epsFromV(zt, pred, t);
    throw new AltarError('BAD_PREDICTION', `toEps: unknown prediction kind '${String(kind)}'`);
  }

  /** A host per-example value as a (B, 1, …, 1) tensor broadcastable against `like`. */
  private perExample(like: tf.Tensor, t: TimeArg, f: (t: number) => number): tf.Tensor {
    const B = like.shape[0]!;
    const ts = expandTime(this.name, t, B);
    return this.column(like, ts.map(f));
  }

  private column(like: tf.Tensor, vals: Float64Array): tf.Tensor {
    const shape = [like.shape[0]!, ...like.shape.slice(1).map(() => 1)];
    return tf.tensor(Float32Array.from(vals), shape, 'float32');
  }
}
