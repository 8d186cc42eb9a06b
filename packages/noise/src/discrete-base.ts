/**
 * Shared machinery of every factorised discrete process: each token is corrupted independently by a
 * Markov chain over K states whose first V are the data tokens (K = V + 1 with a [MASK] state id V for
 * absorbing/masked processes). A subclass supplies the host Float64 matrices; this base turns them into
 * the closed-form marginal, the sampler and the posterior as tidy-wrapped tensor ops, plus Float64 host
 * twins used by exact oracle evaluations.
 *
 * Matrix orientation (row-major Float64Array, K*K): [i*K + j] = q(z_t = j | z_s = i), rows sum to 1,
 * exactly D3PM's Q_t and Q̄_t (Austin et al. 2021, eq. 1–2: q(x_t | x_0) = Cat(x_t; p = x_0 Q̄_t)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { expandTime, type TimeArg } from './time.js';

/**
 * The base of every factorised discrete process ({@link D3PMProcess}, {@link MaskedProcess}): a subclass
 * supplies the Float64 transition matrices, this class derives the marginal q(z_t | x0), sampling, the
 * posterior q(z_s | z_t, x0) and the prior as tensor ops, with Float64 host twins for exact oracles.
 *
 * @example
 * ```ts
 * // Code written against the base works for D3PM and masked processes alike:
 * function maskedFraction(proc: FactorisedDiscreteProcess, t: number): number {
 *   const m = proc.marginalMatrix(t); // (K*V): [z*V + x] = q(z_t = z | x0 = x)
 *   return proc.maskId < 0 ? 0 : m[proc.maskId * proc.vocabSize]!;
 * }
 * maskedFraction(new MaskedProcess({ vocabSize: 4, schedule: 'linear' }), 0.25); // 0.25
 * ```
 */
export abstract class FactorisedDiscreteProcess {
  abstract readonly name: string;
  /** Number of data tokens V (x0 ∈ 0..V−1). */
  abstract readonly vocabSize: number;
  /** Number of latent states K (≥ V). */
  abstract readonly numStates: number;
  /** The [MASK] state id (= V) for absorbing/masked processes, −1 otherwise. */
  abstract readonly maskId: number;

  /** Q̄_t: K*K, [i*K+j] = q(z_t = j | z_0 = i). */
  abstract cumulativeMatrix(t: number): Float64Array;
  /** K*K, [i*K+j] = q(z_t = j | z_s = i) for s ≤ t. */
  abstract transitionMatrix(s: number, t: number): Float64Array;
  /** The reference distribution p(z_T) (discrete time) or p(z_1) (continuous time): Float64Array (K). */
  abstract prior(): Float64Array;
  /** Throws on a time outside the process's range. */
  protected abstract checkTime(op: string, t: number): void;

  /** The process time at unit time u ∈ [0, 1] (what a Denoiser receives): D3PM round(u·T), continuous u. */
  abstract timeAtUnit(u: number): number;

  /**
   * marginalMatrix at unit time u ∈ [0, 1]: pass `(u) => process.noiseMatrix(u)` to @altar/data's
   * hmmOracleDenoiser, which sees the same t the losses hand to any Denoiser (t/T for discrete time).
   */
  noiseMatrix(u: number): Float64Array {
    return this.marginalMatrix(this.timeAtUnit(u));
  }

  /** K*V host matrix, [z*V + x] = q(z_t = z | x0 = x): the per-token emission likelihood an HMM oracle consumes. */
  marginalMatrix(t: number): Float64Array {
    this.checkTime('marginalMatrix', t);
    const K = this.numStates;
    const V = this.vocabSize;
    const qbar = this.cumulativeMatrix(t);
    const out = new Float64Array(K * V);
    for (let x = 0; x < V; x++) for (let z = 0; z < K; z++) out[z * V + x] = qbar[x * K + z]!;
    return out;
  }

  /**
   * Host posterior for one sequence: p(z_s | z_t) = Σ_x0 q(z_s | z_t, x0) p(x0) per position, with
   * q(z_s | z_t, x0) = q(z_t | z_s) q(z_s | x0) / q(z_t | x0) (D3PM eq. 3). x0 values with
   * q(z_t | x0) = 0 cannot have produced z_t and are dropped; the result is renormalised over z_s, which is
   * exact when p puts no mass on such x0 (true for any exact oracle).
   * @param zt Int32Array (N) @param x0Probs Float64Array (N*V) @returns Float64Array (N*K)
   */
  posteriorHost(zt: ArrayLike<number>, x0Probs: ArrayLike<number>, s: number, t: number): Float64Array {
    this.checkPair('posteriorHost', s, t);
    const K = this.numStates;
    const V = this.vocabSize;
    const n = zt.length;
    if (x0Probs.length !== n * V) {
      throw new AltarError(
        'BAD_SHAPE',
        `posteriorHost: x0Probs has ${x0Probs.length} entries, expected N*V = ${n * V}`,
      );
    }
    const A = this.transitionMatrix(s, t);
    const qs = this.cumulativeMatrix(s);
    const qt = this.cumulativeMatrix(t);
    const out = new Float64Array(n * K);
    const r = new Float64Array(V);
    for (let i = 0; i < n; i++) {
      const z = zt[i]!;
      if (!(z >= 0 && z < K)) throw new AltarError('BAD_TOKEN', `posteriorHost: z_t token ${z} outside 0..${K - 1}`);
      for (let x = 0; x < V; x++) {
        const d = qt[x * K + z]!;
        r[x] = d > 0 ? x0Probs[i * V + x]! / d : 0;
      }
      let total = 0;
      for (let zs = 0; zs < K; zs++) {
        const a = A[zs * K + z]!;
        let m = 0;
        if (a > 0) for (let x = 0; x < V; x++) m += r[x]! * qs[x * K + zs]!;
        const v = a * m;
        out[i * K + zs] = v;
        total += v;
      }
      if (total > 0) for (let zs = 0; zs < K; zs++) out[i * K + zs] = out[i * K + zs]! / total;
    }
    return out;
  }

  /** q(z_t | x0) for every token: x0 int32 (B,N) → float32 (B,N,K). */
  marginal(x0: tf.Tensor, t: TimeArg): tf.Tensor3D {
    const [B, N] = this.tokenShape('marginal', x0);
    const ts = expandTime('marginal', t, B);
    for (const v of ts) this.checkTime('marginal', v);
    const V = this.vocabSize;
    const K = this.numStates;
    return tf.tidy(() => {
      const oh = tf.cast(tf.oneHot(tf.cast(x0, 'int32'), V), 'float32'); // (B, N, V)
      const mats = this.stackRows(ts, (tb) => this.cumulativeMatrix(tb), V); // (B|1, V, K)
      return this.rowMatMul(oh, mats, B, N, V, K);
    });
  }

  /** z_t ~ q(z_t | x0): x0 int32 (B,N) → int32 (B,N) (Gumbel-max through `rng`). */
  sample(x0: tf.Tensor, t: TimeArg, rng: Rng): tf.Tensor2D {
    return tf.tidy(() => {
      const p = this.marginal(x0, t);
      return rng.categorical(tf.log(p)) as tf.Tensor2D;
    });
  }

  /**
   * p(z_s | z_t) = Σ_x0 q(z_s | z_t, x0) p(x0) for every token (D3PM eq. 3 mixed over x0; MDLM/SEDD's
   * "mean parameterisation"): zt int32 (B,N), x0Probs float32 (B,N,V), s < t → float32 (B,N,K).
   * x0 values incompatible with z_t (q(z_t | x0) = 0) are dropped and the row renormalised (see posteriorHost).
   */
  posterior(zt: tf.Tensor, x0Probs: tf.Tensor, s: TimeArg, t: TimeArg): tf.Tensor3D {
    const [B, N] = this.tokenShape('posterior', zt);
    const V = this.vocabSize;
    const K = this.numStates;
    if (x0Probs.rank !== 3 || x0Probs.shape[0] !== B || x0Probs.shape[1] !== N || x0Probs.shape[2] !== V) {
      throw new AltarError(
        'BAD_SHAPE',
        `posterior: x0Probs must be (${B}, ${N}, ${V}), got (${x0Probs.shape.join(', ')})`,
      );
    }
    const ss = expandTime('posterior', s, B);
    const ts = expandTime('posterior', t, B);
    for (let b = 0; b < B; b++) this.checkPair('posterior', ss[b]!, ts[b]!);
    const same = ss.every((v) => v === ss[0]) && ts.every((v) => v === ts[0]);
    return tf.tidy(() => {
      const ohZ = tf.cast(tf.oneHot(tf.cast(zt, 'int32'), K), 'float32'); // (B, N, K)
      // a[zs] = q(z_t | z_s) = A[zs, zt]; d[x0] = Q̄_t[x0, zt]; m[zs] = Σ_x0 p(x0)/d(x0) · Q̄_s[x0, zs]
      const At = this.stackT(ss, ts, same, (sb, tb) => this.transitionMatrix(sb, tb), K, K); // (B|1, K[zt], K[zs])
      const Qt = this.stackT(ss, ts, same, (_sb, tb) => this.cumulativeMatrix(tb), K, V); // (B|1, K[zt], V)
      const Qs = this.stackRows(ss, (sb) => this.cumulativeMatrix(sb), V, same); // (B|1, V, K)
      const a = this.rowMatMul(ohZ, At, B, N, K, K); // (B, N, K)
      const d = this.rowMatMul(ohZ, Qt, B, N, K, V); // (B, N, V)
      // r = p(x0) / q(z_t | x0), 0 where z_t is impossible given x0. The reciprocal is taken of the
      // constant d only, so the gradient with respect to the model's x0Probs stays finite (divNoNan's
      // gradient is 0/0 = NaN wherever d = 0).
      const dInv = tf.where(tf.greater(d, 0), tf.reciprocal(tf.maximum(d, 1e-30)), tf.zerosLike(d));
      const r = tf.mul(tf.cast(x0Probs, 'float32'), dInv); // (B, N, V)
      const m = this.rowMatMul(r, Qs, B, N, V, K); // (B, N, K)
      const un = tf.mul(a, m);
      return tf.div(un, tf.maximum(tf.sum(un, -1, true), 1e-30)) as tf.Tensor3D;
    });
  }

  /** Prior samples z_T ~ p(z_T): int32 (B,N). */
  samplePrior(batch: number, seqLen: number, rng: Rng): tf.Tensor2D {
    const p = this.prior();
    const out = new Int32Array(batch * seqLen);
    for (let i = 0; i < out.length; i++) out[i] = rng.nextCategorical(p);
    return tf.tensor2d(out, [batch, seqLen], 'int32');
  }

  // ---- helpers ----

  protected checkPair(op: string, s: number, t: number): void {
    this.checkTime(op, s);
    this.checkTime(op, t);
    if (!(s < t)) throw new AltarError('BAD_TIME', `${op}: need s < t, got s = ${s}, t = ${t}`);
  }

  private tokenShape(op: string, x: tf.Tensor): [number, number] {
    if (x.rank !== 2) throw new AltarError('BAD_SHAPE', `${op}: tokens must be (B, N), got (${x.shape.join(', ')})`);
    return [x.shape[0]!, x.shape[1]!];
  }

  /** (B|1, R, K) stack of the first R rows of a K*K matrix per batch row. */
  private stackRows(
    ts: Float64Array,
    get: (t: number) => Float64Array,
    R: number,
    same = ts.every((v) => v === ts[0]),
  ): tf.Tensor3D {
    const K = this.numStates;
    const nb = same ? 1 : ts.length;
    const buf = new Float32Array(nb * R * K);
    for (let b = 0; b < nb; b++) buf.set(get(ts[b]!).subarray(0, R * K), b * R * K);
    return tf.tensor3d(buf, [nb, R, K]);
  }

  /** (B|1, K, C): transpose of the first C rows of a K*K matrix, so that oneHot(z) @ it picks column z. */
  private stackT(
    ss: Float64Array,
    ts: Float64Array,
    same: boolean,
    get: (s: number, t: number) => Float64Array,
    Kz: number,
    C: number,
  ): tf.Tensor3D {
    const K = this.numStates;
    const nb = same ? 1 : ts.length;
    const buf = new Float32Array(nb * Kz * C);
    for (let b = 0; b < nb; b++) {
      const m = get(ss[b]!, ts[b]!);
      const o = b * Kz * C;
      for (let z = 0; z < Kz; z++) for (let c = 0; c < C; c++) buf[o + z * C + c] = m[c * K + z]!;
    }
    return tf.tensor3d(buf, [nb, Kz, C]);
  }

  /** x (B,N,R) @ M (B|1,R,C) → (B,N,C); a shared matrix uses one 2-D matmul. */
  private rowMatMul(x: tf.Tensor, M: tf.Tensor3D, B: number, N: number, R: number, C: number): tf.Tensor3D {
    if (M.shape[0] === 1) {
      return tf.reshape(tf.matMul(tf.reshape(x, [B * N, R]), tf.reshape(M, [R, C])), [B, N, C]); // (B, N, C)
    }
    return tf.matMul(x as tf.Tensor3D, M); // (B, N, C)
  }
}
// Note: tf.oneHot(..., dtype 'float32') returns int bit patterns on the wasm backend (tfjs 4.22), so every
// one-hot here is built as int32 and cast.
