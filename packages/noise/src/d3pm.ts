/**
 * Discrete-time discrete diffusion (D3PM, Austin et al. 2021): uniform, absorbing ([MASK] = id V) and any
 * user-given per-step transition matrix. Uniform and absorbing use closed forms (D3PM App. A.2):
 *   uniform   Q_t = (1 − β_t) I + β_t 11ᵀ/K,   Q̄_t = ᾱ_t I + (1 − ᾱ_t) 11ᵀ/K
 *   absorbing Q_t = (1 − β_t) I + β_t 1 e_mᵀ,  Q̄_t = ᾱ_t I + (1 − ᾱ_t) 1 e_mᵀ,   ᾱ_t = Π_{i≤t} (1 − β_i)
 * (both families are closed under products, so Q_{s→t} = Q_{s+1}···Q_t has the same form with Π_{s<i≤t}(1−β_i)).
 * A 'matrix' process multiplies the given matrices on the host (cached), so keep K small there.
 */
import { AltarError } from '@altar/backend';
import { d3pmBetas, type D3PMScheduleKind } from './d3pm-schedules.js';
import { FactorisedDiscreteProcess } from './discrete-base.js';
import { checkStep } from './time.js';

/**
 * The D3PM processes a config can name (the matrix kind takes an explicit transition matrix instead).
 *
 * @example
 * ```ts
 * const kind = D3PM_KINDS[0]; // 'absorbing'
 * new D3PMProcess({ kind, vocabSize: 8, T: 16 });
 * ```
 */
export const D3PM_KINDS = ['absorbing', 'uniform'] as const;

/**
 * How to build a {@link D3PMProcess}: a named kind (uniform or absorbing) with a β schedule, or any
 * per-step transition matrix over K ≥ V states.
 *
 * @example
 * ```ts
 * const absorbing: D3PMConfig = { kind: 'absorbing', vocabSize: 8, T: 32, schedule: 'jsd' };
 * // A lazy random walk over 3 tokens: stay with probability 0.9, else move to either neighbour.
 * const walk: D3PMConfig = {
 *   kind: 'matrix', vocabSize: 3, numStates: 3, T: 10,
 *   stepMatrix: () => [0.9, 0.05, 0.05, 0.05, 0.9, 0.05, 0.05, 0.05, 0.9],
 * };
 * ```
 */
export type D3PMConfig =
  | { kind: 'uniform' | 'absorbing'; vocabSize: number; T: number; schedule?: D3PMScheduleKind; betas?: Float64Array }
  | {
      kind: 'matrix';
      vocabSize: number;
      /** K ≥ V latent states; data tokens are 0..V−1. */
      numStates: number;
      T: number;
      /** Q_t (K*K, [i*K+j] = q(z_t = j | z_{t−1} = i)) for t = 1..T; rows must sum to 1. */
      stepMatrix: (t: number) => ArrayLike<number>;
      /** p(z_T); default: the mean of q(z_T | x0) over the V data tokens. */
      prior?: ArrayLike<number>;
      name?: string;
    };

/**
 * Discrete-time discrete diffusion (D3PM, Austin et al. 2021): each token is corrupted independently by
 * Q_1..Q_T (uniform, absorbing into [MASK] = id V, or any matrix). Times are integers t ∈ 1..T;
 * `marginal`, `sample` and `posterior` are tidy-wrapped tensor ops, the `…Host` twins are Float64.
 *
 * @example
 * ```ts
 * const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: 4, T: 8 });
 * const x0 = tf.tensor2d([[0, 1, 2, 3]], [1, 4], 'int32');
 * const zt = proc.sample(x0, 5, new Rng(0));                  // (1, 4): some tokens are 4 = [MASK]
 * const post = proc.posterior(zt, tf.fill([1, 4, 4], 0.25), 4, 5); // p(z_4 | z_5), (1, 4, 5)
 * ```
 */
export class D3PMProcess extends FactorisedDiscreteProcess {
  readonly name: string;
  readonly kind: 'uniform' | 'absorbing' | 'matrix';
  readonly vocabSize: number;
  readonly numStates: number;
  readonly maskId: number;
  readonly T: number;
  /** β_t at index t−1 (uniform/absorbing only; empty for 'matrix'). */
  readonly betas: Float64Array;
  private readonly steps: Float64Array[] = [];
  private readonly cum = new Map<number, Float64Array>();
  private readonly trans = new Map<string, Float64Array>();
  private priorVec: Float64Array | undefined;

  constructor(config: D3PMConfig) {
    super();
    const { vocabSize: V, T } = config;
    if (!Number.isInteger(V) || V < 2)
      throw new AltarError('BAD_CONFIG', `D3PMProcess: vocabSize must be an integer ≥ 2, got ${V}`);
    if (!Number.isInteger(T) || T < 1)
      throw new AltarError('BAD_CONFIG', `D3PMProcess: T must be a positive integer, got ${T}`);
    this.kind = config.kind;
    this.vocabSize = V;
    this.T = T;
    if (config.kind === 'matrix') {
      const K = config.numStates;
      if (!Number.isInteger(K) || K < V)
        throw new AltarError('BAD_CONFIG', `D3PMProcess: numStates must be an integer ≥ vocabSize ${V}, got ${K}`);
      this.numStates = K;
      this.maskId = -1;
      this.betas = new Float64Array(0);
      this.name = config.name ?? `d3pm-matrix(K=${K},T=${T})`;
      for (let t = 1; t <= T; t++) {
        const m = Float64Array.from(config.stepMatrix(t));
        if (m.length !== K * K)
          throw new AltarError(
            'BAD_CONFIG',
            `D3PMProcess: stepMatrix(${t}) has ${m.length} entries, expected K*K = ${K * K}`,
          );
        for (let i = 0; i < K; i++) {
          let row = 0;
          for (let j = 0; j < K; j++) {
            const v = m[i * K + j]!;
            if (!(v >= 0))
              throw new AltarError(
                'BAD_CONFIG',
                `D3PMProcess: stepMatrix(${t})[${i},${j}] = ${v} is not a probability`,
              );
            row += v;
          }
          if (Math.abs(row - 1) > 1e-9)
            throw new AltarError('BAD_CONFIG', `D3PMProcess: row ${i} of stepMatrix(${t}) sums to ${row}, not 1`);
        }
        this.steps.push(m);
      }
      if (config.prior) {
        const p = Float64Array.from(config.prior);
        if (p.length !== K)
          throw new AltarError('BAD_CONFIG', `D3PMProcess: prior has ${p.length} entries, expected K = ${K}`);
        this.priorVec = p;
      }
    } else {
      const K = config.kind === 'absorbing' ? V + 1 : V;
      this.numStates = K;
      this.maskId = config.kind === 'absorbing' ? V : -1;
      const schedule = config.schedule ?? (config.kind === 'absorbing' ? 'jsd' : 'cosine');
      this.betas = config.betas ? Float64Array.from(config.betas) : d3pmBetas(schedule, T);
      if (this.betas.length !== T)
        throw new AltarError('BAD_CONFIG', `D3PMProcess: betas has ${this.betas.length} entries, expected T = ${T}`);
      this.name = `d3pm-${config.kind}-${config.betas ? 'custom' : schedule}(T=${T})`;
    }
  }

  protected checkTime(op: string, t: number): void {
    checkStep(op, t, this.T, 0);
  }

  timeAtUnit(u: number): number {
    return Math.round(u * this.T);
  }

  /** Π_{s<i≤t} (1 − β_i): the probability that a token is untouched between s and t (uniform/absorbing). */
  keepProb(s: number, t: number): number {
    let p = 1;
    for (let i = s + 1; i <= t; i++) p *= 1 - this.betas[i - 1]!;
    return p;
  }

  /** ᾱ_t = keepProb(0, t). */
  alphaBar(t: number): number {
    return this.keepProb(0, t);
  }

  /** Q_t, K*K, [i*K+j] = q(z_t = j | z_{t−1} = i). */
  stepMatrix(t: number): Float64Array {
    checkStep('stepMatrix', t, this.T, 1);
    return this.transitionMatrix(t - 1, t);
  }

  cumulativeMatrix(t: number): Float64Array {
    checkStep('cumulativeMatrix', t, this.T, 0);
    return this.transitionMatrix(0, t);
  }

  transitionMatrix(s: number, t: number): Float64Array {
    checkStep('transitionMatrix', s, this.T, 0);
    checkStep('transitionMatrix', t, this.T, 0);
    if (s > t) throw new AltarError('BAD_TIME', `transitionMatrix: need s ≤ t, got s = ${s}, t = ${t}`);
    const key = `${s},${t}`;
    const hit = s === 0 ? this.cum.get(t) : this.trans.get(key);
    if (hit) return hit;
    const K = this.numStates;
    let m: Float64Array;
    if (this.kind === 'matrix') {
      if (s === t) {
        m = identity(K);
      } else if (s === 0) {
        m = matMulSq(this.cumulativeMatrix(t - 1), this.steps[t - 1]!, K);
      } else {
        m = identity(K);
        for (let i = s + 1; i <= t; i++) m = matMulSq(m, this.steps[i - 1]!, K);
      }
    } else {
      const a = this.keepProb(s, t);
      m = new Float64Array(K * K);
      if (this.kind === 'uniform') {
        const off = (1 - a) / K;
        m.fill(off);
        for (let i = 0; i < K; i++) m[i * K + i] = a + off;
      } else {
        const mk = this.maskId;
        for (let i = 0; i < K; i++) {
          m[i * K + i] = a;
          m[i * K + mk] = m[i * K + mk]! + (1 - a);
        }
      }
    }
    // Closed forms are cheap to rebuild; cache them only while small (K = 257 bytes × T = 1000 would be GBs).
    if (this.kind === 'matrix' || K <= 64) {
      if (s === 0) this.cum.set(t, m);
      else if (this.trans.size < 4096) this.trans.set(key, m);
    }
    return m;
  }

  /** p(z_T): uniform 1/K, absorbing δ_mask, 'matrix' the given prior or the mean of q(z_T | x0) over data tokens. */
  prior(): Float64Array {
    if (this.priorVec) return this.priorVec;
    const K = this.numStates;
    const p = new Float64Array(K);
    if (this.kind === 'uniform') p.fill(1 / K);
    else if (this.kind === 'absorbing') p[this.maskId] = 1;
    else {
      const q = this.cumulativeMatrix(this.T);
      const V = this.vocabSize;
      for (let x = 0; x < V; x++) for (let j = 0; j < K; j++) p[j] = p[j]! + q[x * K + j]! / V;
    }
    this.priorVec = p;
    return p;
  }
}

function identity(K: number): Float64Array {
  const m = new Float64Array(K * K);
  for (let i = 0; i < K; i++) m[i * K + i] = 1;
  return m;
}

function matMulSq(a: Float64Array, b: Float64Array, K: number): Float64Array {
  const c = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let k = 0; k < K; k++) {
      const v = a[i * K + k]!;
      if (v === 0) continue;
      for (let j = 0; j < K; j++) c[i * K + j] = c[i * K + j]! + v * b[k * K + j]!;
    }
  return c;
}
