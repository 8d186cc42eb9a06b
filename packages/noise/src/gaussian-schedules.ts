/**
 * Gaussian noise schedules for the forward processes in gaussian.ts, z_t = α_t x0 + σ_t ε in continuous
 * time t ∈ [0, 1]: host Float64 functions of t giving α_t, σ_t and the log-SNR.
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
import { AltarError } from '@altar/backend';

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
