import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { CostTracker, modelParamBytes } from './cost.js';
import { CostModel, H100_SXM, H200, calibrateLocal, countDispatches } from './roofline.js';

describe('roofline CostModel', () => {
  const h100 = new CostModel(H100_SXM);

  it('AR decoding of a 7B bf16 model is memory-bound: n · P · bpw / BW', () => {
    const p = h100.predictAr({ params: 7e9, bytesPerWeight: 2, n: 1000 });
    expect(p.bound).toBe('memory');
    expect(p.seconds).toBeCloseTo((1000 * 7e9 * 2) / 3.35e12, 9);
    expect(p.perCallSeconds * 1e3).toBeCloseTo(4.179, 2); // ≈ 4.2 ms per token
  });

  it('diffusion over n tokens turns compute-bound past the ridge n* = bpw · peak / (2 · BW)', () => {
    const ridge = h100.ridgeTokens(2);
    expect(ridge).toBeCloseTo((2 * 989e12) / (2 * 3.35e12), 6); // ≈ 295 tokens
    const below = h100.predictDiffusion({ params: 1e9, bytesPerWeight: 2, n: 100, T: 10 });
    const above = h100.predictDiffusion({ params: 1e9, bytesPerWeight: 2, n: 1000, T: 10 });
    expect(below.bound).toBe('memory');
    expect(above.bound).toBe('compute');
    expect(above.seconds).toBeCloseTo((10 * 2 * 1e9 * 1000) / 989e12, 9);
    expect(h100.peakFor(4)).toBe(67e12);
  });

  it('crossovers: memory-bound diffusion beats AR when T < n; H200 moves only the memory term', () => {
    const o = { params: 1e9, bytesPerWeight: 2, n: 256, T: 64 };
    const c = h100.crossover(o);
    expect(c.maxT).toBe(256); // n ≤ ridge: each diffusion step costs one AR step
    expect(c.minN).toBe(65);
    const h200 = new CostModel(H200);
    expect(h200.predictAr(o).seconds).toBeCloseTo(h100.predictAr(o).seconds * (3.35 / 4.8), 12);
    // a T above the compute ridge never wins, whatever n
    expect(h100.crossover({ ...o, T: 400 }).minN).toBe(null);
  });

  it('dispatch overhead adds ops × t_dispatch per call and can dominate', () => {
    const p = h100.predict({ calls: 3, bytesPerCall: 1e3, flopsPerCall: 1e3, opsPerCall: 100 });
    expect(p.bound).toBe('dispatch');
    expect(p.seconds).toBeCloseTo(3 * (1e3 / 3.35e12 + 100 * 4e-6), 12);
    expect(() => h100.predict({ calls: -1, bytesPerCall: 0, flopsPerCall: 0, opsPerCall: 0 })).toThrow(/calls/);
  });

  it('modelParamBytes uses paramCount × bytesPerWeight, 0 for oracles, or an override', () => {
    expect(modelParamBytes({ paramCount: () => 10, bytesPerWeight: 2 })).toBe(20);
    expect(modelParamBytes({})).toBe(0);
    expect(modelParamBytes({}, 1234)).toBe(1234);
  });
});

describe.each(testBackends())('cost measurement on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('CostTracker counts NFE, flops and the memory peak', async () => {
    await expectNoLeaks(async () => {
      const tr = new CostTracker({ paramCount: () => 5, bytesPerWeight: 4, flopsPerToken: (ctx) => 10 * ctx }, 20);
      const big = tf.zeros([1000]);
      tr.call(2, 3, 4);
      big.dispose();
      tr.call(2, 1);
      const r = tr.finish(6);
      expect(r.nfe).toBe(2);
      expect(r.weightBytesLoaded).toBe(40);
      expect(r.flops).toBe(2 * 3 * 40 + 2 * 1 * 10);
      expect(r.peakTensorBytes).toBeGreaterThanOrEqual(4000);
      expect(r.tokens).toBe(6);
      const none = new CostTracker({}, 0);
      none.call(1, 1);
      expect(none.finish(1)).toMatchObject({ flops: 0, flopsKnown: false });
    });
  });

  it('calibrateLocal measures positive matMul GFLOP/s, bandwidth and dispatch time; countDispatches counts kernels', async () => {
    await expectNoLeaks(async () => {
      const { profile, calibration } = await calibrateLocal({ matSize: 64, addSize: 1 << 14, ops: 20, reps: 2 });
      expect(calibration.backend).toBe(backend);
      expect(profile.peakFlops32).toBeGreaterThan(1e6);
      expect(profile.memBandwidth).toBeGreaterThan(1e6);
      expect(profile.dispatchSec).toBeGreaterThan(0);
      expect(profile.dispatchSec).toBeLessThan(0.1);
      const x = tf.ones([4]);
      const n = await countDispatches(() => tf.tidy(() => tf.add(tf.mul(x, 2), 1)));
      x.dispose();
      expect(n).toBeGreaterThanOrEqual(2);
    });
  });
});
