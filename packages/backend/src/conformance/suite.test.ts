import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeaks } from '../testing/index.js';
import { OP_CASES } from './ops.js';
import { compareArrays, isSkipped, runConformance } from './suite.js';

describe('conformance suite', () => {
  it('measures errors relative to the cpu reference and flags a wrong result', () => {
    const ref = { arrays: [{ shape: [3], values: Float32Array.from([1, -2, 1000]) }] };
    const close = { arrays: [{ shape: [3], values: Float32Array.from([1.0001, -2, 1000]) }] };
    const wrong = { arrays: [{ shape: [3], values: Float32Array.from([1, -2.01, 1000]) }] };
    const c = compareArrays(close, ref, 1e-3);
    // floor = max(1e-3 · 1000, 1e-6) = 1, so the 1e-4 error on the entry 1 is rel 1e-4.
    expect(c.ok).toBe(true);
    expect(c.maxAbsError).toBeCloseTo(1e-4, 6);
    expect(c.maxRelError).toBeCloseTo(1e-4, 6);
    const w = compareArrays(wrong, ref, 1e-3);
    expect(w.ok).toBe(false);
    expect(w.maxRelError).toBeCloseTo(0.005, 5);
    expect(compareArrays({ arrays: [{ shape: [1, 3], values: ref.arrays[0]!.values }] }, ref, 1e-3).error).toMatch(
      /shape/,
    );
  });

  it('catches a backend kernel that is wrong (a planted bug in a fake op)', async () => {
    let calls = 0;
    // Returns the right answer on the cpu reference pass (first call) and a wrong one afterwards.
    const planted = {
      name: 'planted',
      inputs: [{ shape: [4] }],
      fn: (x: tf.Tensor) => (calls++ === 0 ? tf.exp(x) : tf.mul(tf.exp(x), 1.01)),
    };
    const r = await runConformance({ backends: ['cpu'], cases: [planted], trainSteps: 2 });
    const b = r.backends[0]!;
    expect(isSkipped(b)).toBe(false);
    if (!isSkipped(b)) expect(b.failed.join()).toMatch(/planted/);
  });

  it('wasm passes every op, forward and backward, and trains the tiny transformer like cpu', async () => {
    await expectNoLeaks(async () => {
      const r = await runConformance({ backends: ['wasm'], cases: OP_CASES, trainSteps: 4 });
      const b = r.backends[0]!;
      if (isSkipped(b)) throw new Error(`wasm skipped: ${b.skipped}`);
      expect(b.failed).toEqual([]);
      expect(b.ops).toBe(OP_CASES.length);
      expect(b.maxRelError).toBeLessThan(1e-3);
      expect(b.trainStepLossDelta).toBeGreaterThan(0.5);
      expect(b.trainLossMaxAbsErrorVsCpu).toBeLessThan(1e-4);
    }, 'conformance on wasm');
  });
});
