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
import { checkTokens, rejectUnknownKeys, requireInt, requireStochastic } from './validate.js';
import {
  buildHmmMatrices,
  resolveHmmConfig,
  type EntropyReport,
  type HmmConfig,
  type HmmMatrices,
} from './hmm-config.js';

const LOG2 = Math.LN2;

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
    if (typeof m !== 'object' || m === null)
      throw new ConfigError('hmm', 'fromMatrices: expected { initial, transition, emission, seqLen }');
    rejectUnknownKeys('hmm', m, ['initial', 'transition', 'emission', 'seqLen', 'name']);
    for (const k of ['initial', 'transition', 'emission'] as const) {
      const v = m[k] as unknown;
      if (!(Array.isArray(v) || ArrayBuffer.isView(v)))
        throw new ConfigError(`hmm.${k}`, 'expected an array of numbers');
    }
    const S = m.initial.length;
    requireInt('hmm.initial.length', S, 1);
    if (m.transition.length !== S * S) {
      throw new ConfigError(
        'hmm.transition',
        `expected S*S = ${S * S} entries for S = ${S} states, got ${m.transition.length}`,
      );
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
    return [
      cum(this.initial, 1, this.numStates),
      cum(this.transition, this.numStates, this.numStates),
      cum(this.emission, this.numStates, this.vocabSize),
    ];
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
    if (belief.length !== S)
      throw new AltarError('BAD_ARG', `HmmSource.updateBelief: belief must have ${S} entries, got ${belief.length}`);
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
      throw new AltarError(
        'BAD_ARG',
        `HmmSource.logProb: expected a non-empty token sequence, got length ${seq?.length}`,
      );
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
      throw new AltarError(
        'BAD_ARG',
        `HmmSource.logProbBatch: length ${flat.length} is not a multiple of seqLen ${seqLen}`,
      );
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
        throw new AltarError(
          'IMPOSSIBLE_PREFIX',
          `HmmSource.nextTokenProbs: the prefix has probability 0 at position ${k} (token ${prefix[k]})`,
        );
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
