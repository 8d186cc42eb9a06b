/**
 * Gaussian forward processes z_t = α_t x0 + σ_t ε, ε ~ N(0, I), in continuous time t ∈ [0, 1]; the
 * discrete step i of T is t = i/T (t = 0 is the data). Schedules are host Float64 functions; the tensor
 * ops below are tidy-wrapped and broadcast a per-example (B,) α, σ over the trailing axes.
 *
 * The schedules (α_t, σ_t, λ_t as host functions of t) are in gaussian-schedules.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import { gaussianSchedule, type GaussianSchedule, type GaussianScheduleKind } from './gaussian-schedules.js';
import { expandTime, type TimeArg } from './time.js';

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
