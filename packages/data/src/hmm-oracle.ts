/**
 * The exact denoiser of an HMM source under a factorised discrete noise q(z | x0) = Π_i q(z_i | x0_i):
 * the posterior marginals p(x0_i | z) by forward–backward with "noisy emissions" (Rabiner 1989, eqs.
 * 18–27, scaled as in §V.A). With L_i(x) = q(z_i | x0_i = x) and e_i(s) = Σ_x B(s, x) L_i(x):
 *   forward   f_i(s) = p̄_i(s) e_i(s),  c_i = Σ_s f_i(s) = p(z_i | z_<i),  α̂_i = f_i / c_i,  p̄_{i+1} = α̂_i A
 *             (p̄_0 = π; p̄_i(s) = p(s_i = s | z_<i))
 *   backward  β̂_{n-1} = 1,  β̂_i(r) = Σ_s A(r, s) e_{i+1}(s) β̂_{i+1}(s) / c_{i+1}
 *   posterior p(x0_i = x | z) = L_i(x) Σ_s p̄_i(s) B(s, x) β̂_i(s) / c_i,   log p(z) = Σ_i log c_i.
 * The oracle denoiser wraps this as the discrete Denoiser contract; the noise process enters only
 * through a caller-supplied matrix function, so @altar/data never imports @altar/noise.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { HmmSource } from './hmm.js';

/**
 * Exact posterior marginals p(x0_i | z) of an HMM given per-position likelihoods, and the evidence log p(z).
 *
 * @example
 * ```ts
 * const { marginals, logEvidence }: HmmPosterior = hmmPosterior(src, L);
 * ```
 */
export interface HmmPosterior {
  /** p(x0_i = x | z), (N*V) row-major; each row sums to 1. */
  marginals: Float64Array;
  /** log p(z) in nats = log Σ_x p(x) Π_i L_i(x_i). */
  logEvidence: number;
}

/**
 * Exact posterior marginals of x0 given per-position likelihoods L (N*V row-major, L[i*V+x] =
 * q(z_i | x0_i = x), non-negative). N may differ from source.seqLen (the HMM is defined for any length).
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 4 });
 * const L = new Float64Array(4 * src.vocabSize).fill(1);   // no information about any position
 * const { marginals } = hmmPosterior(src, L);               // = src.positionMarginals(4)
 * ```
 */
export function hmmPosterior(source: HmmSource, L: ArrayLike<number>): HmmPosterior {
  const V = source.vocabSize;
  const S = source.numStates;
  if (!L || typeof L.length !== 'number' || L.length === 0 || L.length % V !== 0) {
    throw new AltarError('BAD_ARG', `hmmPosterior: L must hold N*V entries with V = ${V}, got length ${L?.length}`);
  }
  const N = L.length / V;
  for (let j = 0; j < L.length; j++) {
    const v = L[j]!;
    if (!(v >= 0) || !Number.isFinite(v)) {
      throw new AltarError(
        'BAD_ARG',
        `hmmPosterior: L[${Math.floor(j / V)}][${j % V}] = ${v} is not a finite likelihood >= 0`,
      );
    }
  }
  const A = source.transition;
  const Bm = source.emission;
  // e_i(s) = Σ_x B(s, x) L_i(x): the probability that state s, through x0_i, produces z_i.   (N, S)
  const e = new Float64Array(N * S);
  for (let i = 0; i < N; i++) {
    for (let s = 0; s < S; s++) {
      let acc = 0;
      for (let x = 0; x < V; x++) acc += Bm[s * V + x]! * L[i * V + x]!;
      e[i * S + s] = acc;
    }
  }
  // Forward: predictive p̄_i (N, S), filtered α̂_i, scales c_i.
  const pred = new Float64Array(N * S);
  const c = new Float64Array(N);
  let logEvidence = 0;
  pred.set(source.initial, 0);
  const alpha = new Float64Array(S);
  for (let i = 0; i < N; i++) {
    let ci = 0;
    for (let s = 0; s < S; s++) ci += alpha[s] = pred[i * S + s]! * e[i * S + s]!;
    if (!(ci > 0)) {
      throw new AltarError(
        'IMPOSSIBLE_OBSERVATION',
        `hmmPosterior: the observation has probability 0 under the source (at position ${i})`,
      );
    }
    c[i] = ci;
    logEvidence += Math.log(ci);
    if (i + 1 < N) {
      for (let r = 0; r < S; r++) {
        const a = alpha[r]! / ci;
        if (a === 0) continue;
        for (let s = 0; s < S; s++) pred[(i + 1) * S + s]! += a * A[r * S + s]!;
      }
    }
  }
  // Backward with the same scales; then the x0 marginals.
  const marginals = new Float64Array(N * V);
  let beta = new Float64Array(S).fill(1);
  for (let i = N - 1; i >= 0; i--) {
    const ci = c[i]!;
    let total = 0;
    for (let x = 0; x < V; x++) {
      const l = L[i * V + x]!;
      if (l === 0) continue;
      let acc = 0;
      for (let s = 0; s < S; s++) acc += pred[i * S + s]! * Bm[s * V + x]! * beta[s]!;
      const p = (l * acc) / ci;
      marginals[i * V + x] = p;
      total += p;
    }
    // total is 1 up to rounding; renormalise so rows are exact distributions.
    for (let x = 0; x < V; x++) marginals[i * V + x] = marginals[i * V + x]! / total;
    if (i > 0) {
      const nb = new Float64Array(S);
      for (let r = 0; r < S; r++) {
        let acc = 0;
        for (let s = 0; s < S; s++) acc += A[r * S + s]! * e[i * S + s]! * beta[s]!;
        nb[r] = acc / ci;
      }
      beta = nb;
    }
  }
  return { marginals, logEvidence };
}

/**
 * q(z_t = z | x0 = x) for the noise at time t ∈ [0, 1], as a (K*V) row-major matrix M[z*V + x];
 * K ≥ V (K = V+1 for an absorbing process whose mask id is V). Discrete-time processes map t = step/T.
 *
 * @example
 * ```ts
 * const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'linear' });
 * const noise: NoiseMatrixFn = (t) => proc.marginalMatrix(t);
 * ```
 */
export type NoiseMatrixFn = (t: number) => ArrayLike<number>;

/**
 * Options of {@link hmmOracleDenoiser}: the probability floor before the log and whether to cache noise matrices.
 *
 * @example
 * ```ts
 * hmmOracleDenoiser(src, noise, { minProb: 1e-20, cacheMatrices: false });
 * ```
 */
export interface HmmOracleOptions {
  /** Floor for probabilities before the log, so outputs stay finite (default 1e-30). */
  minProb?: number;
  /** Cache noise matrices per distinct t (default true; turn off if the function is not pure). */
  cacheMatrices?: boolean;
}

/**
 * The discrete Denoiser contract (structural) returned by hmmOracleDenoiser.
 *
 * @example
 * ```ts
 * const oracle: HmmOracleDenoiser = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t));
 * const logits = await oracle.predictX0LogitsAsync(zt, 0.5); // (B, N, V) = log p(x0 | z_t)
 * ```
 */
export interface HmmOracleDenoiser {
  readonly vocabSize: number;
  readonly name: string;
  /** log p(x0 | z_t) as (B, N, V) float32 "logits" (already normalised log-probabilities). */
  predictX0Logits(zt: tf.Tensor2D, t: tf.Tensor1D | number): tf.Tensor3D;
  /** Same, reading inputs with `await data()` (use on WebGPU, where dataSync is costly). */
  predictX0LogitsAsync(zt: tf.Tensor2D, t: tf.Tensor1D | number): Promise<tf.Tensor3D>;
  /** Also useful for bounds: log p(z_t) per row (nats) computed from host arrays. */
  logEvidence(zt: Int32Array, batch: number, t: ArrayLike<number> | number): Float64Array;
}

/**
 * An oracle denoiser: p(x0 | z_t) exactly, for every position, from the HMM's forward–backward.
 * The caller passes the noise as `noiseMatrix(t)`; the tensor inputs are read on the host
 * (synchronously in predictX0Logits — fine on cpu/wasm; use predictX0LogitsAsync on WebGPU).
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'log-linear' });
 * const oracle = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t));
 * const loss = maskedNelbo(proc, oracle, src.sampleTensor(8, new Rng(0)), new Rng(1)); // E ≥ −log p(x)
 * ```
 */
export function hmmOracleDenoiser(
  source: HmmSource,
  noiseMatrix: NoiseMatrixFn,
  options: HmmOracleOptions = {},
): HmmOracleDenoiser {
  if (typeof noiseMatrix !== 'function') {
    throw new AltarError(
      'BAD_ARG',
      `hmmOracleDenoiser: noiseMatrix must be a function (t) => Float64Array (K*V), got ${typeof noiseMatrix}`,
    );
  }
  const V = source.vocabSize;
  const minProb = options.minProb ?? 1e-30;
  if (!(minProb > 0 && minProb < 1))
    throw new AltarError('BAD_ARG', `hmmOracleDenoiser: minProb must be in (0, 1), got ${minProb}`);
  const useCache = options.cacheMatrices ?? true;
  const cache = new Map<number, { m: ArrayLike<number>; K: number }>();

  const matrixAt = (t: number): { m: ArrayLike<number>; K: number } => {
    if (!Number.isFinite(t) || t < 0 || t > 1)
      throw new AltarError('BAD_ARG', `hmmOracleDenoiser: t must be in [0, 1], got ${t}`);
    const hit = useCache ? cache.get(t) : undefined;
    if (hit) return hit;
    const m = noiseMatrix(t);
    if (!m || typeof m.length !== 'number' || m.length % V !== 0 || m.length < V * V) {
      throw new AltarError(
        'BAD_ARG',
        `hmmOracleDenoiser: noiseMatrix(${t}) must return K*V entries with K >= V = ${V}, got length ${m?.length}`,
      );
    }
    const entry = { m, K: m.length / V };
    if (useCache) cache.set(t, entry);
    return entry;
  };

  const likelihoods = (z: Int32Array, b: number, N: number, t: number): Float64Array => {
    const { m, K } = matrixAt(t);
    const L = new Float64Array(N * V);
    for (let i = 0; i < N; i++) {
      const zi = z[b * N + i]!;
      if (zi < 0 || zi >= K)
        throw new AltarError('BAD_TOKEN', `hmmOracleDenoiser: z_t[${b}][${i}] = ${zi} is outside [0, ${K})`);
      for (let x = 0; x < V; x++) L[i * V + x] = m[zi * V + x]!;
    }
    return L;
  };

  const timeAt = (t: ArrayLike<number> | number, b: number): number => (typeof t === 'number' ? t : t[b]!);

  const compute = (z: Int32Array, shape: number[], t: ArrayLike<number> | number): tf.Tensor3D => {
    const [B, N] = shape as [number, number];
    const out = new Float32Array(B * N * V);
    for (let b = 0; b < B; b++) {
      const post = hmmPosterior(source, likelihoods(z, b, N, timeAt(t, b)));
      for (let j = 0; j < N * V; j++) out[b * N * V + j] = Math.log(Math.max(post.marginals[j]!, minProb));
    }
    return tf.tensor3d(out, [B, N, V], 'float32'); // (B, N, V)
  };

  const check = (zt: tf.Tensor2D, t: tf.Tensor1D | number): void => {
    if (!(zt instanceof tf.Tensor) || zt.rank !== 2)
      throw new AltarError('BAD_ARG', `hmmOracleDenoiser: z_t must be a rank-2 (B, N) tensor, got ${describeT(zt)}`);
    if (zt.dtype !== 'int32') throw new AltarError('BAD_ARG', `hmmOracleDenoiser: z_t must be int32, got ${zt.dtype}`);
    if (typeof t !== 'number') {
      if (!(t instanceof tf.Tensor) || t.rank !== 1 || t.shape[0] !== zt.shape[0]) {
        throw new AltarError(
          'BAD_ARG',
          `hmmOracleDenoiser: t must be a number or a (B,) tensor with B = ${zt.shape[0]}, got ${describeT(t)}`,
        );
      }
    }
  };

  return {
    vocabSize: V,
    name: `oracle(${source.name})`,
    predictX0Logits(zt, t) {
      check(zt, t);
      const z = zt.dataSync() as Int32Array;
      const tv = typeof t === 'number' ? t : (t.dataSync() as Float32Array);
      return compute(z, zt.shape, tv);
    },
    async predictX0LogitsAsync(zt, t) {
      check(zt, t);
      const z = (await zt.data()) as Int32Array;
      const tv = typeof t === 'number' ? t : ((await t.data()) as Float32Array);
      return compute(z, zt.shape, tv);
    },
    logEvidence(zt, batch, t) {
      if (!Number.isInteger(batch) || batch < 1 || zt.length % batch !== 0) {
        throw new AltarError(
          'BAD_ARG',
          `hmmOracleDenoiser.logEvidence: ${zt.length} tokens do not split into ${batch} rows`,
        );
      }
      const N = zt.length / batch;
      const out = new Float64Array(batch);
      for (let b = 0; b < batch; b++) out[b] = hmmPosterior(source, likelihoods(zt, b, N, timeAt(t, b))).logEvidence;
      return out;
    },
  };
}

function describeT(x: unknown): string {
  if (x instanceof tf.Tensor) return `${x.dtype} tensor of shape [${x.shape.join(', ')}]`;
  return typeof x;
}

/**
 * Recurrent state of the HMM's AR oracle: per row, the predictive belief p(s_k | x_<k).
 *
 * @example
 * ```ts
 * let state: HmmFilterState = lm.initState(2); // one belief p(s_k | x_<k) per row
 * ```
 */
export interface HmmFilterState {
  beliefs: Float64Array[];
}

/**
 * The causal-LM contract (structural) for the exact AR conditionals of an HMM source.
 *
 * @example
 * ```ts
 * const lm: HmmOracleCausalLM = hmmOracleCausalLM(src);
 * const { samples } = await sampleAr(lm, { prompt: [[lm.bosToken]], length: 16, rng: new Rng(0) }); // exact AR samples
 * ```
 */
export interface HmmOracleCausalLM {
  /** Output vocabulary V (the source's tokens). Inputs may also use `bosToken` = V. */
  readonly vocabSize: number;
  readonly bosToken: number;
  readonly name: string;
  /** tokens (B, N) int32 → (B, N, V) log p(x_{i+1} | x_≤i); a BOS at position i resets, predicting x_0. */
  forward(tokens: tf.Tensor2D): tf.Tensor3D;
  initState(batch: number): HmmFilterState;
  /** tokens (B,) int32 → log p(next | history, token) (B, V) and the new state (the input state is not mutated). */
  step(tokens: tf.Tensor1D, state: HmmFilterState): { logits: tf.Tensor2D; state: HmmFilterState };
  disposeState(state: HmmFilterState): void;
  /** log p(x_0), (V). */
  firstTokenLogProbs(): Float64Array;
}

/**
 * The exact autoregressive model of an HMM source, shaped like a causal LM (exact AR "oracle"):
 * logits are log p(x_{k+1} | x_≤k) from the scaled forward recursion (Rabiner 1989, eq. 20).
 * Token id V is BOS: it resets the belief to π, so logits after BOS are log p(x_0).
 * Inputs are read on the host (dataSync; fine on cpu/wasm). No tensors are held in the state.
 *
 * @example
 * ```ts
 * const lm = hmmOracleCausalLM(new HmmSource({ seqLen: 8 }));
 * const logits = lm.forward(tf.tensor2d([[lm.bosToken, 3, 1]], [1, 3], 'int32')); // log p(x_0), log p(x_1 | 3), log p(x_2 | 3, 1)
 * ```
 */
export function hmmOracleCausalLM(source: HmmSource, options: { minProb?: number } = {}): HmmOracleCausalLM {
  const V = source.vocabSize;
  const bos = V;
  const minProb = options.minProb ?? 1e-30;
  const logProbsInto = (belief: Float64Array, out: Float32Array, offset: number) => {
    const p = source.tokenProbsFromBelief(belief);
    for (let x = 0; x < V; x++) out[offset + x] = Math.log(Math.max(p[x]!, minProb));
  };
  const advance = (belief: Float64Array, token: number, where: string): Float64Array => {
    if (!Number.isInteger(token) || token < 0 || token > V)
      throw new AltarError('BAD_TOKEN', `hmmOracleCausalLM: ${where} token ${token} is outside [0, ${V}] (${V} = BOS)`);
    if (token === bos) return Float64Array.from(source.initial);
    return source.updateBelief(belief, token).belief;
  };
  return {
    vocabSize: V,
    bosToken: bos,
    name: `ar-oracle(${source.name})`,
    forward(tokens) {
      if (!(tokens instanceof tf.Tensor) || tokens.rank !== 2 || tokens.dtype !== 'int32') {
        throw new AltarError(
          'BAD_ARG',
          `hmmOracleCausalLM.forward: tokens must be an int32 (B, N) tensor, got ${describeT(tokens)}`,
        );
      }
      const [B, N] = tokens.shape;
      const z = tokens.dataSync();
      const out = new Float32Array(B * N * V);
      for (let b = 0; b < B; b++) {
        let belief: Float64Array = Float64Array.from(source.initial);
        for (let i = 0; i < N; i++) {
          belief = advance(belief, z[b * N + i]!, `[${b}][${i}]`);
          logProbsInto(belief, out, (b * N + i) * V);
        }
      }
      return tf.tensor3d(out, [B, N, V], 'float32'); // (B, N, V)
    },
    initState(batch) {
      if (!Number.isInteger(batch) || batch < 1)
        throw new AltarError('BAD_ARG', `hmmOracleCausalLM.initState: batch must be a positive integer, got ${batch}`);
      return { beliefs: Array.from({ length: batch }, () => Float64Array.from(source.initial)) };
    },
    step(tokens, state) {
      if (
        !(tokens instanceof tf.Tensor) ||
        tokens.rank !== 1 ||
        tokens.dtype !== 'int32' ||
        tokens.shape[0] !== state.beliefs.length
      ) {
        throw new AltarError(
          'BAD_ARG',
          `hmmOracleCausalLM.step: tokens must be int32 (B,) with B = ${state.beliefs.length}, got ${describeT(tokens)}`,
        );
      }
      const z = tokens.dataSync();
      const B = state.beliefs.length;
      const out = new Float32Array(B * V);
      const beliefs = state.beliefs.map((bel, b) => {
        const nb = advance(bel, z[b]!, `[${b}]`);
        logProbsInto(nb, out, b * V);
        return nb;
      });
      return { logits: tf.tensor2d(out, [B, V], 'float32'), state: { beliefs } };
    },
    disposeState() {
      // host arrays only
    },
    firstTokenLogProbs() {
      return Float64Array.from(source.tokenProbsFromBelief(source.initial), (p) => Math.log(Math.max(p, minProb)));
    },
  };
}
