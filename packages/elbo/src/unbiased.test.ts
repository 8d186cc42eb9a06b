/**
 * Proof 2: the one-term estimators are unbiased. The mean of many estimates agrees with the exact full sum
 * (enumerated over z_t) within 3 standard errors, for uniform, stratified, antithetic and importance-sampled t,
 * and for the continuous-time masked estimator. Estimator variances are measured and compared.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { D3PMProcess, MaskedProcess } from '@altar/noise';
import { d3pmNelbo, estimateStats, maskedNelbo, sampleTimesteps, type TimestepSampling } from './index.js';
import { d3pmExact, maskedExact, meanOf, tableModel } from '../test/fixtures.js';

const V = 3;
const T = 8;
const B = 64;
const R = 24;

describe.each(testBackends())('one-term estimators are unbiased on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each([
    { label: 'uniform/cosine', make: () => new D3PMProcess({ kind: 'uniform', vocabSize: V, T, schedule: 'cosine' }) },
    { label: 'absorbing/jsd', make: () => new D3PMProcess({ kind: 'absorbing', vocabSize: V, T }) },
  ])('D3PM $label: uniform, stratified, antithetic, importance t within 3 SE of the full sum', async ({ make }) => {
    const process = make();
    const model = tableModel(V, T);
    const x = Int32Array.of(2, 0);
    const exact = d3pmExact(process, model, x);
    // proposal ∝ √E[L_t²] (Nichol & Dhariwal 2021 §3.3), computed exactly here
    const proposal = Float64Array.from(exact.meanSq, (v) => Math.sqrt(v) + 1e-3);
    const rng = new Rng(99);
    const perSampleVar: Record<string, number> = {};
    await expectNoLeaks(async () => {
      const x0 = tf.tensor2d(
        Int32Array.from({ length: B * 2 }, (_, k) => x[k % 2]!),
        [B, 2],
        'int32',
      );
      for (const sampling of ['uniform', 'stratified', 'antithetic', 'importance'] as TimestepSampling[]) {
        const batchMeans = new Float64Array(R);
        const rows: number[] = [];
        for (let r = 0; r < R; r++) {
          const est = d3pmNelbo(process, model, x0, rng, { sampling, proposal });
          const v = await est.data();
          est.dispose();
          rows.push(...v);
          batchMeans[r] = meanOf(v);
        }
        const st = estimateStats(batchMeans);
        expect(Math.abs(st.mean - exact.total)).toBeLessThan(3 * st.stdErr + 2e-5 * exact.total);
        // effective per-sample variance: B × Var(batch mean) (rows within a stratified/antithetic batch are dependent)
        perSampleVar[sampling] = B * st.variance;
        if (sampling === 'uniform' || sampling === 'importance') {
          // rows are i.i.d. here, so the row variance agrees with B × Var(batch mean) up to sampling error
          expect(estimateStats(rows).variance / perSampleVar[sampling]!).toBeGreaterThan(0.4);
        }
      }
      x0.dispose();
    });
    // the exact variance of the uniform one-term estimator: T Σ_t E[L_t²] − (Σ_t E[L_t])² (+ 0 from L_T)
    const sumMean = exact.mean.reduce((a, b) => a + b, 0);
    const exactUniformVar = T * exact.meanSq.reduce((a, b) => a + b, 0) - sumMean ** 2;
    expect(perSampleVar.uniform! / exactUniformVar).toBeGreaterThan(0.4);
    expect(perSampleVar.uniform! / exactUniformVar).toBeLessThan(2.5);
    // importance sampling with the √E[L²] proposal and stratification reduce the variance
    expect(perSampleVar.importance!).toBeLessThan(perSampleVar.uniform!);
    expect(perSampleVar.stratified!).toBeLessThan(perSampleVar.uniform!);
  });

  it.each(['linear', 'cosine', 'log-linear'] as const)(
    'masked continuous-time (%s): MC estimate within 3 SE of the exact integral',
    async (schedule) => {
      const process = new MaskedProcess({ vocabSize: V, schedule });
      const model = tableModel(V, 0);
      const x = Int32Array.of(1, 2, 0);
      const exact = maskedExact(process, model, x);
      const rng = new Rng(5);
      await expectNoLeaks(async () => {
        const x0 = tf.tensor2d(
          Int32Array.from({ length: B * 3 }, (_, k) => x[k % 3]!),
          [B, 3],
          'int32',
        );
        for (const sampling of ['uniform', 'stratified'] as const) {
          const means = new Float64Array(R);
          for (let r = 0; r < R; r++) {
            const est = maskedNelbo(process, model, x0, rng, { sampling });
            const v = await est.data();
            est.dispose();
            means[r] = meanOf(v);
          }
          const st = estimateStats(means);
          expect(Math.abs(st.mean - exact)).toBeLessThan(3 * st.stdErr + 2e-5 * exact);
        }
        x0.dispose();
      });
    },
  );
});

describe('timestep samplers', () => {
  it('every sampler draws each t marginally uniformly (importance: ∝ proposal)', () => {
    const rng = new Rng(1);
    const T2 = 5;
    const proposal = Float64Array.of(1, 2, 3, 4, 10);
    for (const kind of ['uniform', 'stratified', 'antithetic', 'importance'] as const) {
      const counts = new Float64Array(T2);
      let wsum = 0;
      const n = 20000;
      for (let r = 0; r < n / 10; r++) {
        const { t, weight } = sampleTimesteps(kind, 10, T2, rng, proposal);
        for (let b = 0; b < 10; b++) {
          counts[t[b]! - 1] = counts[t[b]! - 1]! + 1;
          wsum += weight[b]!;
        }
      }
      const want = kind === 'importance' ? Array.from(proposal, (p) => p / 20) : Array(T2).fill(1 / T2);
      for (let k = 0; k < T2; k++)
        expect(Math.abs(counts[k]! / n - want[k]!)).toBeLessThan(4 * Math.sqrt(want[k]! / n));
      expect(wsum / n).toBeCloseTo(1, 1); // E[w] = 1 for every sampler
    }
  });
});
