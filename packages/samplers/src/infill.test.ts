/**
 * Infilling with every discrete diffusion sampler: given tokens come back exactly, free positions are
 * filled with data tokens, and with the exact HMM oracle the filled positions follow the exact
 * conditional p(x_free | x_given), computed by enumerating a tiny HMM (V = 3, N = 4: 81 sequences).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import * as tf from '@tensorflow/tfjs-core';
import { HmmSource, hmmOracleDenoiser } from '@altar/data';
import { D3PMProcess, MaskedProcess } from '@altar/noise';
import { sampleBlocks, sampleD3pm, sampleMasked, type DiscreteSampleResult } from './discrete.js';
import { FREE_POSITION } from './infill.js';
import { chiSquareTest } from './stats.js';
import type { DiscreteDenoiser } from './types.js';

const F = FREE_POSITION;

/** A denoiser with random logits (std 3), plus a −200 penalty on every given token (it "disagrees"). */
function randomDenoiser(V: number, seed: number, given?: Int32Array): DiscreteDenoiser {
  const rng = new Rng(seed);
  return {
    vocabSize: V,
    predictX0Logits: (zt) =>
      tf.tidy(() => {
        const [B, N] = zt.shape;
        const logits = rng.normal([B, N, V], 0, 3); // (B, N, V)
        if (!given) return logits as tf.Tensor3D;
        const pen = new Float32Array(B * N * V);
        for (let j = 0; j < B * N; j++) if (given[j]! >= 0) pen[j * V + given[j]!] = -200;
        return tf.add(logits, tf.tensor3d(pen, [B, N, V])) as tf.Tensor3D;
      }),
  };
}

/** Random init: each position given (a random token) with probability 1/2, else FREE_POSITION. */
function randomInit(B: number, N: number, V: number, rng: Rng): Int32Array {
  const init = new Int32Array(B * N);
  for (let j = 0; j < init.length; j++) init[j] = rng.nextDouble() < 0.5 ? rng.nextInt(0, V) : F;
  return init;
}

function expectInfilled(r: DiscreteSampleResult, init: Int32Array, V: number): void {
  let kept = 0;
  for (let j = 0; j < init.length; j++) {
    const x = r.samples[j]!;
    expect(x >= 0 && x < V).toBe(true); // filled: no mask id, no −1
    if (init[j]! >= 0 && init[j]! < V) {
      expect(x).toBe(init[j]);
      kept++;
    }
  }
  expect(kept).toBeGreaterThan(0);
}

const backends = testBackends();

describe.each(backends)('infilling keeps every given token exactly on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  const V = 8;
  const B = 6;
  const N = 12;
  const masked = new MaskedProcess({ vocabSize: V, schedule: 'log-linear' });

  it('masked, masked-cached and block sampling (free = −1 or the mask id), even when the model disagrees', async () => {
    await expectNoLeaks(async () => {
      const init = randomInit(B, N, V, new Rng(1));
      const withMask = init.map((x) => (x === F ? masked.maskId : x));
      for (const [i, model] of [randomDenoiser(V, 2), randomDenoiser(V, 3, init)].entries()) {
        for (const cached of [false, true]) {
          for (const start of [init, withMask]) {
            const r = await sampleMasked(model, masked, {
              batch: B,
              seqLen: N,
              steps: 16,
              rng: new Rng(4 + i),
              init: start,
              cached,
            });
            expectInfilled(r, init, V);
          }
          const rb = await sampleBlocks(model, masked, {
            batch: B,
            seqLen: N,
            steps: 8,
            blockSize: 5,
            rng: new Rng(6),
            init,
            cached,
          });
          expectInfilled(rb, init, V);
        }
      }
      expect(Array.from(withMask)).not.toContain(F); // init is not modified
    });
  });

  it('D3PM absorbing and uniform (free = −1; absorbing also the mask id), even when the model disagrees', async () => {
    await expectNoLeaks(async () => {
      const init = randomInit(B, N, V, new Rng(7));
      for (const kind of ['absorbing', 'uniform'] as const) {
        const proc = new D3PMProcess({ kind, vocabSize: V, T: 16 });
        const starts = kind === 'absorbing' ? [init, init.map((x) => (x === F ? proc.maskId : x))] : [init];
        for (const model of [randomDenoiser(V, 8), randomDenoiser(V, 9, init)]) {
          for (const start of starts) {
            const r = await sampleD3pm(model, proc, { batch: B, seqLen: N, steps: 8, rng: new Rng(10), init: start });
            expectInfilled(r, init, V);
            expect(r.cost.nfe).toBe(8);
          }
        }
      }
    });
  });

  it('an init with every position free gives the unconditioned samples for the same seed', async () => {
    await expectNoLeaks(async () => {
      const all = new Int32Array(B * N).fill(F);
      const model = randomDenoiser(V, 11);
      for (const kind of ['absorbing', 'uniform'] as const) {
        const proc = new D3PMProcess({ kind, vocabSize: V, T: 8 });
        const a = await sampleD3pm(randomDenoiser(V, 11), proc, { batch: B, seqLen: N, rng: new Rng(12) });
        const b = await sampleD3pm(randomDenoiser(V, 11), proc, { batch: B, seqLen: N, rng: new Rng(12), init: all });
        expect(Array.from(b.samples)).toEqual(Array.from(a.samples));
      }
      const a = await sampleMasked(model, masked, { batch: B, seqLen: N, steps: 8, rng: new Rng(13) });
      const b = await sampleMasked(randomDenoiser(V, 11), masked, {
        batch: B,
        seqLen: N,
        steps: 8,
        rng: new Rng(13),
        init: all,
      });
      expect(Array.from(b.samples)).toEqual(Array.from(a.samples));
    });
  });

  it('the absorbing posterior never moves an unmasked token, whatever the model says (why the conditioning is exact)', async () => {
    await expectNoLeaks(async () => {
      const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T: 16 });
      const zt = tf.tensor2d([[0, 3, V, 7, V, 5]], [1, 6], 'int32');
      const probs = tf.tidy(() => tf.softmax(new Rng(14).normal([1, 6, V], 0, 3))); // mass on every x0, also ≠ z_t
      for (const [s, t] of [
        [0, 1],
        [3, 9],
        [14, 15],
      ] as const) {
        const post = proc.posterior(zt, probs, s, t); // (1, 6, V + 1)
        const p = await post.data();
        post.dispose();
        for (const [i, z] of [0, 3, V, 7, V, 5].entries()) {
          if (z === V) continue;
          for (let k = 0; k <= V; k++) expect(p[i * (V + 1) + k]).toBe(k === z ? 1 : 0);
        }
      }
      // at t = T every token is masked (ᾱ_T = 0): an unmasked token is impossible there and its row is all
      // zero, which is why the sampler does not redraw given positions at all
      const last = proc.posterior(zt, probs, 15, 16);
      const pl = await last.data();
      last.dispose();
      for (let k = 0; k <= V; k++) expect(pl[k]).toBe(0);
      tf.dispose([zt, probs]);
    });
  });

  it('rejects a bad init, naming the position and value', async () => {
    const proc = new D3PMProcess({ kind: 'uniform', vocabSize: V, T: 4 });
    const model = randomDenoiser(V, 15);
    const bad = new Int32Array(2 * 3).fill(F);
    bad[4] = V; // a mask id the uniform process does not have
    await expect(sampleD3pm(model, proc, { batch: 2, seqLen: 3, rng: new Rng(1), init: bad })).rejects.toThrow(
      /init\[1\]\[1\] = 8 is neither a token in \[0, 8\) nor -1/,
    );
    bad[4] = -2;
    await expect(
      sampleMasked(model, masked, { batch: 2, seqLen: 3, steps: 2, rng: new Rng(1), init: bad }),
    ).rejects.toThrow(/init\[1\]\[1\] = -2 is neither a token in \[0, 8\), the mask id 8 nor -1/);
    await expect(
      sampleMasked(model, masked, { batch: 2, seqLen: 3, steps: 2, rng: new Rng(1), init: new Int32Array(5) }),
    ).rejects.toThrow(/init has 5 tokens, expected batch × seqLen = 6/);
  });
});

// ---- exact conditionals on a tiny HMM ----

const Nt = 4;
/** Two sticky states; state 0 mostly emits 0, state 1 mostly emits 2; 1 is ambiguous. */
const tiny = HmmSource.fromMatrices({
  initial: [0.5, 0.5],
  transition: [0.85, 0.15, 0.15, 0.85],
  emission: [0.7, 0.25, 0.05, 0.05, 0.25, 0.7],
  seqLen: Nt,
});
const Vt = tiny.vocabSize;
const allSeqs = Int32Array.from(
  { length: Vt ** Nt * Nt },
  (_, j) => Math.floor(Math.floor(j / Nt) / Vt ** (Nt - 1 - (j % Nt))) % Vt,
);
const pSeq = Array.from(tiny.logProbBatch(allSeqs, Nt), Math.exp);

/** p(x_free | x_given) over the free positions' joint outcomes (base-V digits, first free position most significant). */
function exactConditional(pattern: number[]): Float64Array {
  const free = pattern.flatMap((x, i) => (x === F ? [i] : []));
  const out = new Float64Array(Vt ** free.length);
  for (let q = 0; q < pSeq.length; q++) {
    const seq = allSeqs.subarray(q * Nt, (q + 1) * Nt);
    if (pattern.some((x, i) => x !== F && seq[i] !== x)) continue;
    const cell = free.reduce((acc, i) => acc * Vt + seq[i]!, 0);
    out[cell] = out[cell]! + pSeq[q]!;
  }
  const z = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / z);
}

/** Counts of the free positions' joint outcomes over rows [lo, hi). */
function freeCounts(samples: Int32Array, pattern: number[], lo: number, hi: number): Float64Array {
  const free = pattern.flatMap((x, i) => (x === F ? [i] : []));
  const out = new Float64Array(Vt ** free.length);
  for (let b = lo; b < hi; b++) {
    const cell = free.reduce((acc, i) => acc * Vt + samples[b * Nt + i]!, 0);
    out[cell] = out[cell]! + 1;
  }
  return out;
}

function tv(counts: Float64Array, p: Float64Array): number {
  const n = counts.reduce((a, b) => a + b, 0);
  let s = 0;
  for (let k = 0; k < p.length; k++) s += Math.abs(counts[k]! / n - p[k]!);
  return s / 2;
}

const P1 = [0, F, F, 2]; // ends given, the middle pair free
const P2 = [F, 1, F, F]; // one ambiguous token given, three free
const Bt = 3000; // rows: the first half pattern P1, the second P2
const initT = new Int32Array(Bt * Nt);
for (let b = 0; b < Bt; b++) initT.set(b < Bt / 2 ? P1 : P2, b * Nt);

const heavy = backends.includes('wasm') ? 'wasm' : backends[0]!;

describe.each([heavy])('infilled positions follow the exact conditional of a tiny HMM (oracle) on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  const exact1 = exactConditional(P1);
  const exact2 = exactConditional(P2);
  // the unconditional joint of the same positions: what ignoring the given tokens would give
  const uncond1 = exactConditional([F, F, F, F]).reduce(
    (acc, p, c) => {
      const cell = Math.floor(c / Vt ** 1) % Vt ** 2; // digits of positions 1, 2
      acc[cell] = acc[cell]! + p;
      return acc;
    },
    new Float64Array(Vt ** 2),
  );

  function check(r: DiscreteSampleResult, exact: boolean): { tv1: number; tv2: number } {
    expectInfilled(r, initT, Vt);
    const c1 = freeCounts(r.samples, P1, 0, Bt / 2);
    const c2 = freeCounts(r.samples, P2, Bt / 2, Bt);
    if (exact) {
      expect(chiSquareTest(c1, exact1).pValue).toBeGreaterThan(1e-3);
      expect(chiSquareTest(c2, exact2).pValue).toBeGreaterThan(1e-3);
    }
    // power: the given tokens matter, so ignoring them is rejected
    expect(chiSquareTest(c1, uncond1).pValue).toBeLessThan(1e-6);
    return { tv1: tv(c1, exact1), tv2: tv(c2, exact2) };
  }

  it('the conditioning has a large effect on this source (the test has power)', () => {
    expect(tv(uncond1, exact1)).toBeGreaterThan(0.1);
  });

  it('masked diffusion, uncached and cached: χ² against the exact conditional passes', async () => {
    await expectNoLeaks(async () => {
      const masked = new MaskedProcess({ vocabSize: Vt, schedule: 'log-linear' });
      const oracle = hmmOracleDenoiser(tiny, (u) => masked.marginalMatrix(u));
      for (const cached of [false, true]) {
        const r = await sampleMasked(oracle, masked, {
          batch: Bt,
          seqLen: Nt,
          steps: 128,
          rng: new Rng(21),
          init: initT,
          cached,
        });
        check(r, true);
      }
    });
  });

  it('D3PM absorbing (exact conditioning): χ² against the exact conditional passes', async () => {
    await expectNoLeaks(async () => {
      const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: Vt, T: 128 });
      // The sampler's first call is at t = T, where every token is masked (ᾱ_T = 0), so the oracle would read
      // a given token as impossible. Its posterior does not depend on t while 0 < ᾱ_t < 1 (the mask likelihood
      // is the same for every x0), so it reads t = T as T − 1: then it is exactly p(x0 | revealed tokens).
      const oracle = hmmOracleDenoiser(tiny, (u) => proc.marginalMatrix(Math.min(Math.round(u * proc.T), proc.T - 1)));
      const r = await sampleD3pm(oracle, proc, { batch: Bt, seqLen: Nt, rng: new Rng(22), init: initT });
      check(r, true);
    });
  });

  it('D3PM uniform (replacement, approximate): close to the exact conditional', async () => {
    await expectNoLeaks(async () => {
      const proc = new D3PMProcess({ kind: 'uniform', vocabSize: Vt, T: 128 });
      const oracle = hmmOracleDenoiser(tiny, (u) => proc.marginalMatrix(Math.round(u * proc.T)));
      const r = await sampleD3pm(oracle, proc, { batch: Bt, seqLen: Nt, rng: new Rng(23), init: initT });
      const d = check(r, false);
      expect(Math.max(d.tv1, d.tv2)).toBeLessThan(0.1);
    });
  });
});
