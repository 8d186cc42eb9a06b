/**
 * Discrete samplers against the HMM's exact oracle (no training): at large T the samples' true NLL is
 * the source entropy, unigram/bigram frequencies pass per-position chi-square tests; at T = 1 the
 * bigram test fails (the factorised denoiser loses the dependencies). Cached masked sampling equals
 * uncached with fewer NFE.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import * as tf from '@tensorflow/tfjs-core';
import { HmmSource, hmmOracleDenoiser } from '@altar/data';
import { createModel, type DiffusionTransformer } from '@altar/models';
import { D3PMProcess, MaskedProcess } from '@altar/noise';
import { sampleBlocks, sampleD3pm, sampleMasked } from './discrete.js';
import { chiSquareTest } from './stats.js';

const N = 16;
const source = new HmmSource({ seqLen: N });
const V = source.vocabSize;
const H = source.entropyReport(new Rng(5), 4000); // bits per token with a standard error

function d3pmOracle(proc: D3PMProcess) {
  return hmmOracleDenoiser(source, (u) => proc.marginalMatrix(Math.round(u * proc.T)));
}
const masked = new MaskedProcess({ vocabSize: V, schedule: 'log-linear' });
const maskedOracle = hmmOracleDenoiser(source, (u) => masked.marginalMatrix(u));

function nllBitsPerToken(samples: Int32Array): number {
  const lp = source.logProbBatch(samples, N);
  let s = 0;
  for (const v of lp) s -= v;
  return s / lp.length / N / Math.LN2;
}

/** p(x_i = a, x_{i+1} = b) for every i: (N−1) × V × V, from the HMM's matrices. */
function pairMarginals(): Float64Array[] {
  const S = source.numStates;
  const A = source.transition;
  const E = source.emission;
  let ps = Float64Array.from(source.initial);
  const out: Float64Array[] = [];
  for (let i = 0; i < N - 1; i++) {
    const p = new Float64Array(V * V);
    for (let s = 0; s < S; s++) {
      for (let r = 0; r < S; r++) {
        const w = ps[s]! * A[s * S + r]!;
        if (w === 0) continue;
        for (let a = 0; a < V; a++) {
          const wa = w * E[s * V + a]!;
          if (wa === 0) continue;
          for (let b = 0; b < V; b++) p[a * V + b] = p[a * V + b]! + wa * E[r * V + b]!;
        }
      }
    }
    out.push(p);
    const next = new Float64Array(S);
    for (let s = 0; s < S; s++) for (let r = 0; r < S; r++) next[r] = next[r]! + ps[s]! * A[s * S + r]!;
    ps = next;
  }
  return out;
}
const pairs = pairMarginals();
const unigrams = source.positionMarginals(N);

/** Smallest per-position chi-square p-value, Bonferroni-multiplied by the number of tests. */
function chiSquareMinP(samples: Int32Array, B: number): { unigram: number; bigram: number } {
  let pu = 1;
  let pb = 1;
  for (let i = 0; i < N; i++) {
    const obs = new Float64Array(V);
    for (let b = 0; b < B; b++) {
      const k = samples[b * N + i]!;
      obs[k] = obs[k]! + 1;
    }
    pu = Math.min(pu, chiSquareTest(obs, unigrams.subarray(i * V, (i + 1) * V)).pValue * N);
    if (i < N - 1) {
      const ob = new Float64Array(V * V);
      for (let b = 0; b < B; b++) {
        const k = samples[b * N + i]! * V + samples[b * N + i + 1]!;
        ob[k] = ob[k]! + 1;
      }
      pb = Math.min(pb, chiSquareTest(ob, pairs[i]!).pValue * (N - 1));
    }
  }
  return { unigram: pu, bigram: pb };
}

const B = 200;
// The statistical reproduction tests run once, on one backend (wasm when listed): their work is the
// host oracle; the per-backend tests below cover the tensor paths on every backend.
const backends = testBackends();
const heavyBackend = backends.includes('wasm') ? 'wasm' : backends[0]!;

describe.each([heavyBackend])('discrete samplers reproduce the HMM source (oracle) on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('the source has strong dependencies (the test has power)', () => {
    expect(H.multiInfoBitsPerToken).toBeGreaterThan(0.5);
  });

  for (const kind of ['absorbing', 'uniform'] as const) {
    it(`D3PM-${kind} at T = 256 reproduces the source (NLL within 0.05 bits of H, chi-square passes)`, async () => {
      await expectNoLeaks(async () => {
        const proc = new D3PMProcess({ kind, vocabSize: V, T: 256, schedule: kind === 'absorbing' ? 'jsd' : 'cosine' });
        const r = await sampleD3pm(d3pmOracle(proc), proc, { batch: B, seqLen: N, rng: new Rng(11) });
        const nll = nllBitsPerToken(r.samples);
        expect(Math.abs(nll - H.entropyBitsPerToken)).toBeLessThan(0.05 + 2 * H.stdErr);
        const chi = chiSquareMinP(r.samples, B);
        expect(chi.unigram).toBeGreaterThan(1e-3);
        expect(chi.bigram).toBeGreaterThan(1e-3);
        expect(r.cost.nfe).toBe(256);
        expect(r.cost.tokens).toBe(B * N);
      });
    });
  }

  it('D3PM with step skipping: a T = 256 model sampled with 32 steps is still close; with 1 step it degrades', async () => {
    await expectNoLeaks(async () => {
      const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T: 256, schedule: 'jsd' });
      const oracle = d3pmOracle(proc);
      const r32 = await sampleD3pm(oracle, proc, { batch: B, seqLen: N, steps: 32, rng: new Rng(12) });
      const r1 = await sampleD3pm(oracle, proc, { batch: B, seqLen: N, steps: 1, rng: new Rng(12) });
      expect(r32.cost.nfe).toBe(32);
      expect(r1.cost.nfe).toBe(1);
      const n32 = nllBitsPerToken(r32.samples);
      const n1 = nllBitsPerToken(r1.samples);
      expect(n32 - H.entropyBitsPerToken).toBeLessThan(0.25);
      // one step draws every position independently from p(x_i): ≈ the multi-information worse
      expect(n1 - H.entropyBitsPerToken).toBeGreaterThan(0.5 * H.multiInfoBitsPerToken);
      expect(chiSquareMinP(r1.samples, B).bigram).toBeLessThan(1e-3);
    });
  });

  it('masked diffusion (continuous time, 256 steps) reproduces the source', async () => {
    await expectNoLeaks(async () => {
      const u = await sampleMasked(maskedOracle, masked, { batch: B, seqLen: N, steps: 256, rng: new Rng(13) });
      expect(u.cost.nfe).toBe(256);
      const nll = nllBitsPerToken(u.samples);
      expect(Math.abs(nll - H.entropyBitsPerToken)).toBeLessThan(0.05 + 2 * H.stdErr);
      const chi = chiSquareMinP(u.samples, B);
      expect(chi.unigram).toBeGreaterThan(1e-3);
      expect(chi.bigram).toBeGreaterThan(1e-3);
    });
  });

  it('block sampling (blocks of 4, 64 steps each) reproduces the source and counts blocks × steps NFE', async () => {
    await expectNoLeaks(async () => {
      const r = await sampleBlocks(maskedOracle, masked, {
        batch: B,
        seqLen: N,
        blockSize: 4,
        steps: 64,
        rng: new Rng(15),
      });
      expect(r.blocks).toBe(N / 4);
      expect(r.cost.nfe).toBe((N / 4) * 64);
      const nll = nllBitsPerToken(r.samples);
      expect(Math.abs(nll - H.entropyBitsPerToken)).toBeLessThan(0.05 + 2 * H.stdErr);
    });
  });
});

describe.each(backends)('discrete samplers (tensor paths, caching) on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('cached masked sampling gives the uncached samples for the same seed with fewer NFE', async () => {
    await expectNoLeaks(async () => {
      const u = await sampleMasked(maskedOracle, masked, { batch: 8, seqLen: N, steps: 512, rng: new Rng(13) });
      const c = await sampleMasked(maskedOracle, masked, {
        batch: 8,
        seqLen: N,
        steps: 512,
        rng: new Rng(13),
        cached: true,
      });
      expect(Array.from(c.samples)).toEqual(Array.from(u.samples));
      expect(u.cost.nfe).toBe(512);
      // at most one call per step in which some token was revealed, plus the first
      expect(c.cost.nfe).toBeLessThanOrEqual(8 * N + 1);
      expect(c.cost.nfe).toBeLessThan(u.cost.nfe);
      expect(Array.from(u.samples).every((x) => x >= 0 && x < V)).toBe(true);
    });
  });

  it('cached masked sampling with one sequence and many steps calls the network at most N + 1 times', async () => {
    await expectNoLeaks(async () => {
      const u = await sampleMasked(maskedOracle, masked, { batch: 1, seqLen: N, steps: 1024, rng: new Rng(14) });
      const c = await sampleMasked(maskedOracle, masked, {
        batch: 1,
        seqLen: N,
        steps: 1024,
        rng: new Rng(14),
        cached: true,
      });
      expect(Array.from(c.samples)).toEqual(Array.from(u.samples));
      expect(u.cost.nfe).toBe(1024);
      expect(c.cost.nfe).toBeLessThanOrEqual(N + 1);
    });
  });

  it('an untimed DiffusionTransformer (timeConditioning false): cached == uncached, NFE ≤, analytic FLOPs reported', async () => {
    const dt = createModel({
      type: 'diffusion-transformer',
      vocabSize: V,
      dModel: 16,
      nLayers: 2,
      nHeads: 2,
      maxLen: N,
      timeConditioning: false,
      seed: 6,
    }) as DiffusionTransformer;
    try {
      // random weights stand in for a trained model (the zero-initialised modulations would hide everything)
      const rng = new Rng(8);
      const ws: Record<string, tf.Tensor> = {};
      for (const [name, w] of Object.entries(dt.getWeights())) ws[name] = rng.normal(w.shape, 0, 0.3);
      dt.setWeights(ws);
      tf.dispose(Object.values(ws));
      await expectNoLeaks(async () => {
        const u = await sampleMasked(dt, masked, { batch: 4, seqLen: N, steps: 64, rng: new Rng(16) });
        const c = await sampleMasked(dt, masked, { batch: 4, seqLen: N, steps: 64, rng: new Rng(16), cached: true });
        expect(Array.from(c.samples)).toEqual(Array.from(u.samples));
        expect(u.cost.nfe).toBe(64);
        expect(c.cost.nfe).toBeLessThanOrEqual(u.cost.nfe);
        expect(Array.from(u.samples).every((x) => x >= 0 && x < V)).toBe(true);
        for (const r of [u, c]) {
          expect(r.cost.flopsKnown).toBe(true);
          expect(r.cost.flops).toBeGreaterThan(0);
          expect(r.cost.flops).toBe(r.cost.nfe * dt.flops(4, N));
        }
      });
    } finally {
      dt.dispose();
    }
  });

  it('cached block sampling equals uncached with fewer NFE', async () => {
    await expectNoLeaks(async () => {
      const r = await sampleBlocks(maskedOracle, masked, {
        batch: 4,
        seqLen: N,
        blockSize: 8,
        steps: 64,
        rng: new Rng(15),
      });
      const rc = await sampleBlocks(maskedOracle, masked, {
        batch: 4,
        seqLen: N,
        blockSize: 8,
        steps: 64,
        rng: new Rng(15),
        cached: true,
      });
      expect(Array.from(rc.samples)).toEqual(Array.from(r.samples));
      expect(r.cost.nfe).toBe(2 * 64);
      expect(rc.cost.nfe).toBeLessThan(r.cost.nfe);
    });
  });

  it('D3PM (absorbing and uniform) runs leak-free with the right NFE and valid tokens', async () => {
    await expectNoLeaks(async () => {
      for (const kind of ['absorbing', 'uniform'] as const) {
        const proc = new D3PMProcess({ kind, vocabSize: V, T: 64 });
        const r = await sampleD3pm(d3pmOracle(proc), proc, { batch: 4, seqLen: N, steps: 16, rng: new Rng(3) });
        expect(r.cost.nfe).toBe(16);
        expect(Array.from(r.samples).every((x) => x >= 0 && x < V)).toBe(true);
        expect(r.cost.peakTensorBytes).toBeGreaterThan(0);
      }
    });
  });

  it('rejects mismatched processes and bad sizes', async () => {
    const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T: 8 });
    await expect(
      sampleD3pm(d3pmOracle(proc), proc, { batch: 2, seqLen: N, steps: 9, rng: new Rng(1) }),
    ).rejects.toThrow(/steps 9 exceed/);
    await expect(
      sampleMasked(maskedOracle, masked, { batch: 0, seqLen: N, steps: 4, rng: new Rng(1) }),
    ).rejects.toThrow(/batch/);
    const other = new MaskedProcess({ vocabSize: V + 1, schedule: 'linear' });
    await expect(sampleMasked(maskedOracle, other, { batch: 1, seqLen: N, steps: 4, rng: new Rng(1) })).rejects.toThrow(
      /mask id/,
    );
  });
});
