/**
 * Reading back every N steps (train.syncEvery) changes nothing but the number of reads: weights, optimizer state,
 * EMA, records, skipped steps, NaN stops and checkpoints equal those of a read after every step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Rng } from '@altar/backend';
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
import { resolveSyncEvery, resolveTrainConfig, type TrainConfig } from './config.js';
import type { MetricsRecord } from './metrics.js';
import type { ParamMap } from './optimizer.js';
import { Trainer } from './trainer.js';
import { NonFiniteError, type StepResult } from './trainer-types.js';

// clipping active (‖g‖ of the tiny model is ~0.5–1.5), 2 micro-batches, EMA, decay, warmup + cosine
const base: Partial<TrainConfig> = {
  steps: 12,
  lr: 0.05,
  warmupSteps: 3,
  gradClip: 0.4,
  emaDecay: 0.9,
  accumSteps: 2,
  weightDecay: 0.01,
  seed: 7,
};

interface Options {
  /** Poison the loss (NaN loss and head.bias gradient) in these optimizer steps (1-based). */
  poison?: (step: number) => boolean;
  evaluate?: boolean;
  checkpointEvery?: number;
  /** Abort (from outside the callbacks) when this step's first batch is drawn. */
  abortAt?: number;
  /** The loss throws an Error in this step. */
  throwAt?: number;
}

interface Outcome {
  records: MetricsRecord[];
  results: StepResult[];
  warnings: string[];
  checkpoints: Array<[string, number]>;
  error: Error | null;
  reason: string | null;
  values: Record<string, Float32Array>;
  t: number;
  updates: number | null;
  step: number;
  batches: number;
  reads: number;
  snapshot: { state: Record<string, unknown>; files: Record<string, Uint8Array> };
}

const timing = new Set(['stepMs', 'tokensPerSec', 'elapsedSec']);
const untimed = (r: object) => Object.fromEntries(Object.entries(r).filter(([k]) => !timing.has(k)));

async function train(syncEvery: number, config: Partial<TrainConfig>, o: Options = {}): Promise<Outcome> {
  const p = tinyParams(5);
  const plain = tinyLoss(p);
  const accum = config.accumSteps ?? 1;
  let calls = 0;
  let drawn = 0;
  const ac = new AbortController();
  const loss = (b: TinyBatch, r: Rng): tf.Scalar =>
    tf.tidy(() => {
      calls += 1;
      if (Math.ceil(calls / accum) === o.throwAt) throw new Error(`boom in step ${o.throwAt}`);
      const l = plain(b, r);
      if (!o.poison?.(Math.ceil(calls / accum))) return l;
      return tf.add(l, tf.mul(tf.sum(p['head.bias']!), tf.scalar(NaN))) as tf.Scalar;
    });
  const out: Outcome = {
    records: [],
    results: [],
    warnings: [],
    checkpoints: [],
    error: null,
    reason: null,
    values: {},
    t: 0,
    updates: null,
    step: 0,
    batches: 0,
    reads: 0,
    snapshot: { state: {}, files: {} },
  };
  const t = new Trainer<TinyBatch>({
    params: p,
    loss,
    nextBatch: (r) => {
      drawn += 1;
      if (o.abortAt !== undefined && drawn === (o.abortAt - 1) * accum + 1) ac.abort();
      return nextBatch(r);
    },
    disposeBatch,
    tokensPerBatch: 8,
    config: { ...config, syncEvery },
    dataState: { get: () => ({ drawn }), set: (s) => (drawn = (s as { drawn: number }).drawn) },
    logger: { info: () => {}, warn: (m) => out.warnings.push(m) },
    onMetrics: (r) => out.records.push(untimed(r) as MetricsRecord),
    ...(o.evaluate
      ? {
          evaluate: async ({ rng }: { rng: Rng }) => {
            const b = nextBatch(rng, 16);
            const l = tinyLoss(p, 0)(b, rng);
            const v = (await l.data())[0]!;
            tf.dispose([l, b.x, b.y]);
            return { loss: v };
          },
        }
      : {}),
  });
  const be = tf.backend() as unknown as { read: (...a: unknown[]) => unknown };
  const read = be.read;
  be.read = function (this: unknown, ...a: unknown[]) {
    out.reads += 1;
    return read.apply(this, a);
  };
  try {
    const res = await t.run({
      signal: ac.signal,
      ...(o.checkpointEvery ? { checkpointEvery: o.checkpointEvery } : {}),
      onStep: (r) => out.results.push(untimed(r) as StepResult),
      onCheckpoint: async (reason) => {
        out.checkpoints.push([reason, t.step]);
      },
    });
    out.reason = res.reason;
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    out.error = e;
  } finally {
    be.read = read;
  }
  out.values = {
    ...(await snapshotValues(p)),
    ...(await snapshotValues(t.optimizer.stateTensors() as ParamMap)),
    ...Object.fromEntries(
      Object.entries(t.ema ? await snapshotValues(t.ema.tensors() as ParamMap) : {}).map(([k, v]) => [`ema.${k}`, v]),
    ),
  };
  out.t = t.optimizer.t;
  out.updates = t.ema?.updates ?? null;
  out.step = t.step;
  out.batches = t.batches;
  const ck = await t.snapshot({});
  const { savedAt: _, trainConfig: __, rng, ...state } = ck.state;
  // an Rng state's words are unsigned or signed 32-bit integers depending on its history: the same stream
  const words = (r: { s: number[] }) => r.s.map((w) => w >>> 0);
  out.snapshot = { state: { ...state, rng: { data: words(rng.data), loss: words(rng.loss) } }, files: ck.files };
  t.dispose();
  disposeParams(p);
  return out;
}

/** Everything but the read count equal to the syncEvery = 1 outcome. */
function expectSame(got: Outcome, ref: Outcome, what: string): void {
  expect(got.records, what).toEqual(ref.records);
  expect(got.results, what).toEqual(ref.results);
  expect(got.warnings, what).toEqual(ref.warnings);
  expect(got.checkpoints, what).toEqual(ref.checkpoints);
  expect(got.error?.message, what).toBe(ref.error?.message);
  expect((got.error as NonFiniteError | null)?.step, what).toBe((ref.error as NonFiniteError | null)?.step);
  expect([got.reason, got.t, got.updates, got.step, got.batches], what).toEqual([
    ref.reason,
    ref.t,
    ref.updates,
    ref.step,
    ref.batches,
  ]);
  for (const k of Object.keys(ref.values))
    expect(Array.from(got.values[k]!), `${what}: ${k}`).toEqual(Array.from(ref.values[k]!));
  expect(got.snapshot.state, what).toEqual(ref.snapshot.state);
  for (const [name, bytes] of Object.entries(ref.snapshot.files))
    if (name !== 'state.json') expect(got.snapshot.files[name], `${what}: ${name}`).toEqual(bytes);
}

describe('train.syncEvery', () => {
  it("validates: a positive integer or 'auto' (1 on cpu/wasm, 16 on GPU backends)", () => {
    for (const bad of [0, -2, 1.5, 'always'])
      expect(() => resolveTrainConfig({ syncEvery: bad as number })).toThrow(
        new RegExp(`train\\.syncEvery: expected an integer ≥ 1 or 'auto', got ${JSON.stringify(bad)}`),
      );
    expect(() => resolveTrainConfig({ syncEvery: 0 })).toThrow(ConfigError);
    expect(resolveTrainConfig({}).syncEvery).toBe('auto');
    expect(resolveSyncEvery('auto', 'cpu')).toBe(1);
    expect(resolveSyncEvery('auto', 'wasm')).toBe(1);
    expect(resolveSyncEvery('auto', 'webgpu')).toBe(16);
    expect(resolveSyncEvery('auto', 'webgl')).toBe(16);
    expect(resolveSyncEvery(5, 'webgpu')).toBe(5);
  });
});

describe.each(testBackends())('Trainer with syncEvery on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('N = 3 and 5 give the N = 1 trajectory (clipping, accumulation, EMA, eval, checkpoints) with 1/N of the reads', async () => {
    await expectNoLeaks(async () => {
      const cfg = { ...base, evalEvery: 4 };
      const ref = await train(1, cfg, { evaluate: true, checkpointEvery: 5 });
      expect(ref.records.filter((r) => r.kind === 'train' && r.gradNorm > base.gradClip!).length).toBeGreaterThan(3);
      expect(ref.records.filter((r) => r.kind === 'eval').map((r) => r.step)).toEqual([4, 8, 12]);
      expect(ref.checkpoints).toContainEqual(['periodic', 5]);
      expect(ref.checkpoints.at(-1)).toEqual(['final', 12]);
      for (const n of [3, 5]) expectSame(await train(n, cfg, { evaluate: true, checkpointEvery: 5 }), ref, `N = ${n}`);
      // reads: one per window (no eval, no checkpoints), and none more than needed
      for (const n of [1, 3, 4, 12]) {
        const cfg = { ...base, steps: 24, accumSteps: 1 };
        const r = await train(n, cfg);
        expect(r.reads, `N = ${n}`).toBe(24 / n);
        if (n > 1) expectSame(r, await train(1, cfg), `N = ${n}, 24 steps`);
      }
    });
  });

  it("'skip': a NaN in the middle of a window is skipped exactly as with N = 1 (t and the EMA count do not advance)", async () => {
    await expectNoLeaks(async () => {
      const cfg = { ...base, nonFinite: 'skip' as const };
      const poison = (s: number) => s === 5 || s === 9;
      const ref = await train(1, cfg, { poison });
      expect(ref.results.filter((r) => r.skipped).map((r) => r.step)).toEqual([5, 9]);
      expect([ref.t, ref.updates]).toEqual([10, 10]);
      expect(ref.warnings.map((w) => /^step (\d+): .*update skipped$/.exec(w)?.[1])).toEqual(['5', '9']);
      for (const n of [3, 5]) expectSame(await train(n, cfg, { poison }), ref, `N = ${n}`);
    });
  });

  it("'stop': same error, step, data position, random streams and checkpoint as N = 1, wherever the step falls in the window", async () => {
    await expectNoLeaks(async () => {
      for (const first of [5, 6]) {
        const poison = (s: number) => s === first; // later steps are finite: only the sticky mask keeps them out
        const ref = await train(1, base, { poison });
        expect(ref.error).toBeInstanceOf(NonFiniteError);
        expect((ref.error as NonFiniteError).step).toBe(first);
        expect(ref.error?.message).toMatch(new RegExp(`^step ${first}: .*in step ${first - 1}: .*; stopping`));
        expect([ref.step, ref.t, ref.updates, ref.batches]).toEqual([first - 1, first - 1, first - 1, 2 * first]);
        expect(ref.snapshot.state['data']).toEqual({ batches: 2 * first, state: { drawn: 2 * first } });
        for (const n of [3, 5, 12]) expectSame(await train(n, base, { poison }), ref, `first ${first}, N = ${n}`);
      }
    });
  });

  it('an abort between steps interrupts at the same step and checkpoint for every N', async () => {
    await expectNoLeaks(async () => {
      const ref = await train(1, base, { abortAt: 5 });
      expect(ref.reason).toBe('interrupted');
      expect(ref.checkpoints).toEqual([['interrupt', 5]]);
      for (const n of [3, 4]) expectSame(await train(n, base, { abortAt: 5 }), ref, `N = ${n}`);
    });
  });

  it('a loss that throws mid-window: the steps before it are reported first, then the error, as with N = 1', async () => {
    await expectNoLeaks(async () => {
      const ref = await train(1, base, { throwAt: 5 });
      expect(ref.error?.message).toBe('boom in step 5');
      expect(ref.results.map((r) => r.step)).toEqual([1, 2, 3, 4]);
      for (const n of [3, 5]) expectSame(await train(n, base, { throwAt: 5 }), ref, `N = ${n}`);
    });
  });

  it('trainStep() reads back every call and returns its own step, whatever syncEvery says', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(2);
      const t = new Trainer<TinyBatch>({
        params: p,
        loss: tinyLoss(p),
        nextBatch: (r) => nextBatch(r),
        disposeBatch,
        config: { ...base, syncEvery: 5 },
      });
      expect(t.syncEvery).toBe(5);
      const be = tf.backend() as unknown as { read: (...a: unknown[]) => unknown };
      const read = be.read;
      let reads = 0;
      be.read = function (this: unknown, ...a: unknown[]) {
        reads += 1;
        return read.apply(this, a);
      };
      try {
        for (let i = 1; i <= 3; i++) {
          const r = await t.trainStep();
          expect([r.step, reads, t.optimizer.t]).toEqual([i, i, i]);
          expect(Number.isFinite(r.loss) && r.gradNorm > 0).toBe(true);
        }
      } finally {
        be.read = read;
      }
      t.dispose();
      disposeParams(p);
    });
  });
});
