/**
 * Sample-quality statistics against hand computations.
 */
import { describe, expect, it } from 'vitest';
import { perplexityFromBits, repeatedNgramShare, unigramEntropyBits } from './quality.js';

describe('unigramEntropyBits', () => {
  it('matches hand-computed plug-in entropies', () => {
    expect(unigramEntropyBits([0, 1, 0, 1], 4)).toBeCloseTo(1, 12);
    // f = (1/2, 1/4, 1/4): 0.5·1 + 2·0.25·2 = 1.5 bits
    expect(unigramEntropyBits([0, 0, 1, 2], 3)).toBeCloseTo(1.5, 12);
    expect(unigramEntropyBits(Int32Array.from([7, 7, 7]), 8)).toBe(0);
    // f = (3/4, 1/4): −(0.75 log2 0.75 + 0.25 log2 0.25) = 0.8112781244591328
    expect(unigramEntropyBits([5, 5, 5, 2], 6)).toBeCloseTo(0.8112781244591328, 12);
    // uniform over 8 tokens: 3 bits
    expect(
      unigramEntropyBits(
        Int32Array.from({ length: 64 }, (_, i) => i % 8),
        8,
      ),
    ).toBeCloseTo(3, 12);
  });

  it('rejects tokens outside the vocabulary and empty input, naming the value', () => {
    expect(() => unigramEntropyBits([0, 4], 4)).toThrow(/tokens\[1\] = 4 is outside \[0, 4\)/);
    expect(() => unigramEntropyBits([0, -1], 4)).toThrow(/tokens\[1\] = -1/);
    expect(() => unigramEntropyBits([], 4)).toThrow(/no tokens/);
    expect(() => unigramEntropyBits([0], 0)).toThrow(/vocabSize/);
  });
});

describe('repeatedNgramShare', () => {
  it('counts repeats of earlier n-grams within each row (hand-checked)', () => {
    // 2-grams of 1 2 1 2 1: 12 21 12 21 → distinct 2 of 4 → 0.5
    expect(repeatedNgramShare(Int32Array.from([1, 2, 1, 2, 1]), 1, 5, 2)).toBeCloseTo(0.5, 12);
    // 3-grams of 1 2 1 2 1: 121 212 121 → distinct 2 of 3 → 1/3
    expect(repeatedNgramShare(Int32Array.from([1, 2, 1, 2, 1]), 1, 5, 3)).toBeCloseTo(1 / 3, 12);
    // unigrams of 1 2 1 2 1: distinct 2 of 5 → 0.6
    expect(repeatedNgramShare(Int32Array.from([1, 2, 1, 2, 1]), 1, 5, 1)).toBeCloseTo(0.6, 12);
    expect(repeatedNgramShare(Int32Array.from([1, 2, 3, 4]), 1, 4, 2)).toBe(0);
    // one token repeated: 1 − 1/(N − n + 1) = 1 − 1/5
    expect(repeatedNgramShare(Int32Array.from([9, 9, 9, 9, 9, 9]), 1, 6, 2)).toBeCloseTo(0.8, 12);
    // n = seqLen: one n-gram per row, never a repeat
    expect(repeatedNgramShare(Int32Array.from([3, 3, 3]), 1, 3, 3)).toBe(0);
  });

  it('averages over rows and never counts an n-gram that spans two rows or repeats another row', () => {
    // row 0: 1 2 1 2 → 12 21 12: 1/3 repeated; row 1: 1 2 3 4 → 0 (its 12 repeats row 0's but rows are separate)
    const t = Int32Array.from([1, 2, 1, 2, 1, 2, 3, 4]);
    expect(repeatedNgramShare(t, 2, 4, 2)).toBeCloseTo((1 / 3 + 0) / 2, 12);
    // rows 5 5 | 5 5 as one row of 4 would have 2 repeats of 3; as two rows of 2 each has one 2-gram: 0
    expect(repeatedNgramShare(Int32Array.from([5, 5, 5, 5]), 2, 2, 2)).toBe(0);
    // tokens that would collide under naive concatenation (12,3 vs 1,23) are distinct n-grams
    expect(repeatedNgramShare(Int32Array.from([12, 3, 1, 23, 12, 3]), 1, 6, 2)).toBeCloseTo(1 - 4 / 5, 12);
  });

  it('rejects bad sizes, naming them', () => {
    expect(() => repeatedNgramShare(Int32Array.from([1, 2]), 1, 2, 3)).toThrow(/n = 3 exceeds seqLen = 2/);
    expect(() => repeatedNgramShare(Int32Array.from([1, 2, 3]), 1, 2, 1)).toThrow(/3 entries, expected/);
    expect(() => repeatedNgramShare(Int32Array.from([1, 2]), 1, 2, 0)).toThrow(/n must be a positive integer/);
  });
});

describe('perplexityFromBits', () => {
  it('is 2^bits', () => {
    expect(perplexityFromBits(0)).toBe(1);
    expect(perplexityFromBits(1)).toBe(2);
    expect(perplexityFromBits(3)).toBe(8);
    expect(perplexityFromBits(Math.log2(50257))).toBeCloseTo(50257, 6);
    expect(() => perplexityFromBits(-1)).toThrow(/bitsPerToken/);
    expect(() => perplexityFromBits(Number.NaN)).toThrow(/bitsPerToken/);
  });
});
