/**
 * Resume side effects, divergence and SIGTERM (issue 15): metrics cut back on resume, the sampling stream
 * checkpointed, changed config keys listed; non-finite weights refused by eval and sample; SIGTERM saves and exits 143.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, decodeSafetensors, encodeSafetensors } from '@altar/backend';
import { useBackend } from '@altar/backend/testing';
import { parseMetricsLines } from '@altar/train';
import { listCheckpoints, loadCheckpoint } from '@altar/train/node';
import { captureIO, tempDir, tinyConfig } from '../../test/helpers.js';
import { main } from '../main.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await useBackend('cpu');
});

const run = async (argv: string[], io = captureIO()) => {
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
};

describe('resume', () => {
  it('after a kill: metrics.jsonl is cut back to the checkpoint, sample dumps equal a straight run, changes are listed', async () => {
    const cfg = tinyConfig(
      dir,
      { train: { steps: 6, lr: 0.01, warmupSteps: 2, emaDecay: 0.9, evalEvery: 2, seed: 1 } },
      'resume.json',
    );
    const straight = join(dir, 'straight');
    expect((await run(['train', cfg, '--out', straight, '--backend', 'cpu'])).code).toBe(0);

    const split = join(dir, 'split');
    const ac = new AbortController();
    const io = captureIO((_t, all) => {
      if (/ 3\/6 /.test(all)) ac.abort();
    });
    io.signal = ac.signal;
    expect((await run(['train', cfg, '--out', split, '--backend', 'cpu'], io)).code).toBe(130);
    expect(loadCheckpoint(split).state.step).toBe(3);
    // what a kill -9 during steps 4–5 leaves: their metrics lines, the last one torn
    appendFileSync(
      join(split, 'metrics.jsonl'),
      '{"kind":"train","step":4,"loss":1}\n{"kind":"eval","step":4,"metrics":{}}\n{"kind":"train","st',
    );
    const r = await run(['train', cfg, '--out', split, '--resume', split, '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(r.err).not.toMatch(/changed since the checkpoint/);
    const steps = (d: string) =>
      parseMetricsLines(readFileSync(join(d, 'metrics.jsonl'), 'utf8')).map((x) => `${x.kind}${x.step}`);
    expect(steps(split)).toEqual(steps(straight));
    expect(steps(split)).toEqual([
      'train1',
      'train2',
      'eval2',
      'train3',
      'train4',
      'eval4',
      'train5',
      'train6',
      'eval6',
    ]);
    // the sampling stream resumes where it was: the dumps after the resume are the straight run's
    for (const s of ['step-00000004.txt', 'step-00000006.txt'])
      expect(readFileSync(join(split, 'samples', s), 'utf8')).toBe(readFileSync(join(straight, 'samples', s), 'utf8'));

    // a resume with other settings says what changed
    const more = await run([
      'train',
      cfg,
      '--out',
      join(dir, 'more'),
      '--resume',
      split,
      '--set',
      'train.steps=8',
      '--set',
      'train.lr=0.02',
      '--backend',
      'cpu',
    ]);
    expect(more.code).toBe(0);
    expect(more.err).toMatch(/changed since the checkpoint: train\.lr 0\.01 → 0\.02/);
    expect(more.err).toMatch(/changed since the checkpoint: train\.steps 6 → 8/);
  });
});

describe('divergence', () => {
  it('eval and sample refuse non-finite weights with exit 1, naming the tensor', async () => {
    const cfg = tinyConfig(dir, { eval: { batches: 1, batchSize: 8, samples: 0 } }, 'finite.json');
    const out = join(dir, 'poisoned');
    expect((await run(['train', cfg, '--out', out, '--backend', 'cpu'])).code).toBe(0);
    const file = join(out, 'step-00000006', 'ema.safetensors');
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(file)));
    const name = Object.keys(tensors).sort()[1]!;
    const t = tensors[name]!;
    const vals = new Float32Array(t.data.slice().buffer);
    vals[2] = NaN;
    tensors[name] = { ...t, data: bytesOf(vals) };
    writeFileSync(file, encodeSafetensors(tensors, metadata));
    for (const cmd of ['eval', 'sample']) {
      const r = await run([cmd, out, '--backend', 'cpu']);
      expect(r.code, cmd).toBe(1);
      expect(r.err, cmd).toContain(`ema.safetensors: tensor '${name}' holds NaN (element 2)`);
      expect(r.out, cmd).toBe('');
    }
    // the raw weights are finite and still evaluate
    expect((await run(['eval', out, '--raw', '--batches', '1', '--batch-size', '8', '--backend', 'cpu'])).code).toBe(0);
  });

  it("'stop' names the step and the parameter with the largest gradient; 'skip' names the step and keeps a finite checkpoint", async () => {
    const train = { steps: 6, lr: 1e30, warmupSteps: 0, gradClip: 0, evalEvery: 0, seed: 1 };
    const stop = await run([
      'train',
      tinyConfig(dir, { train }, 'stop.json'),
      '--out',
      join(dir, 'stop'),
      '--backend',
      'cpu',
    ]);
    expect(stop.code).toBe(1);
    expect(stop.err).toMatch(/altar train: step (\d+): .*; largest gradient norm in step \1: '[^']+' \(/);

    const skipOut = join(dir, 'skip');
    const skip = await run([
      'train',
      tinyConfig(dir, { train: { ...train, nonFinite: 'skip' }, checkpoint: { every: 1, keepLast: 1 } }, 'skip.json'),
      '--out',
      skipOut,
      '--backend',
      'cpu',
    ]);
    expect(skip.code).toBe(1);
    expect(skip.err).toMatch(
      /training ended with a non-finite loss at step 6 \(first non-finite step (\d+), \d+ updates? skipped\)/,
    );
    // keepLast 1 keeps step 6, and the newest checkpoint whose loss and weights were finite survives beside it
    const kept = listCheckpoints(skipOut).map((c) => loadCheckpoint(c.dir).state);
    expect(kept.at(-1)!.step).toBe(6);
    expect(kept.some((s) => s.health?.lossFinite === true && s.health.weightsFinite)).toBe(true);
  });
});

describe('altar train as a process', () => {
  it('SIGTERM finishes the step, saves a checkpoint and exits 143', async () => {
    const cfg = tinyConfig(
      dir,
      { train: { steps: 400, lr: 0.01, warmupSteps: 2, evalEvery: 0, seed: 1 }, checkpoint: { every: 0, keepLast: 1 } },
      'sigterm.json',
    );
    const out = join(dir, 'sigterm');
    const cli = join(import.meta.dirname, '..', 'cli.ts');
    const child = spawn(
      process.execPath,
      ['--conditions=@altar/source', '--import', 'tsx', cli, 'train', cfg, '--out', out, '--backend', 'cpu'],
      { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sent && /\d+\/400/.test(err)) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(err).toMatch(/SIGTERM received; finishing the current step and saving a checkpoint/);
    expect(err).toMatch(/interrupted: checkpoint at step \d+ saved/);
    expect(code).toBe(143);
    const st = loadCheckpoint(out).state.step;
    expect(st).toBeGreaterThan(0);
    expect(st).toBeLessThan(400);
  }, 60_000);
});
