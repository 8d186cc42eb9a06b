/**
 * Continuous-time masked (absorbing) diffusion: MDLM (Sahoo et al. 2024) and MD4 (Shi et al. 2024).
 * Each token stays itself with probability α_t and becomes [MASK] (id V) otherwise:
 *   q(z_t | x0) = Cat(z_t; α_t x0 + (1 − α_t) m)                       (MDLM eq. 2)
 *   q(z_s | z_t = m, x0) = Cat(z_s; [(α_s − α_t) x0 + (1 − α_s) m] / (1 − α_t)),  unmasked z_t stays (MDLM eq. 3–4)
 * α is decreasing with α_0 = 1 and α_1 ≈ 0; α'_t is its derivative.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { FactorisedDiscreteProcess } from './discrete-base.js';
import { checkUnit, expandTime, type TimeArg } from './time.js';

/**
 * A masking schedule in continuous time: α_t, the probability that a token is still unmasked at t, and
 * its derivative. Build one with {@link maskSchedule} or supply your own.
 *
 * @example
 * ```ts
 * const sqrtSchedule: MaskSchedule = { name: 'sqrt', alpha: (t) => 1 - Math.sqrt(t), dAlpha: (t) => -0.5 / Math.sqrt(t) };
 * const proc = new MaskedProcess({ vocabSize: 8, schedule: sqrtSchedule });
 * ```
 */
export interface MaskSchedule {
  readonly name: string;
  /** α_t: probability that a token is still unmasked at time t ∈ [0, 1]. */
  alpha(t: number): number;
  /** dα_t/dt (≤ 0). */
  dAlpha(t: number): number;
}

/**
 * The named masking schedules (see {@link maskSchedule}).
 *
 * @example
 * ```ts
 * const kind: MaskScheduleKind = 'cosine';
 * new MaskedProcess({ vocabSize: 8, schedule: kind });
 * ```
 */
export type MaskScheduleKind = 'log-linear' | 'linear' | 'cosine';
/**
 * Every {@link MaskScheduleKind}, for validating a config value.
 *
 * @example
 * ```ts
 * MASK_SCHEDULES.includes('log-linear'); // true
 * ```
 */
export const MASK_SCHEDULES: readonly MaskScheduleKind[] = ['log-linear', 'linear', 'cosine'];

/**
 * - 'log-linear' (MDLM §3.5, the default there): σ(t) = −log(1 − (1 − ε) t), α_t = e^{−σ(t)} = 1 − (1 − ε) t,
 *   ε = 1e-3 so that α_1 = ε > 0 (keeps the weight α'/(1 − α) finite) — linear in α, "log-linear" in σ.
 * - 'linear' (MD4 Table 1): α_t = 1 − t exactly (α_1 = 0).
 * - 'cosine' (MD4 Table 1): α_t = 1 − cos(π/2 · (1 − t)), α'_t = −π/2 · sin(π/2 · (1 − t)).
 *
 * @example
 * ```ts
 * const s = maskSchedule('log-linear', { eps: 1e-3 });
 * s.alpha(1); // 0.001: a token survives to t = 1 with probability ε
 * ```
 */
export function maskSchedule(kind: MaskScheduleKind, opts: { eps?: number } = {}): MaskSchedule {
  switch (kind) {
    case 'log-linear': {
      const eps = opts.eps ?? 1e-3;
      return { name: 'log-linear', alpha: (t) => 1 - (1 - eps) * t, dAlpha: () => -(1 - eps) };
    }
    case 'linear':
      return { name: 'linear', alpha: (t) => 1 - t, dAlpha: () => -1 };
    case 'cosine':
      return {
        name: 'cosine',
        alpha: (t) => 1 - Math.cos((Math.PI / 2) * (1 - t)),
        dAlpha: (t) => -(Math.PI / 2) * Math.sin((Math.PI / 2) * (1 - t)),
      };
    default:
      throw new AltarError(
        'BAD_SCHEDULE',
        `maskSchedule: unknown schedule '${String(kind)}', expected ${MASK_SCHEDULES.join(', ')}`,
      );
  }
}

/**
 * Continuous-time masked diffusion (MDLM, MD4): each token stays itself with probability α_t and is
 * [MASK] (id V) otherwise; the ELBO weight is −α'_t / (1 − α_t). t ∈ [0, 1].
 *
 * @example
 * ```ts
 * const proc = new MaskedProcess({ vocabSize: 4, schedule: 'log-linear' });
 * const x0 = tf.tensor2d([[0, 1, 2, 3]], [1, 4], 'int32');
 * const zt = proc.sample(x0, 0.5, new Rng(0)); // about half the tokens are 4 = [MASK]
 * proc.weight(0.5);                             // −α'_t / (1 − α_t), the NELBO's weight at t
 * ```
 */
export class MaskedProcess extends FactorisedDiscreteProcess {
  readonly name: string;
  readonly vocabSize: number;
  readonly numStates: number;
  readonly maskId: number;
  readonly schedule: MaskSchedule;

  constructor(config: { vocabSize: number; schedule?: MaskSchedule | MaskScheduleKind }) {
    super();
    const V = config.vocabSize;
    if (!Number.isInteger(V) || V < 2)
      throw new AltarError('BAD_CONFIG', `MaskedProcess: vocabSize must be an integer ≥ 2, got ${V}`);
    this.vocabSize = V;
    this.numStates = V + 1;
    this.maskId = V;
    const s = config.schedule ?? 'log-linear';
    this.schedule = typeof s === 'string' ? maskSchedule(s) : s;
    this.name = `masked-${this.schedule.name}`;
  }

  protected checkTime(op: string, t: number): void {
    checkUnit(op, t);
  }

  timeAtUnit(u: number): number {
    return u;
  }

  alpha(t: number): number {
    return this.schedule.alpha(t);
  }

  dAlpha(t: number): number {
    return this.schedule.dAlpha(t);
  }

  /** The MDLM/MD4 NELBO weight −α'_t / (1 − α_t) ≥ 0 (MDLM eq. 10, MD4 eq. 5). */
  weight(t: number): number {
    return -this.schedule.dAlpha(t) / (1 - this.schedule.alpha(t));
  }

  cumulativeMatrix(t: number): Float64Array {
    checkUnit('cumulativeMatrix', t);
    return this.keepMatrix(this.alpha(t));
  }

  transitionMatrix(s: number, t: number): Float64Array {
    checkUnit('transitionMatrix', s);
    checkUnit('transitionMatrix', t);
    if (s > t) throw new AltarError('BAD_TIME', `transitionMatrix: need s ≤ t, got s = ${s}, t = ${t}`);
    const as = this.alpha(s);
    return this.keepMatrix(as > 0 ? this.alpha(t) / as : 0);
  }

  /**
   * p(z_1) = (1 − α_1) δ_mask + α_1 · U(V): δ_mask when α_1 = 0; with α_1 = ε > 0 (log-linear) the ε mass
   * on data tokens keeps KL(q(z_1 | x0) || p(z_1)) = α_1 log V finite.
   */
  prior(): Float64Array {
    const a1 = this.alpha(1);
    const p = new Float64Array(this.numStates).fill(a1 / this.vocabSize);
    p[this.maskId] = 1 - a1;
    return p;
  }

  /** z_t ~ q(z_t | x0) by host coin flips (cheaper than Gumbel-max over K): int32 (B,N). */
  override sample(x0: tf.Tensor, t: TimeArg, rng: Rng): tf.Tensor2D {
    if (x0.rank !== 2) throw new AltarError('BAD_SHAPE', `sample: tokens must be (B, N), got (${x0.shape.join(', ')})`);
    const [B, N] = x0.shape as [number, number];
    const ts = expandTime('sample', t, B);
    const keep = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      checkUnit('sample', ts[b]!);
      const a = this.alpha(ts[b]!);
      for (let i = 0; i < N; i++) keep[b * N + i] = rng.nextDouble() < a ? 1 : 0;
    }
    return tf.tidy(() =>
      tf.where(tf.cast(tf.tensor2d(keep, [B, N]), 'bool'), tf.cast(x0, 'int32'), tf.fill([B, N], this.maskId, 'int32')),
    ) as tf.Tensor2D;
  }

  private keepMatrix(a: number): Float64Array {
    const K = this.numStates;
    const m = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      m[i * K + i] = a;
      m[i * K + this.maskId] = m[i * K + this.maskId]! + (1 - a);
    }
    return m;
  }
}
