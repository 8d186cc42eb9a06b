import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import {
  disposeBatch,
  disposeParams,
  nextBatch,
  snapshotValues,
  tinyLoss,
  tinyParams,
  type TinyBatch,
} from '../test/tiny.js';
import { loadCheckpoint, saveCheckpoint } from './node.js';
import { resolveTrainConfig, type TrainConfig } from './config.js';
import { Trainer } from './trainer.js';
import { NonFiniteError } from './trainer-types.js';
import type { MetricsRecord } from './metrics.js';
import type { ParamMap } from './optimizer.js';

const cfg: Partial<TrainConfig> = {
  steps: 12,
  lr: 0.05,
  warmupSteps: 3,
  gradClip: 0.5,
  emaDecay: 0.9,
  accumSteps: 2,
  weightDecay: 0.01,
  seed: 7,
};

function makeTrainer(
  p: ParamMap,
  config: Partial<TrainConfig> = cfg,
  extra: Partial<ConstructorParameters<typeof Trainer<TinyBatch>>[0]> = {},
) {
  return new Trainer<TinyBatch>({
    params: p,
    loss: tinyLoss(p),
    nextBatch: (r) => nextBatch(r),
    disposeBatch,
    tokensPerBatch: 8,
    config,
    ...extra,
  });
}

describe('resolveTrainConfig', () => {
  it('names the bad key and what was expected', () => {
    expect(() => resolveTrainConfig({ lr: -1 })).toThrow(ConfigError);
    expect(() => resolveTrainConfig({ lr: -1 })).toThrow(/train\.lr: expected a positive number, got -1/);
    expect(() => resolveTrainConfig({ accumSteps: 0 }, 'x.train')).toThrow(
      /x\.train\.accumSteps: expected an integer ≥ 1/,
    );
  });
});

describe.each(testBackends())('Trainer on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('learns the tiny bigram task and reports metrics', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const recs: MetricsRecord[] = [];
      const t = makeTrainer(
        p,
        { ...cfg, steps: 60, accumSteps: 1, emaDecay: 0, gradClip: 1 },
        {
          onMetrics: (r) => recs.push(r),
          evaluate: async ({ rng }) => {
            const b = nextBatch(rng, 64);
            const l = tinyLoss(p, 0)(b, rng);
            const v = (await l.data())[0]!;
            l.dispose();
            disposeBatch(b);
            return { loss: v };
          },
        },
      );
      const first = await t.evaluate();
      await t.run();
      const last = await t.evaluate();
      // Entropy of the data's conditional: 0.8 + 0.2/5 on the successor, 0.04 elsewhere.
      const h = -(0.84 * Math.log(0.84) + 4 * 0.04 * Math.log(0.04));
      expect(first.metrics['loss']!).toBeGreaterThan(h + 0.5);
      expect(last.metrics['loss']!).toBeLessThan(h + 0.25);
      const train = recs.filter((r) => r.kind === 'train');
      expect(train).toHaveLength(60);
      expect(train[0]).toMatchObject({ kind: 'train', step: 1, tokens: 8 });
      expect(train.every((r) => r.kind === 'train' && Number.isFinite(r.loss) && r.gradNorm > 0 && r.lr > 0)).toBe(
        true,
      );
      t.dispose();
      disposeParams(p);
    });
  });

  it('resume is bit-exact: 12 straight steps = 6 + save/load on disk + 6 (EMA, accumulation, clipping, decay)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'altar-train-'));
    try {
      await expectNoLeaks(async () => {
        const pa = tinyParams(3);
        const ta = makeTrainer(pa);
        await ta.run();
        const straight = await snapshotValues(pa);
        const straightEma = await snapshotValues(ta.ema!.tensors() as ParamMap);

        const pb = tinyParams(3);
        const tb = makeTrainer(pb);
        await tb.run({ until: 6 });
        saveCheckpoint(dir, await tb.snapshot({ note: 'half' }));
        tb.dispose();
        disposeParams(pb);

        const pc = tinyParams(99); // different init: everything must come from the checkpoint
        const tc = makeTrainer(pc);
        const ck = loadCheckpoint(dir);
        expect(ck.state.step).toBe(6);
        expect(ck.state.config).toEqual({ note: 'half' });
        tc.restore(ck.files);
        expect(tc.step).toBe(6);
        await tc.run();
        const resumed = await snapshotValues(pc);
        const resumedEma = await snapshotValues(tc.ema!.tensors() as ParamMap);
        for (const k of Object.keys(straight)) {
          expect(Array.from(resumed[k]!)).toEqual(Array.from(straight[k]!));
          expect(Array.from(resumedEma[k]!)).toEqual(Array.from(straightEma[k]!));
        }
        expect(tc.optimizer.t).toBe(ta.optimizer.t);
        ta.dispose();
        tc.dispose();
        disposeParams(pa);
        disposeParams(pc);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accumulating 2 micro-batches of 4 equals one batch of 8 (same examples)', async () => {
    await expectNoLeaks(async () => {
      const pa = tinyParams(5);
      const pb = tinyParams(5);
      // Both draw the same 8 examples: A in one batch of 8, B as two batches of 4 from the same stream.
      const ta = makeTrainer(
        pa,
        { steps: 1, lr: 0.1, warmupSteps: 0, gradClip: 0, seed: 1 },
        { loss: tinyLoss(pa, 0), nextBatch: (r) => nextBatch(r, 8) },
      );
      const tb = makeTrainer(
        pb,
        { steps: 1, lr: 0.1, warmupSteps: 0, gradClip: 0, seed: 1, accumSteps: 2 },
        { loss: tinyLoss(pb, 0), nextBatch: (r) => nextBatch(r, 4) },
      );
      const ra = await ta.trainStep();
      const rb = await tb.trainStep();
      expect(rb.loss).toBeCloseTo(ra.loss, 5);
      expect(rb.gradNorm).toBeCloseTo(ra.gradNorm, 5);
      const va = await snapshotValues(pa);
      const vb = await snapshotValues(pb);
      for (const k of Object.keys(va)) Array.from(va[k]!).forEach((x, i) => expect(vb[k]![i]).toBeCloseTo(x, 5));
      ta.dispose();
      tb.dispose();
      disposeParams(pa);
      disposeParams(pb);
    });
  });

  it('clips by the global norm: reported ‖g‖ and the first Adam update match an independent computation', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(6);
      const clip = 1e-7; // so small that ε = 1e-8 makes Adam's first step depend on the clipped scale
      const lr = 0.1;
      const t = makeTrainer(p, { steps: 1, lr, warmupSteps: 0, gradClip: clip, seed: 2 }, { loss: tinyLoss(p, 0) });
      // Independently: the same first batch (a trainer with the same seed draws it) and tf.variableGrads.
      const probe = makeTrainer(p, { steps: 1, lr, warmupSteps: 0, seed: 2 });
      const rng = (probe as unknown as { dataRng: import('@altar/backend').Rng }).dataRng;
      const batch = nextBatch(rng);
      const names = Object.keys(p);
      const res = tf.variableGrads(
        () => tinyLoss(p, 0)(batch, rng),
        names.map((n) => p[n]!),
      );
      const g: Record<string, Float32Array> = {};
      for (const n of names) g[n] = (await res.grads[p[n]!.name]!.data()) as Float32Array;
      res.value.dispose();
      tf.dispose(Object.values(res.grads));
      disposeBatch(batch);
      probe.dispose();
      let sq = 0;
      for (const n of names) for (const x of g[n]!) sq += x * x;
      const norm = Math.sqrt(sq);
      const before = await snapshotValues(p);
      const r = await t.trainStep();
      expect(r.gradNorm).toBeCloseTo(norm, 4);
      const s = Math.min(1, clip / (norm + 1e-6));
      const after = await snapshotValues(p);
      for (const n of names) {
        g[n]!.forEach((gi, i) => {
          // First Adam step: m̂ = g·s, v̂ = (g·s)², update = lr · g·s / (|g·s| + ε).
          const expected = before[n]![i]! - (lr * gi * s) / (Math.abs(gi * s) + 1e-8);
          expect(after[n]![i]!).toBeCloseTo(expected, 4);
        });
      }
      t.dispose();
      disposeParams(p);
    });
  });

  it("NaN guard: 'stop' names the step and the parameter; 'skip' leaves the weights untouched", async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(8);
      const base = tinyLoss(p, 0);
      let calls = 0;
      // From the 3rd call on, poison the head bias's gradient only: loss + 0 · (NaN · Σ bias).
      const poisoned = (b: TinyBatch, r: import('@altar/backend').Rng): tf.Scalar =>
        tf.tidy(() => {
          calls += 1;
          const l = base(b, r);
          if (calls < 3) return l;
          return tf.add(l, tf.mul(tf.sum(p['head.bias']!), tf.scalar(NaN))) as tf.Scalar;
        });
      const t = makeTrainer(p, { steps: 5, lr: 0.01, warmupSteps: 0, seed: 1 }, { loss: poisoned });
      await t.trainStep();
      await t.trainStep();
      const err = await t.trainStep().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as Error).message).toMatch(/^step 3: /);
      expect((err as Error).message).toMatch(/loss is NaN|'head\.bias'/);
      t.dispose();

      calls = 10; // always poisoned now
      const warnings: string[] = [];
      const t2 = makeTrainer(
        p,
        { steps: 5, lr: 0.01, warmupSteps: 0, seed: 1, nonFinite: 'skip' },
        { loss: poisoned, logger: { info: () => {}, warn: (m) => warnings.push(m) } },
      );
      const before = await snapshotValues(p);
      const r = await t2.trainStep();
      expect(r.skipped).toBe(true);
      expect(warnings[0]).toMatch(/^step 1: .*update skipped/);
      const after = await snapshotValues(p);
      for (const k of Object.keys(before)) expect(Array.from(after[k]!)).toEqual(Array.from(before[k]!));
      t2.dispose();
      disposeParams(p);
    });
  });

  it('NaN guard names the parameter whose gradient alone is non-finite', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(9);
      const base = tinyLoss(p, 0);
      // sqrt'(0) = Inf and 0·Inf = NaN: the bias gradient is NaN while the loss stays finite.
      const loss = (b: TinyBatch, r: import('@altar/backend').Rng): tf.Scalar =>
        tf.tidy(() => tf.add(base(b, r), tf.mul(0, tf.sum(tf.sqrt(tf.mul(p['head.bias']!, 0))))) as tf.Scalar);
      const t = makeTrainer(p, { steps: 2, lr: 0.01, warmupSteps: 0, seed: 1 }, { loss });
      const err = await t.trainStep().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).parameter).toBe('head.bias');
      expect((err as Error).message).toMatch(/step 1: gradient of parameter 'head\.bias' is not finite/);
      t.dispose();
      disposeParams(p);
    });
  });

  it('a NaN stop names the parameter with the largest gradient norm in that step', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(9);
      const base = tinyLoss(p, 0);
      // The loss is NaN (a constant NaN: the gradients stay finite); 100·Σ head.weight makes head.weight's gradient
      // norm about 100·√20 ≈ 447, far above the others'.
      const loss = (b: TinyBatch, r: import('@altar/backend').Rng): tf.Scalar =>
        tf.tidy(() => tf.add(tf.add(base(b, r), tf.mul(100, tf.sum(p['head.weight']!))), tf.scalar(NaN)) as tf.Scalar);
      const t = makeTrainer(p, { steps: 2, lr: 0.01, warmupSteps: 0, seed: 1 }, { loss });
      const err = await t.trainStep().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).largestGradient).toBe('head.weight');
      const m = /step 1: loss is NaN; largest gradient norm in step 1: 'head\.weight' \(([\d.]+)\)/.exec(
        (err as Error).message,
      );
      expect(m).not.toBeNull();
      expect(Math.abs(Number(m![1]) - 100 * Math.sqrt(20))).toBeLessThan(5);
      t.dispose();
      disposeParams(p);
    });
  });

  it('stops after the current step when the abort signal fires and checkpoints with reason interrupt', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(4);
      // onStep comes with each read-back: read every step so that the abort lands after step 4 on any backend
      const t = makeTrainer(p, { ...cfg, steps: 50, syncEvery: 1 });
      const ac = new AbortController();
      const reasons: string[] = [];
      const res = await t.run({
        signal: ac.signal,
        onStep: (r) => {
          if (r.step === 4) ac.abort();
        },
        onCheckpoint: async (reason) => {
          reasons.push(reason);
        },
      });
      expect(res).toEqual({ reason: 'interrupted', step: 4 });
      expect(reasons).toEqual(['interrupt']);
      t.dispose();
      disposeParams(p);
    });
  });
});
