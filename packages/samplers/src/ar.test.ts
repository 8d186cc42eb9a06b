import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel, type ArTransformer, type SsmLm } from '@altar/models';
import { sampleAr } from './ar.js';
import { filterLogits, sampleLogits, topKFilter, topPFilter } from './categorical.js';
import { chiSquareTest } from './stats.js';
import type { CausalLM } from './types.js';

const V = 8;

/**
 * A hand-written causal LM: logits_i = W[x_i] + U[(Σ_{j≤i} x_j) mod V]. Its state is the running sum,
 * so `step` and `forward` are independent implementations of the same function.
 */
function tableLm(seed = 1): CausalLM<tf.Tensor1D> & { W: Float32Array; U: Float32Array; dispose(): void } {
  const rng = new Rng(seed);
  const W = rng.normalArray(V * V, 0, 1.5);
  const U = rng.normalArray(V * V, 0, 1.5);
  const Wt = tf.tensor2d(W, [V, V]);
  const Ut = tf.tensor2d(U, [V, V]);
  return {
    vocabSize: V,
    W,
    U,
    paramCount: () => 2 * V * V,
    bytesPerWeight: 4,
    flopsPerToken: 4 * V,
    forward(tokens) {
      return tf.tidy(() => {
        const csum = tf.mod(tf.cumsum(tokens, 1), tf.scalar(V, 'int32')); // (B, N)
        return tf.add(tf.gather(Wt, tokens), tf.gather(Ut, csum)) as tf.Tensor3D; // (B, N, V)
      });
    },
    initState: (b) => tf.zeros([b], 'int32'),
    step(tokens, state) {
      return tf.tidy(() => {
        const s = tf.mod(tf.add(state, tokens), tf.scalar(V, 'int32')) as tf.Tensor1D; // (B,)
        return { logits: tf.add(tf.gather(Wt, tokens), tf.gather(Ut, s)) as tf.Tensor2D, state: s };
      });
    },
    disposeState: (s) => s.dispose(),
    dispose: () => tf.dispose([Wt, Ut]),
  };
}

const softmax = (xs: ArrayLike<number>) => {
  const m = Math.max(...Array.from(xs));
  const e = Array.from(xs, (x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
};

describe.each(testBackends())('AR sampling on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('top-k / top-p / temperature filters keep exactly the intended tokens', async () => {
    await expectNoLeaks(async () => {
      const logits = tf.tensor2d([[Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]]);
      const k2 = topKFilter(logits, 2);
      expect(Array.from(await k2.data()).map((x) => x > -1e29)).toEqual([true, true, false, false]);
      const p8 = topPFilter(logits, 0.75); // 0.5 < 0.75, 0.5 + 0.3 reaches it: keep two
      expect(Array.from(await p8.data()).map((x) => x > -1e29)).toEqual([true, true, false, false]);
      const p81 = topPFilter(logits, 0.85); // needs the third
      expect(Array.from(await p81.data()).map((x) => x > -1e29)).toEqual([true, true, true, false]);
      const t = filterLogits(logits, { temperature: 2 });
      expect((await t.data())[0]).toBeCloseTo(Math.log(0.5) / 2, 5);
      const g = sampleLogits(logits, new Rng(1), { temperature: 0 });
      expect(Array.from(await g.data())).toEqual([0]);
      tf.dispose([logits, k2, p8, p81, t, g]);
    });
  });

  it('Gumbel-max draws follow softmax(logits / τ) restricted by top-k (chi-square)', async () => {
    await expectNoLeaks(async () => {
      const row = [2, 1, 0.5, 0, -1, -3];
      const n = 4000;
      const logits = tf.tensor2d(Array.from({ length: n }, () => row));
      const draws = sampleLogits(logits, new Rng(2), { temperature: 0.7, topK: 4 });
      const d = await draws.data();
      tf.dispose([logits, draws]);
      const counts = new Float64Array(row.length);
      for (const x of d) counts[x] = counts[x]! + 1;
      const p = softmax(row.slice(0, 4).map((x) => x / 0.7)).concat([0, 0]);
      expect(counts[4]! + counts[5]!).toBe(0);
      expect(chiSquareTest(counts.subarray(0, 4), p.slice(0, 4)).pValue).toBeGreaterThan(1e-3);
      // and a wrong temperature is detected (the test has power)
      const wrong = softmax(row.slice(0, 4));
      expect(chiSquareTest(counts.subarray(0, 4), wrong).pValue).toBeLessThan(1e-3);
    });
  });

  it('cached (step) and uncached (forward) decoding give the same tokens for the same seed', async () => {
    const lm = tableLm();
    await expectNoLeaks(async () => {
      for (const opts of [{ temperature: 1 }, { temperature: 0.8, topK: 5 }, { topP: 0.9 }, { temperature: 0 }]) {
        const prompt = [
          [0, 3],
          [1, 2],
          [7, 7],
        ];
        const a = await sampleAr(lm, { prompt, length: 12, rng: new Rng(5), ...opts });
        const b = await sampleAr(lm, { prompt, length: 12, rng: new Rng(5), cached: false, ...opts });
        expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
        expect(a.cost.nfe).toBe(2 + 12 - 1); // prefill 2 + 11 steps
        expect(b.cost.nfe).toBe(12);
        expect(a.cost.weightBytesLoaded).toBe(a.cost.nfe * 2 * V * V * 4);
        expect(a.cost.flopsKnown).toBe(true);
        expect(a.cost.flops).toBe(a.cost.nfe * 3 * 4 * V);
        expect(a.cost.tokens).toBe(3 * 12);
      }
    });
    lm.dispose();
  });

  it('the first sampled token follows the model distribution (chi-square against the table)', async () => {
    const lm = tableLm(3);
    const n = 3000;
    const r = await sampleAr(lm, { prompt: Array.from({ length: n }, () => [2]), length: 1, rng: new Rng(9) });
    const counts = new Float64Array(V);
    for (const x of r.samples) counts[x] = counts[x]! + 1;
    const p = softmax(Array.from({ length: V }, (_, j) => lm.W[2 * V + j]! + lm.U[2 * V + j]!));
    expect(chiSquareTest(counts, p).pValue).toBeGreaterThan(1e-3);
    lm.dispose();
  });

  it('stop tokens end rows early and pad the rest', async () => {
    const lm = tableLm(4);
    await expectNoLeaks(async () => {
      // greedy: find the greedy continuation, then stop at its 3rd token
      const g = await sampleAr(lm, { prompt: [[1]], length: 6, rng: new Rng(1), temperature: 0 });
      const stop = g.samples[2]!;
      const first = Array.from(g.samples).indexOf(stop);
      const r = await sampleAr(lm, {
        prompt: [[1]],
        length: 6,
        rng: new Rng(1),
        temperature: 0,
        stopTokens: [stop],
        padToken: 99,
      });
      expect(r.lengths[0]).toBe(first + 1);
      expect(Array.from(r.samples).slice(0, first + 1)).toEqual(Array.from(g.samples).slice(0, first + 1));
      expect(
        Array.from(r.samples)
          .slice(first + 1)
          .every((x) => x === 99),
      ).toBe(true);
      expect(r.cost.nfe).toBeLessThanOrEqual(first + 1);
    });
    lm.dispose();
  });

  it('tiny ArTransformer and SsmLm from @altar/models: cached == uncached, no leaks', async () => {
    const ar = createModel({
      type: 'ar-transformer',
      vocabSize: 12,
      dModel: 16,
      nLayers: 1,
      nHeads: 2,
      maxLen: 32,
      seed: 3,
    }) as ArTransformer;
    const ssm = createModel({ type: 'ssm-lm', vocabSize: 12, dModel: 16, nLayers: 1, dState: 4, seed: 3 }) as SsmLm;
    try {
      for (const m of [ar, ssm] as unknown as CausalLM[]) {
        await expectNoLeaks(async () => {
          const prompt = [[0], [5]];
          const a = await sampleAr(m, { prompt, length: 10, rng: new Rng(21), temperature: 1.5 });
          const b = await sampleAr(m, { prompt, length: 10, rng: new Rng(21), temperature: 1.5, cached: false });
          expect(Array.from(a.samples)).toEqual(Array.from(b.samples));
          expect(a.cost.weightBytesLoaded).toBe(a.cost.nfe * m.paramCount!() * 4);
        });
      }
    } finally {
      ar.dispose();
      ssm.dispose();
    }
  });

  it('a real ArTransformer reports its analytic FLOPs (flopsKnown) for cached and uncached decoding', async () => {
    const d = 16;
    const L = 2;
    const ar = createModel({
      type: 'ar-transformer',
      vocabSize: 12,
      dModel: d,
      nLayers: L,
      nHeads: 2,
      maxLen: 32,
      seed: 3,
    }) as ArTransformer;
    try {
      await expectNoLeaks(async () => {
        // independent count: 2 FLOPs per matrix weight per token (all parameters but the norm/bias vectors;
        // the tied embedding is the head) + QKᵀ and AV over the c visible positions, 4·d·c per layer
        const vecs = Object.values(ar.getWeights())
          .filter((w) => w.rank === 1)
          .reduce((a, w) => a + w.size, 0);
        const perToken = (c: number) => 2 * (ar.paramCount() - vecs) + L * 4 * d * c;
        const prompt = [[0], [5]];
        const a = await sampleAr(ar, { prompt, length: 10, rng: new Rng(22) });
        // cached: the prompt token (context 1), then 9 steps at contexts 2..10
        expect(a.cost.nfe).toBe(10);
        let expCached = 0;
        for (let c = 1; c <= 10; c++) expCached += 2 * perToken(c);
        expect(a.cost.flopsKnown).toBe(true);
        expect(a.cost.flops).toBeGreaterThan(0);
        expect(a.cost.flops).toBe(expCached);
        // uncached: a full forward over 1..10 tokens, each token at position p seeing p positions
        const b = await sampleAr(ar, { prompt, length: 10, rng: new Rng(22), cached: false });
        let expFull = 0;
        for (let len = 1; len <= 10; len++) for (let p = 1; p <= len; p++) expFull += 2 * perToken(p);
        expect(b.cost.flopsKnown).toBe(true);
        expect(b.cost.flops).toBe(expFull);
      });
    } finally {
      ar.dispose();
    }
  });

  it('without stop tokens, tokens stay on the device: one read per call, the same tokens as the per-token path', async () => {
    const lm = tableLm(5);
    await expectNoLeaks(async () => {
      const opts = { prompt: [[1], [4], [6]], length: 12, temperature: 0.8 };
      // Count the program's reads (await t.data() → backend.read); kernels' own host reads go through readSync.
      const be = tf.backend() as unknown as { read: (...a: unknown[]) => unknown };
      const orig = { read: be.read };
      let reads = 0;
      be.read = function (this: unknown, ...a: unknown[]) {
        reads++;
        return orig.read.apply(this, a);
      };
      let device;
      try {
        device = await sampleAr(lm, { ...opts, rng: new Rng(21) });
      } finally {
        Object.assign(be, orig);
      }
      expect(reads).toBe(1);
      // A stop token outside the vocabulary never fires but takes the host path (a read per token).
      const host = await sampleAr(lm, { ...opts, rng: new Rng(21), stopTokens: [V + 3] });
      expect(Array.from(device.samples)).toEqual(Array.from(host.samples));
      expect(Array.from(device.lengths)).toEqual([12, 12, 12]);
      expect(device.cost.nfe).toBe(host.cost.nfe);
    });
    lm.dispose();
  });

  it('rejects bad options', async () => {
    const lm = tableLm();
    await expect(sampleAr(lm, { prompt: [[0]], length: 0, rng: new Rng(1) })).rejects.toThrow(/length/);
    await expect(sampleAr(lm, { prompt: [[]], length: 2, rng: new Rng(1) })).rejects.toThrow(/at least one token/);
    await expect(sampleAr(lm, { prompt: [[0]], length: 2, rng: new Rng(1), topP: 0 })).rejects.toThrow(/topP/);
    lm.dispose();
  });
});
