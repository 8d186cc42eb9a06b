/**
 * Sample-quality statistics for generated token sequences where no true likelihood exists (text).
 * Generative perplexity alone rewards dull, repetitive samples; report it next to the samples' unigram
 * entropy and their share of repeated n-grams (Zheng et al. 2024 showed float32 Gumbel sampling buys
 * masked-diffusion models a lower generative perplexity with exactly such a loss of entropy).
 */
import { AltarError } from '@altar/backend';

/**
 * Plug-in (maximum-likelihood) entropy of the token frequencies, in bits: −Σ_x f_x log2 f_x with
 * f_x = count(x) / total over all tokens given (every row pooled). Biased low by about
 * (distinct tokens − 1) / (2 · total · ln 2) bits (Miller 1955); compare samples of equal size.
 *
 * @example
 * ```ts
 * unigramEntropyBits([0, 1, 0, 1], 4); // 1 (two tokens, half each)
 * unigramEntropyBits([0, 0, 1, 2], 3); // 1.5
 * ```
 */
export function unigramEntropyBits(tokens: ArrayLike<number>, vocabSize: number): number {
  const op = 'unigramEntropyBits';
  if (!Number.isInteger(vocabSize) || vocabSize < 1)
    throw new AltarError('BAD_ARG', `${op}: vocabSize must be a positive integer, got ${vocabSize}`);
  const n = tokens.length;
  if (n === 0) throw new AltarError('BAD_ARG', `${op}: no tokens given`);
  const counts = new Float64Array(vocabSize);
  for (let j = 0; j < n; j++) {
    const x = tokens[j]!;
    if (!Number.isInteger(x) || x < 0 || x >= vocabSize)
      throw new AltarError('BAD_TOKEN', `${op}: tokens[${j}] = ${x} is outside [0, ${vocabSize})`);
    counts[x] = counts[x]! + 1;
  }
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log2(c / n);
  return h;
}

/**
 * Share of repeated n-grams: within each row of `tokens` (row-major batch × seqLen), the n-grams at
 * positions 0..seqLen−n are counted, and a repeat is an n-gram equal to one that started earlier in the
 * same row. The share is repeats / n-grams = 1 − distinct / (seqLen − n + 1) per row, averaged over rows
 * (every row has the same number of n-grams, so this equals the pooled share). 0 when no n-gram repeats;
 * a row of one token repeated gives 1 − 1 / (seqLen − n + 1). n-grams never cross rows.
 *
 * @example
 * ```ts
 * repeatedNgramShare(Int32Array.from([1, 2, 1, 2, 1]), 1, 5, 2); // 2-grams 12 21 12 21: 2 repeats of 4 = 0.5
 * repeatedNgramShare(Int32Array.from([1, 2, 3, 4]), 1, 4, 2);    // 0
 * ```
 */
export function repeatedNgramShare(tokens: Int32Array, batch: number, seqLen: number, n: number): number {
  const op = 'repeatedNgramShare';
  for (const [k, v] of [
    ['batch', batch],
    ['seqLen', seqLen],
    ['n', n],
  ] as const)
    if (!Number.isInteger(v) || v < 1)
      throw new AltarError('BAD_ARG', `${op}: ${k} must be a positive integer, got ${v}`);
  if (n > seqLen) throw new AltarError('BAD_ARG', `${op}: n = ${n} exceeds seqLen = ${seqLen} (no n-gram fits a row)`);
  if (tokens.length !== batch * seqLen)
    throw new AltarError(
      'BAD_ARG',
      `${op}: tokens has ${tokens.length} entries, expected batch × seqLen = ${batch * seqLen}`,
    );
  const perRow = seqLen - n + 1;
  let share = 0;
  for (let b = 0; b < batch; b++) {
    const seen = new Set<string>();
    for (let i = 0; i < perRow; i++) {
      const o = b * seqLen + i;
      seen.add(tokens.subarray(o, o + n).join(','));
    }
    share += 1 - seen.size / perRow;
  }
  return share / batch;
}

/**
 * Perplexity from a cross-entropy in bits per token: 2^bits. When the bits are a reference AR model's
 * negative log-likelihood of generated samples (mean over the samples' tokens), this is the samples'
 * generative perplexity (what MDLM and SEDD report under GPT-2): low means the reference finds them
 * likely, which dull or repetitive text also achieves — read it next to {@link unigramEntropyBits} and
 * {@link repeatedNgramShare}.
 *
 * @example
 * ```ts
 * perplexityFromBits(1); // 2
 * perplexityFromBits(3); // 8
 * ```
 */
export function perplexityFromBits(bitsPerToken: number): number {
  if (!Number.isFinite(bitsPerToken) || bitsPerToken < 0)
    throw new AltarError(
      'BAD_ARG',
      `perplexityFromBits: bitsPerToken must be a finite number ≥ 0, got ${bitsPerToken}`,
    );
  return 2 ** bitsPerToken;
}
