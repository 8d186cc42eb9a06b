import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
      expect(readdirSync(dir).some((e) => e.startsWith('.tmp-'))).toBe(true); // the torn write is there…
      const loaded = loadCheckpoint(dir); // …but ignored
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

  it('errors name the path when there is no checkpoint', () => {
    expect(() => loadCheckpoint(join(dir, 'nope'))).toThrow(/nope: no such checkpoint directory/);
    expect(() => loadCheckpoint(dir)).toThrow(/no checkpoint here/);
    writeFileSync(join(dir, 'state.json'), '{"format":"other"}');
    expect(() => loadCheckpoint(dir)).toThrow(/state\.json: not an altar checkpoint/);
  });
});

describe('metrics.jsonl', () => {
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
