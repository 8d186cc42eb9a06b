/**
 * A hidden Markov model over tokens: a known-likelihood source with exact log p(x).
 *
 * Generative process (Rabiner 1989, "A tutorial on hidden Markov models", §II):
 *   s_0 ~ π,  s_k | s_{k-1} ~ A[s_{k-1}, ·],  x_k | s_k ~ B[s_k, ·].
 * Exact likelihood by the scaled forward algorithm (Rabiner eqs. 19–21 with the scaling of §V.A):
 *   α̂_0(s) ∝ π(s) B(s, x_0),  α̂_k(s) ∝ Σ_r α̂_{k-1}(r) A(r, s) B(s, x_k),
 *   c_k = Σ_s [unnormalised α̂_k(s)] = p(x_k | x_<k),  log p(x) = Σ_k log c_k.
 * All arithmetic is float64 on the host; these models are small (tens of states and tokens).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import { checkBatchSize, tokensToTensor, type TokenSource } from './token-source.js';
import { checkTokens, rejectUnknownKeys, requireInt, requireNumber, requireStochastic } from './validate.js';

const LOG2 = Math.LN2;

/**
 * Structured HMM generator config. Every default has a reason (see defaultHmmConfig).
 *
 * @example
 * ```ts
 * const config: HmmConfig = { ...defaultHmmConfig, seqLen: 64, seed: 7 };
 * new HmmSource(config);
 * ```
 */
export interface HmmConfig {
  /** V: number of tokens. */
  vocabSize: number;
  /** S: number of hidden states. */
  numStates: number;
  /** N: sequence length of the source's samples. */
  seqLen: number;
  /** Seeds the emission weights and the token permutation. */
  seed: number;
  /** A(s, s) gets this extra mass: sticky states give long-range dependencies. */
  stayProb: number;
  /**
   * A(s, s+1 mod S) gets this extra mass: a cycle gives ordered structure. The rest,
   * 1 − stay − advance, is spread uniformly over all S states (incl. s and s+1).
   */
  advanceProb: number;
  /** Size of each state's emission support. */
  tokensPerState: number;
  /** Tokens shared by consecutive states' supports (0 = disjoint: the token reveals the state). */
  overlap: number;
  /** Peakedness of emissions within the support: weight ∝ exp(−skew · rank / tokensPerState) · jitter. */
  emissionSkew: number;
  /** Optional display name. */
  name?: string;
}

/**
 * The default source for `altar demo`. Chosen so that tiny models learn it fast yet it has strong
 * dependencies (measured in hmm.test.ts "default source statistics", and in the README):
 * - 32 tokens, 32 positions: small vocab and short sequences keep models tiny and training fast.
 * - 8 states, each emitting its own 5 tokens with 1 shared with the next state: the token almost
 *   reveals the state, so AR can reach the entropy rate from short context, while the shared tokens
 *   keep it a genuine HMM (the state is not always identifiable).
 * - stay 0.8 / advance 0.15 / jump 0.05: sticky with an ordered cycle, so neighbours remove much
 *   uncertainty; emissionSkew 4 makes each state's 5 tokens clearly ranked (≈1.7 bits within a state).
 * Measured (seed 1234): entropy rate ≈ 2.61 bits/token, Σ_i H(x_i)/n = 4.45 bits/token, hence
 * multi-information ≈ 1.84 bits/token — a factorised predictor loses that much at T = 1.
 *
 * @example
 * ```ts
 * new HmmSource({ ...defaultHmmConfig, numStates: 16 }); // or just new HmmSource({ numStates: 16 })
 * ```
 */
export const defaultHmmConfig: Readonly<HmmConfig> = Object.freeze({
  vocabSize: 32,
  numStates: 8,
  seqLen: 32,
  seed: 1234,
  stayProb: 0.8,
  advanceProb: 0.15,
  tokensPerState: 5,
  overlap: 1,
  emissionSkew: 4,
  name: 'hmm-default',
});

const HMM_CONFIG_KEYS = [
  'vocabSize', 'numStates', 'seqLen', 'seed', 'stayProb', 'advanceProb', 'tokensPerState', 'overlap', 'emissionSkew', 'name',
] as const;

/**
 * Explicit parameters: π (S), A (S×S row-major), B (S×V row-major).
 *
 * @example
 * ```ts
 * const m: HmmMatrices = { initial: [1, 0], transition: [0.9, 0.1, 0.1, 0.9], emission: [1, 0, 0, 1], seqLen: 8 };
 * const sticky = HmmSource.fromMatrices(m); // a two-state sticky chain over 2 tokens
 * ```
 */
export interface HmmMatrices {
  initial: ArrayLike<number>;
  transition: ArrayLike<number>;
  emission: ArrayLike<number>;
  seqLen: number;
  name?: string;
}

/**
 * A source's entropy figures in bits per token: the entropy rate (Monte-Carlo, with its standard error), the
 * marginal entropy and the multi-information a factorised predictor loses.
 *
 * @example
 * ```ts
 * const r: EntropyReport = new HmmSource().entropyReport(new Rng(0), 2000);
 * console.log(r.entropyBitsPerToken, r.multiInfoBitsPerToken); // ≈ 2.61 and ≈ 1.84 for the default
 * ```
 */
export interface EntropyReport {
  /** Estimated entropy rate H(x)/n in bits/token: mean of −log2 p(x)/n over samples. */
  entropyBitsPerToken: number;
  /** Standard error of that mean. */
  stdErr: number;
  /** Σ_i H(x_i) / n in bits/token, exact from the position marginals. */
  marginalEntropyBitsPerToken: number;
  /** (Σ_i H(x_i) − H(x)) / n: what a factorised (independent-position) predictor loses; stdErr as above. */
  multiInfoBitsPerToken: number;
  numSamples: number;
}

/**
 * Validate a partial config against the defaults; unknown keys and bad values throw ConfigError.
 *
 * @example
 * ```ts
 * resolveHmmConfig({ seqLen: 64 }); // every other key from defaultHmmConfig
 * resolveHmmConfig({ seqlen: 64 }); // throws ConfigError: unknown key
 * ```
 */
export function resolveHmmConfig(config: Partial<HmmConfig> = {}): HmmConfig {
  if (typeof config !== 'object' || config === null) throw new ConfigError('hmm', `expected a config object, got ${typeof config}`);
  rejectUnknownKeys('hmm', config, HMM_CONFIG_KEYS);
  const c: HmmConfig = { ...defaultHmmConfig, ...config };
  requireInt('hmm.vocabSize', c.vocabSize, 2, 1 << 16);
  requireInt('hmm.numStates', c.numStates, 1, 4096);
  requireInt('hmm.seqLen', c.seqLen, 1, 1 << 20);
  requireNumber('hmm.seed', c.seed);
  requireNumber('hmm.stayProb', c.stayProb, 0, 1);
  requireNumber('hmm.advanceProb', c.advanceProb, 0, 1);
  if (c.stayProb + c.advanceProb > 1 + 1e-12) {
    throw new ConfigError('hmm.advanceProb', `stayProb + advanceProb must be <= 1, got ${c.stayProb} + ${c.advanceProb}`);
  }
  requireInt('hmm.tokensPerState', c.tokensPerState, 1, c.vocabSize);
  requireInt('hmm.overlap', c.overlap, 0, c.tokensPerState - 1);
  requireNumber('hmm.emissionSkew', c.emissionSkew, 0, 100);
  if (c.name !== undefined && typeof c.name !== 'string') throw new ConfigError('hmm.name', `expected a string, got ${typeof c.name}`);
  return c;
}

/**
 * Build π, A, B from a structured config (deterministic given the seed).
 *
 * @example
 * ```ts
 * const { initial, transition, emission } = buildHmmMatrices({ numStates: 4, vocabSize: 12 });
 * ```
 */
export function buildHmmMatrices(config: Partial<HmmConfig> = {}, rng?: Rng): HmmMatrices {
  const c = resolveHmmConfig(config);
  const S = c.numStates;
  const V = c.vocabSize;
  const A = new Float64Array(S * S);
  const jump = 1 - c.stayProb - c.advanceProb;
  for (let r = 0; r < S; r++) {
    for (let s = 0; s < S; s++) A[r * S + s] = jump / S;
    A[r * S + r]! += c.stayProb;
    A[r * S + ((r + 1) % S)]! += c.advanceProb;
  }
  // A is circulant, hence doubly stochastic: the uniform π is stationary, so every position has the same marginal.
  const pi = new Float64Array(S).fill(1 / S);
  const r = rng ?? new Rng(c.seed);
  const perm = shuffle(V, r); // token ids are a seeded permutation of the structured layout
  const stride = c.tokensPerState - c.overlap;
  const B = new Float64Array(S * V);
  for (let s = 0; s < S; s++) {
    const order = shuffle(c.tokensPerState, r); // which support slot gets which rank
    let total = 0;
    const w = new Float64Array(c.tokensPerState);
    for (let j = 0; j < c.tokensPerState; j++) {
      const jitter = Math.exp(0.25 * (2 * r.nextDouble() - 1));
      w[j] = Math.exp((-c.emissionSkew * order[j]!) / c.tokensPerState) * jitter;
      total += w[j]!;
    }
    for (let j = 0; j < c.tokensPerState; j++) {
      const tok = perm[(s * stride + j) % V]!;
      B[s * V + tok]! += w[j]! / total;
    }
  }
  return { initial: pi, transition: A, emission: B, seqLen: c.seqLen, name: c.name ?? 'hmm' };
}

function shuffle(n: number, r: { nextDouble(): number }): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r.nextDouble() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

function entropyBits(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v > 0) h -= v * Math.log2(v);
  }
  return h;
}

/** Draw from a cumulative distribution (float64 inverse CDF). */
function drawFromCdf(cdf: Float64Array, offset: number, k: number, u: number): number {
  const total = cdf[offset + k - 1]!;
  const target = u * total;
  for (let j = 0; j < k; j++) if (target < cdf[offset + j]!) return j;
  return k - 1;
}

/**
 * A hidden Markov model over tokens with exact log p(x) (forward algorithm), sampling and entropy reports: the
 * default known-likelihood source, with strong dependencies between positions.
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 32 });
 * const x = src.sample(4, new Rng(0));     // Int32Array (4 · 32)
 * src.logProbBatch(x);                     // exact log p(x) per sequence, nats
 * src.entropyBitsPerToken;                 // the source's entropy rate
 * ```
 */
export class HmmSource implements TokenSource {
  readonly name: string;
  readonly vocabSize: number;
  readonly numStates: number;
  readonly seqLen: number;
  /** π (S). */
  readonly initial: Float64Array;
  /** A (S×S), row-major: A[r*S+s] = p(s_k = s | s_{k-1} = r). */
  readonly transition: Float64Array;
  /** B (S×V), row-major: B[s*V+x] = p(x_k = x | s_k = s). */
  readonly emission: Float64Array;
  /** The config it was built from (undefined for fromMatrices). */
  readonly config: HmmConfig | undefined;
  private cachedEntropy: EntropyReport | undefined;
  private readonly cdfA: Float64Array;
  private readonly cdfB: Float64Array;
  private readonly cdfPi: Float64Array;

  constructor(config: Partial<HmmConfig> = {}) {
    const c = resolveHmmConfig(config);
    const m = buildHmmMatrices(c);
    this.config = c;
    this.name = c.name ?? 'hmm';
    this.seqLen = c.seqLen;
    this.vocabSize = c.vocabSize;
    this.numStates = c.numStates;
    this.initial = m.initial as Float64Array;
    this.transition = m.transition as Float64Array;
    this.emission = m.emission as Float64Array;
    [this.cdfPi, this.cdfA, this.cdfB] = this.buildCdfs();
  }

  /** An HMM from explicit π, A, B (validated: shapes consistent, rows sum to 1). */
  static fromMatrices(m: HmmMatrices): HmmSource {
    if (typeof m !== 'object' || m === null) throw new ConfigError('hmm', 'fromMatrices: expected { initial, transition, emission, seqLen }');
    rejectUnknownKeys('hmm', m, ['initial', 'transition', 'emission', 'seqLen', 'name']);
    for (const k of ['initial', 'transition', 'emission'] as const) {
      const v = m[k] as unknown;
      if (!(Array.isArray(v) || ArrayBuffer.isView(v))) throw new ConfigError(`hmm.${k}`, 'expected an array of numbers');
    }
    const S = m.initial.length;
    requireInt('hmm.initial.length', S, 1);
    if (m.transition.length !== S * S) {
      throw new ConfigError('hmm.transition', `expected S*S = ${S * S} entries for S = ${S} states, got ${m.transition.length}`);
    }
    if (m.emission.length % S !== 0 || m.emission.length === 0) {
      throw new ConfigError('hmm.emission', `expected S*V entries for S = ${S}, got ${m.emission.length}`);
    }
    const V = m.emission.length / S;
    requireInt('hmm.vocabSize', V, 2);
    requireInt('hmm.seqLen', m.seqLen, 1, 1 << 20);
    const src = Object.create(HmmSource.prototype) as HmmSource;
    const w = src as unknown as Record<string, unknown>;
    w['name'] = m.name ?? 'hmm';
    w['vocabSize'] = V;
    w['numStates'] = S;
    w['seqLen'] = m.seqLen;
    w['initial'] = requireStochastic('hmm.initial', m.initial, 1, S);
    w['transition'] = requireStochastic('hmm.transition', m.transition, S, S);
    w['emission'] = requireStochastic('hmm.emission', m.emission, S, V);
    w['config'] = undefined;
    w['cachedEntropy'] = undefined;
    [w['cdfPi'], w['cdfA'], w['cdfB']] = src.buildCdfs();
    return src;
  }

  private buildCdfs(): [Float64Array, Float64Array, Float64Array] {
    const cum = (m: Float64Array, rows: number, cols: number) => {
      const out = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) out[r * cols + c] = s += m[r * cols + c]!;
      }
      return out;
    };
    return [cum(this.initial, 1, this.numStates), cum(this.transition, this.numStates, this.numStates), cum(this.emission, this.numStates, this.vocabSize)];
  }

  /** p(s_0): the belief before any token. */
  initialBelief(): Float64Array {
    return Float64Array.from(this.initial);
  }

  /**
   * One step of the scaled forward recursion. `belief` = p(s_k | x_<k); returns the log-probability
   * of `token` = log p(x_k | x_<k) and the next predictive belief p(s_{k+1} | x_≤k).
   */
  updateBelief(belief: Float64Array, token: number): { belief: Float64Array; logProbToken: number } {
    const S = this.numStates;
    const V = this.vocabSize;
    if (belief.length !== S) throw new AltarError('BAD_ARG', `HmmSource.updateBelief: belief must have ${S} entries, got ${belief.length}`);
    if (!Number.isInteger(token) || token < 0 || token >= V) {
      throw new AltarError('BAD_TOKEN', `HmmSource.updateBelief: token ${token} is not an integer in [0, ${V})`);
    }
    const f = new Float64Array(S);
    let c = 0;
    for (let s = 0; s < S; s++) c += f[s] = belief[s]! * this.emission[s * V + token]!;
    const next = new Float64Array(S);
    if (c > 0) {
      for (let r = 0; r < S; r++) {
        const a = f[r]! / c;
        if (a === 0) continue;
        for (let s = 0; s < S; s++) next[s]! += a * this.transition[r * S + s]!;
      }
    }
    return { belief: next, logProbToken: Math.log(c) };
  }

  /** p(x_k = · | belief) = Σ_s belief(s) B(s, ·). */
  tokenProbsFromBelief(belief: Float64Array): Float64Array {
    const S = this.numStates;
    const V = this.vocabSize;
    const p = new Float64Array(V);
    for (let s = 0; s < S; s++) {
      const b = belief[s]!;
      if (b === 0) continue;
      for (let x = 0; x < V; x++) p[x]! += b * this.emission[s * V + x]!;
    }
    return p;
  }

  /** Exact log p(x_0..x_{L-1}) in nats (the marginal of the first L tokens; L = seqLen for full sequences). */
  logProb(seq: ArrayLike<number>): number {
    if (!seq || typeof seq.length !== 'number' || seq.length < 1) {
      throw new AltarError('BAD_ARG', `HmmSource.logProb: expected a non-empty token sequence, got length ${seq?.length}`);
    }
    checkTokens('HmmSource.logProb', seq, this.vocabSize);
    let belief = this.initial;
    let lp = 0;
    for (let k = 0; k < seq.length; k++) {
      const u = this.updateBelief(belief, seq[k]!);
      lp += u.logProbToken;
      if (lp === -Infinity) return -Infinity;
      belief = u.belief;
    }
    return lp;
  }

  /** log p for each row of a flat (B*N) array with N = seqLen. Returns Float64Array (B,) in nats. */
  logProbBatch(flat: ArrayLike<number>, seqLen = this.seqLen): Float64Array {
    if (!Number.isInteger(seqLen) || seqLen < 1 || flat.length % seqLen !== 0) {
      throw new AltarError('BAD_ARG', `HmmSource.logProbBatch: length ${flat.length} is not a multiple of seqLen ${seqLen}`);
    }
    const B = flat.length / seqLen;
    const out = new Float64Array(B);
    const arr = ArrayBuffer.isView(flat) ? (flat as Int32Array) : Int32Array.from(flat);
    for (let b = 0; b < B; b++) out[b] = this.logProb(arr.subarray(b * seqLen, (b + 1) * seqLen));
    return out;
  }

  /** Exact autoregressive conditional p(x_k | x_<k), k = prefix.length (k = 0: the first token's marginal). */
  nextTokenProbs(prefix: ArrayLike<number>): Float64Array {
    checkTokens('HmmSource.nextTokenProbs', prefix, this.vocabSize);
    let belief = this.initial;
    for (let k = 0; k < prefix.length; k++) {
      const u = this.updateBelief(belief, prefix[k]!);
      if (u.logProbToken === -Infinity) {
        throw new AltarError('IMPOSSIBLE_PREFIX', `HmmSource.nextTokenProbs: the prefix has probability 0 at position ${k} (token ${prefix[k]})`);
      }
      belief = u.belief;
    }
    return this.tokenProbsFromBelief(belief);
  }

  /** n sequences of length seqLen as a flat row-major Int32Array (n*N). */
  sample(n: number, rng: Rng): Int32Array {
    checkBatchSize('HmmSource.sample', n);
    const N = this.seqLen;
    const S = this.numStates;
    const V = this.vocabSize;
    const out = new Int32Array(n * N);
    for (let b = 0; b < n; b++) {
      let s = drawFromCdf(this.cdfPi, 0, S, rng.nextDouble());
      for (let k = 0; k < N; k++) {
        if (k > 0) s = drawFromCdf(this.cdfA, s * S, S, rng.nextDouble());
        out[b * N + k] = drawFromCdf(this.cdfB, s * V, V, rng.nextDouble());
      }
    }
    return out;
  }

  /** TokenSource: same as sample. */
  sampleBatch(batchSize: number, rng: Rng): Int32Array {
    return this.sample(batchSize, rng);
  }

  /** A batch as an int32 Tensor2D (B, N). The caller owns (disposes) it. */
  sampleTensor(batchSize: number, rng: Rng): tf.Tensor2D {
    return tokensToTensor(this.sample(batchSize, rng), batchSize, this.seqLen);
  }

  /** Exact position marginals p(x_i), (N*V) row-major: p(s_i) = π A^i, p(x_i) = p(s_i) B. */
  positionMarginals(seqLen = this.seqLen): Float64Array {
    const S = this.numStates;
    const V = this.vocabSize;
    const out = new Float64Array(seqLen * V);
    let ps = Float64Array.from(this.initial);
    for (let i = 0; i < seqLen; i++) {
      out.set(this.tokenProbsFromBelief(ps), i * V);
      const next = new Float64Array(S);
      for (let r = 0; r < S; r++) for (let s = 0; s < S; s++) next[s]! += ps[r]! * this.transition[r * S + s]!;
      ps = next;
    }
    return out;
  }

  /** Σ_i H(x_i) / n in bits, exact. */
  marginalEntropyBitsPerToken(): number {
    const m = this.positionMarginals();
    const V = this.vocabSize;
    let h = 0;
    for (let i = 0; i < this.seqLen; i++) h += entropyBits(m.subarray(i * V, (i + 1) * V));
    return h / this.seqLen;
  }

  /**
   * Entropy rate H(x)/n estimated by Monte Carlo, −(1/M) Σ_m log2 p(x^m) / n with x^m ~ p (unbiased;
   * standard error from the sample variance), next to the exact Σ_i H(x_i)/n and their difference,
   * the multi-information per token.
   */
  entropyReport(rng: Rng, numSamples = 2000): EntropyReport {
    if (!Number.isInteger(numSamples) || numSamples < 2) {
      throw new AltarError('BAD_ARG', `HmmSource.entropyReport: numSamples must be an integer >= 2, got ${numSamples}`);
    }
    const N = this.seqLen;
    const chunk = 256;
    let sum = 0;
    let sumSq = 0;
    for (let done = 0; done < numSamples; done += chunk) {
      const m = Math.min(chunk, numSamples - done);
      const lps = this.logProbBatch(this.sample(m, rng));
      for (let b = 0; b < m; b++) {
        const bits = -lps[b]! / LOG2 / N;
        sum += bits;
        sumSq += bits * bits;
      }
    }
    const mean = sum / numSamples;
    const variance = Math.max(0, (sumSq - numSamples * mean * mean) / (numSamples - 1));
    const marg = this.marginalEntropyBitsPerToken();
    const rep: EntropyReport = {
      entropyBitsPerToken: mean,
      stdErr: Math.sqrt(variance / numSamples),
      marginalEntropyBitsPerToken: marg,
      multiInfoBitsPerToken: marg - mean,
      numSamples,
    };
    this.cachedEntropy = rep;
    return rep;
  }

  /** The last entropyReport's rate, or a fresh 2000-sample estimate with a fixed seed (0x51ed). */
  get entropyBitsPerToken(): number {
    if (!this.cachedEntropy) {
      this.entropyReport(new Rng(0x51ed), 2000);
    }
    return this.cachedEntropy!.entropyBitsPerToken;
  }

  /** The cached entropy report, if any. */
  get lastEntropyReport(): EntropyReport | undefined {
    return this.cachedEntropy;
  }
}
