/** The page-side series helpers: the smoothing the charts draw, checked against hand-computed values. */
import { describe, expect, it } from 'vitest';
import { ema, trailingMean } from './store.js';

describe('series smoothing', () => {
  it('trailingMean averages each value with the k − 1 before it (fewer at the start)', () => {
    expect(trailingMean([4, 2, 6, 8, 10], 3)).toEqual([4, 3, 4, 16 / 3, 8]);
    expect(trailingMean([], 4)).toEqual([]);
  });
  it('ema starts at the first value and moves (1 − β) of the way each step', () => {
    const e = ema([1, 3, 3], 0.5);
    expect(e[0]).toBe(1);
    expect(e[1]).toBeCloseTo(2, 12);
    expect(e[2]).toBeCloseTo(2.5, 12);
  });
});
