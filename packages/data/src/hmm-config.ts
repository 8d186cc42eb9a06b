/**
 * The structured HMM's config (validated, every default with a reason) and the seeded construction of its
 * matrices π, A, B. The source itself (sampling, exact likelihood) is hmm.ts.
 */
import { ConfigError, Rng } from '@altar/backend';
import { rejectUnknownKeys, requireInt, requireNumber } from './validate.js';

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
  'vocabSize',
  'numStates',
  'seqLen',
  'seed',
  'stayProb',
  'advanceProb',
  'tokensPerState',
  'overlap',
  'emissionSkew',
  'name',
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
 * const { entropyBitsPerToken, multiInfoBitsPerToken } = r; // ≈ 2.61 and ≈ 1.84 for the default
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
  if (typeof config !== 'object' || config === null)
    throw new ConfigError('hmm', `expected a config object, got ${typeof config}`);
  rejectUnknownKeys('hmm', config, HMM_CONFIG_KEYS);
  const c: HmmConfig = { ...defaultHmmConfig, ...config };
  requireInt('hmm.vocabSize', c.vocabSize, 2, 1 << 16);
  requireInt('hmm.numStates', c.numStates, 1, 4096);
  requireInt('hmm.seqLen', c.seqLen, 1, 1 << 20);
  requireNumber('hmm.seed', c.seed);
  requireNumber('hmm.stayProb', c.stayProb, 0, 1);
  requireNumber('hmm.advanceProb', c.advanceProb, 0, 1);
  if (c.stayProb + c.advanceProb > 1 + 1e-12) {
    throw new ConfigError(
      'hmm.advanceProb',
      `stayProb + advanceProb must be <= 1, got ${c.stayProb} + ${c.advanceProb}`,
    );
  }
  requireInt('hmm.tokensPerState', c.tokensPerState, 1, c.vocabSize);
  requireInt('hmm.overlap', c.overlap, 0, c.tokensPerState - 1);
  requireNumber('hmm.emissionSkew', c.emissionSkew, 0, 100);
  if (c.name !== undefined && typeof c.name !== 'string')
    throw new ConfigError('hmm.name', `expected a string, got ${typeof c.name}`);
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
