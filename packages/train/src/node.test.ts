import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import {
  disposeBatch,
  disposeParams,
  nextBatch,
  snapshotValues,
  tinyLoss,
  tinyParams,
  type TinyBatch,
} from '../test/tiny.js';
import {
  listCheckpoints,
  loadCheckpoint,
  MetricsWriter,
  resolveCheckpointDir,
  saveCheckpoint,
  type CheckpointFs,
} from './node.js';
import * as tf from '@tensorflow/tfjs-core';
import { bytesOf, encodeSafetensors } from '@altar/backend';
import { firstNonFinite } from './health.js';
import { Trainer } from './trainer.js';
import { parseMetricsLines } from './metrics.js';
import type { ParamMap } from './optimizer.js';

let dir = '';
beforeAll(async () => {
  await useBackend('cpu');
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'altar-ckpt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mk = (p: ParamMap, steps = 20) =>
  new Trainer<TinyBatch>({
    params: p,
    loss: tinyLoss(p),
    nextBatch: (r) => nextBatch(r),
    disposeBatch,
    tokensPerBatch: 8,
    config: { steps, lr: 0.05, warmupSteps: 0, emaDecay: 0.9, seed: 3 },
  });

describe('atomic checkpoints', () => {
  it('a save that fails mid-write leaves the previous checkpoint loadable and restorable', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const t = mk(p);
      await t.run({ until: 2 });
      saveCheckpoint(dir, await t.snapshot({ run: 'a' }));
      const atTwo = await snapshotValues(p);
      await t.run({ until: 4 });
      const ck4 = await t.snapshot({ run: 'a' });
      // The writer dies after the first file of the new checkpoint (a crash or a full disk).
      let writes = 0;
      const failing: CheckpointFs = {
        writeFileSync: (f, d) => {
          writes += 1;
          if (writes === 2) {
            writeFileSync(f, d.subarray(0, 10)); // half a file, then death
            throw new Error('ENOSPC: simulated crash mid-write');
          }
          writeFileSync(f, d);
        },
      };
      expect(() => saveCheckpoint(dir, ck4, { fs: failing })).toThrow(/simulated crash/);
      // A failed save removes its temporary directory (a full disk must not fill up with torn saves)…
      expect(readdirSync(dir).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
      // …and one torn by a kill (no chance to clean up) is ignored by readers.
      mkdirSync(join(dir, '.tmp-step-00000004-99999'));
      writeFileSync(join(dir, '.tmp-step-00000004-99999', 'model.safetensors'), 'torn');
      const loaded = loadCheckpoint(dir);
      expect(loaded.state.step).toBe(2);
      const p2 = tinyParams(50);
      const t2 = mk(p2);
      t2.restore(loaded.files);
      const restored = await snapshotValues(p2);
      for (const k of Object.keys(atTwo)) expect(Array.from(restored[k]!)).toEqual(Array.from(atTwo[k]!));
      // The next good save cleans the torn one up and moves latest on.
      saveCheckpoint(dir, ck4);
      expect(readdirSync(dir).some((e) => e.startsWith('.tmp-'))).toBe(false);
      expect(loadCheckpoint(dir).state.step).toBe(4);
      t.dispose();
      t2.dispose();
      disposeParams(p);
      disposeParams(p2);
    });
  });

  it('a latest.json pointing at a half-written directory falls back to the newest complete one', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const t = mk(p);
      await t.run({ until: 1 });
      saveCheckpoint(dir, await t.snapshot());
      // A crash between rename and pointer swap cannot produce this, but a corrupted pointer can:
      writeFileSync(join(dir, 'latest.json'), '{"step": 9, "dir": "step-00000009"}');
      expect(loadCheckpoint(dir).state.step).toBe(1);
      writeFileSync(join(dir, 'latest.json'), '{"ste');
      expect(loadCheckpoint(dir).state.step).toBe(1);
      t.dispose();
      disposeParams(p);
    });
  });

  it('keeps the last K and the best; best.json resolves to the best step', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const t = mk(p);
      for (let s = 1; s <= 6; s++) {
        await t.run({ until: s });
        const isBest = s === 2;
        if (isBest) t.best = { metric: 'loss', value: 0.5, step: 2 };
        saveCheckpoint(dir, await t.snapshot(), { keepLast: 2, isBest });
      }
      expect(listCheckpoints(dir).map((c) => c.step)).toEqual([2, 5, 6]);
      expect(resolveCheckpointDir(dir, 'best')).toMatch(/step-00000002$/);
      expect(loadCheckpoint(dir).state.step).toBe(6);
      expect(JSON.parse(readFileSync(join(dir, 'best.json'), 'utf8'))).toEqual({
        step: 2,
        dir: 'step-00000002',
        metric: 'loss',
        value: 0.5,
      });
      t.dispose();
      disposeParams(p);
    });
  });

  it("pruning never deletes the newest checkpoint whose loss and weights are finite (a diverged 'skip' run)", async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const t = mk(p);
      for (let s = 1; s <= 5; s++) {
        await t.run({ until: s });
        const ck = await t.snapshot();
        expect(ck.state.health).toEqual({ lossFinite: true, weightsFinite: true });
        if (s >= 3) {
          // from step 3 on the run has diverged: a non-finite loss (updates skipped), as state.json records it
          ck.state.health = { lossFinite: false, weightsFinite: true };
          ck.files['state.json'] = new TextEncoder().encode(JSON.stringify(ck.state));
        }
        saveCheckpoint(dir, ck, { keepLast: 1 });
      }
      // keepLast 1 would keep only step 5; step 2, the newest finite one, survives too.
      expect(listCheckpoints(dir).map((c) => c.step)).toEqual([2, 5]);
      t.dispose();
      disposeParams(p);
    });
  });

  it('a snapshot records whether its weights are finite; firstNonFinite names the tensor (F32, F16, BF16)', async () => {
    await expectNoLeaks(async () => {
      const p = tinyParams(1);
      const t = mk(p);
      await t.run({ until: 1 });
      const inf = tf.tidy(() => tf.mul(p['head.weight']!, tf.scalar(Infinity)));
      p['head.weight']!.assign(inf);
      inf.dispose();
      const ck = await t.snapshot();
      expect(ck.state.health).toEqual({ lossFinite: true, weightsFinite: false });
      expect(firstNonFinite(ck.files['model.safetensors']!)).toMatchObject({ tensor: 'head.weight', index: 0 });
      t.dispose();
      disposeParams(p);
    });
    const f32 = encodeSafetensors({
      a: { dtype: 'F32', shape: [2], data: bytesOf(Float32Array.from([1, 2])) },
      b: { dtype: 'F32', shape: [3], data: bytesOf(Float32Array.from([0, -Infinity, NaN])) },
    });
    expect(firstNonFinite(f32)).toEqual({ tensor: 'b', index: 1, value: -Infinity });
    // F16 0x7e00 = NaN, 0x7c00 = +Inf; BF16 0xff80 = -Inf; 0x3c00 / 0x3f80 = 1
    const half = (dtype: 'F16' | 'BF16', v: number[]) => ({
      dtype,
      shape: [v.length],
      data: bytesOf(Uint16Array.from(v)),
    });
    expect(firstNonFinite(encodeSafetensors({ h: half('F16', [0x3c00, 0x7e00]) }))).toMatchObject({ index: 1 });
    expect(firstNonFinite(encodeSafetensors({ h: half('F16', [0x7c00]) }))).toMatchObject({ value: Infinity });
    expect(firstNonFinite(encodeSafetensors({ h: half('BF16', [0x3f80, 0xff80]) }))).toMatchObject({
      index: 1,
      value: -Infinity,
    });
    expect(
      firstNonFinite(
        encodeSafetensors({
          h: half('BF16', [0x3f80]),
          i: { dtype: 'I32', shape: [1], data: bytesOf(Int32Array.from([-1])) },
        }),
      ),
    ).toBeNull();
  });

  it('errors name the path when there is no checkpoint', () => {
    expect(() => loadCheckpoint(join(dir, 'nope'))).toThrow(/nope: no such checkpoint directory/);
    expect(() => loadCheckpoint(dir)).toThrow(/no checkpoint here/);
    writeFileSync(join(dir, 'state.json'), '{"format":"other"}');
    expect(() => loadCheckpoint(dir)).toThrow(/state\.json: not an altar checkpoint/);
  });
});

describe('metrics.jsonl', () => {
  it('keepThrough (resume) cuts the records a killed run wrote after its checkpoint, and a torn last line', () => {
    const file = join(dir, 'metrics.jsonl');
    const line = (kind: string, step: number) => JSON.stringify({ kind, step }) + '\n';
    writeFileSync(file, line('train', 1) + line('train', 2) + line('eval', 2) + line('train', 3) + '{"kind":"tr');
    const w = new MetricsWriter(file, { keepThrough: 2 });
    w.write({ kind: 'eval', step: 3, elapsedSec: 0, metrics: { loss: 1 } });
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).kind + JSON.parse(l).step),
    ).toEqual(['train1', 'train2', 'eval2', 'eval3']);
  });

  it('one JSON object per line with kind, step and finite numbers (non-finite → null)', async () => {
    await expectNoLeaks(async () => {
      const file = join(dir, 'metrics.jsonl');
      const w = new MetricsWriter(file, { truncate: true });
      const p = tinyParams(2);
      const t = new Trainer<TinyBatch>({
        params: p,
        loss: tinyLoss(p),
        nextBatch: (r) => nextBatch(r),
        disposeBatch,
        tokensPerBatch: 8,
        config: { steps: 4, evalEvery: 2, seed: 1 },
        evaluate: async () => ({ loss: 1.5, bitsPerToken: 2.1 }),
        onMetrics: (r) => w.write(r),
      });
      await t.run();
      w.write({ kind: 'eval', step: 4, elapsedSec: 0, metrics: { loss: NaN } });
      const text = readFileSync(file, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.trim().split('\n');
      expect(lines).toHaveLength(7);
      const recs = parseMetricsLines(text);
      expect(recs.map((r) => `${r.kind}@${r.step}`)).toEqual([
        'train@1',
        'train@2',
        'eval@2',
        'train@3',
        'train@4',
        'eval@4',
        'eval@4',
      ]);
      const tr = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(Object.keys(tr).sort()).toEqual([
        'elapsedSec',
        'gradNorm',
        'kind',
        'loss',
        'lr',
        'step',
        'stepMs',
        'tokens',
        'tokensPerSec',
      ]);
      expect(JSON.parse(lines[2]!)).toMatchObject({ kind: 'eval', step: 2, metrics: { loss: 1.5, bitsPerToken: 2.1 } });
      expect(JSON.parse(lines[6]!)).toMatchObject({ metrics: { loss: null } });
      expect(() => parseMetricsLines('{"kind":"train"}\nnot json\n')).toThrow(/line 2/);
      expect(existsSync(file)).toBe(true);
      t.dispose();
      disposeParams(p);
    });
  });
});
