/**
 * End to end on real parts: Debian's redis-server on a free loopback port, `altar sweep` in process, two
 * `altar worker` processes (from sources, like the train SIGINT test), one SIGKILLed mid-job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIO, tempDir, tinyConfig } from '../../test/helpers.js';
import { freePort, startRedis, type RedisHandle } from '../../test/redis-server.js';
import { main } from '../main.js';
import { latestCheckpointStep, readStarts } from './run-point.js';
import { loadSweep } from './spec.js';
import type { SweepStatus } from './status.js';

const dir = tempDir('altar-sweep-e2e-');
const root = join(dir, 'root');
let redis: RedisHandle;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface WorkerProc {
  name: string;
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function startWorker(name: string): WorkerProc {
  const cli = join(import.meta.dirname, '..', 'cli.ts');
  const child = spawn(
    process.execPath,
    [
      '--conditions=@altar/source',
      '--import',
      'tsx',
      cli,
      'worker',
      '--queue',
      redis.url,
      '--name',
      name,
      '--lock-duration',
      '4000',
      '--stalled-interval',
      '1000',
    ],
    { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  workers.push(child);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { name, child, log: () => log, exited };
}

async function status(sweep: string): Promise<SweepStatus> {
  const io = captureIO();
  expect(await main(['sweep', 'status', sweep, '--queue', redis.url, '--json'], io)).toBe(0);
  return JSON.parse(io.stdout()) as SweepStatus;
}

async function until<T>(what: string, ms: number, f: () => Promise<T | null> | T | null, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('altar sweep on Redis', () => {
  it('an unreachable Redis is a clear error, fast, exit 1', async () => {
    const cfg = tinyConfig(dir, {}, 'unreach.json');
    const sweep = join(dir, 'unreach.yaml');
    writeFileSync(sweep, `base: ${cfg}\n`);
    const url = `redis://127.0.0.1:${await freePort()}`;
    for (const argv of [
      ['sweep', sweep, '--queue', url, '--out', root],
      ['sweep', 'status', sweep, '--queue', url],
      ['worker', '--queue', url],
    ]) {
      const io = captureIO();
      const t0 = Date.now();
      expect(await main(argv, io)).toBe(1);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(io.stderr()).toMatch(new RegExp(`cannot reach Redis at ${url.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)`));
    }
  });

  it('4 points on 2 workers, one SIGKILLed mid-job: all finish, the killed one resumes from its checkpoint; NaN fails after its attempts; SIGTERM hands the job over', async () => {
    const t0 = Date.now();
    const steps = 120;
    tinyConfig(
      dir,
      {
        train: { steps, lr: 0.01, warmupSteps: 2, emaDecay: 0.9, evalEvery: 0, seed: 1 },
        checkpoint: { every: 10, keepLast: 2 },
      },
      'e2e-base.json',
    );
    const sweep = join(dir, 'e2e.yaml');
    writeFileSync(sweep, 'base: e2e-base.json\ngrid:\n  model.dModel: [8, 16]\nseeds: [0, 1]\n');
    const io = captureIO();
    expect(await main(['sweep', sweep, '--queue', redis.url, '--out', root], io)).toBe(0);
    expect(io.stdout().match(/^enqueued /gm)).toHaveLength(4);
    const queued = await status(sweep);
    expect(queued.counts).toEqual({ queued: 4, running: 0, done: 0, failed: 0 });

    const w = [startWorker('w1'), startWorker('w2')];
    // Wait for a point to pass its second checkpoint while still training, with its progress on the queue
    // (running, in training, a step and an ETA), then SIGKILL its worker (only the worker: its train child must
    // notice and die on its own).
    const victim = await until('a point mid-training past its step-20 checkpoint', 60_000, async () => {
      if (!existsSync(root)) return null;
      for (const d of readdirSync(root)) {
        const p = join(root, d);
        const starts = readStarts(p);
        const ck = latestCheckpointStep(join(p, 'run'));
        if (starts.length === 1 && ck >= 20 && ck < steps - 20 && !existsSync(join(p, 'result.json'))) {
          const id = (JSON.parse(readFileSync(join(p, 'point.json'), 'utf8')) as { pointId: string }).pointId;
          const job = (await status(sweep)).jobs.find((j) => j.id === id)!;
          if (job.state !== 'running' || job.phase !== 'train' || !(job.step! >= 1) || !(job.etaSec! >= 0)) return null;
          return { dir: p, start: starts[0]!, ck, progress: job };
        }
      }
      return null;
    });
    expect(victim.progress.total).toBe(steps);
    const killed = w.find((x) => x.name === victim.start.worker)!;
    const survivor = w.find((x) => x !== killed)!;
    const tKill = Date.now();
    killed.child.kill('SIGKILL');
    await killed.exited;
    const orphan = victim.start.childPid!;
    await until('the orphaned train child to exit', 5000, () => (alive(orphan) ? null : true));

    const done = await until(
      'every point done',
      150_000,
      async () => {
        const s = await status(sweep);
        return s.counts.done + s.counts.failed === 4 ? s : null;
      },
      1000,
    );
    const tDone = Date.now();
    expect(Object.keys(done)).toEqual(['counts', 'jobs']);
    expect(done.counts).toEqual({ queued: 0, running: 0, done: 4, failed: 0 });

    // The killed point: started twice, the second time by the survivor, resuming from a checkpoint ≥ the one seen.
    const starts = readStarts(victim.dir);
    expect(starts).toHaveLength(2);
    expect(starts[1]!.worker).toBe(survivor.name);
    expect(starts[1]!.resumeFromStep).toBeGreaterThanOrEqual(victim.ck);
    // Its metrics: each step once, 1..steps, and the clock restarts (a new process) right after the resumed
    // checkpoint, not at step 1.
    const train = readFileSync(join(victim.dir, 'run', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; step: number; elapsedSec: number })
      .filter((r) => r.kind === 'train');
    expect(train.map((r) => r.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    const restarts = train.flatMap((r, i) => (i > 0 && r.elapsedSec < train[i - 1]!.elapsedSec ? [r.step] : []));
    expect(restarts).toEqual([starts[1]!.resumeFromStep + 1]);
    expect(survivor.log()).toMatch(
      new RegExp(`job \\w+ \\(.*\\) done: [\\d.]+ bits/token, resumed from step ${starts[1]!.resumeFromStep}`),
    );
    // The other points ran once each.
    const others = readdirSync(root).filter((d) => join(root, d) !== victim.dir);
    expect(others.map((d) => readStarts(join(root, d)).length)).toEqual([1, 1, 1]);

    // Report: 4 rows with finite bits, the killed point's two starts, plots on disk.
    const rio = captureIO();
    const out = join(dir, 'report');
    expect(await main(['sweep', 'report', sweep, '--queue', redis.url, '--out', out], rio)).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      rows: { state: string; bitsPerToken: number; starts: number; resumedFrom: number[]; nfe: number }[];
      plots: string[];
    };
    expect(rep.rows).toHaveLength(4);
    for (const r of rep.rows) {
      expect(r.state).toBe('done');
      expect(r.bitsPerToken).toBeGreaterThan(0.5);
      expect(r.bitsPerToken).toBeLessThan(Math.log2(6) + 0.5);
      expect(r.nfe).toBe(8); // AR samples 8 tokens in 8 network calls
    }
    expect(rep.rows.map((r) => r.starts).sort()).toEqual([1, 1, 1, 2]);
    expect(readFileSync(join(out, 'report.md'), 'utf8').match(/^\| model\.dModel=/gm)).toHaveLength(4);
    expect(rep.plots.sort()).toEqual(['bits-vs-model.dModel.svg', 'bits-vs-sampling-cost.svg']);
    for (const p of rep.plots) expect(readFileSync(join(out, p), 'utf8')).toMatch(/^<svg /);

    // Idempotent: enqueueing again runs nothing.
    const again = captureIO();
    expect(await main(['sweep', sweep, '--queue', redis.url, '--out', root], again)).toBe(0);
    expect(again.stdout().match(/^done /gm)).toHaveLength(4);

    // A point that fails deterministically (NaN) is failed after its 2 attempts; the rest of the sweep goes on.
    const bad = join(dir, 'nan.json');
    writeFileSync(
      bad,
      JSON.stringify({ base: 'e2e-base.json', set: { 'train.steps': 12 }, grid: { 'train.lr': [0.01, 1e38] } }),
    );
    expect(await main(['sweep', bad, '--queue', redis.url, '--out', root, '--backoff', '100'], captureIO())).toBe(0);
    const nan = await until(
      'the NaN sweep to settle',
      90_000,
      async () => {
        const s = await status(bad);
        return s.counts.done + s.counts.failed === 2 ? s : null;
      },
      1000,
    );
    expect(nan.counts).toEqual({ queued: 0, running: 0, done: 1, failed: 1 });
    const failed = nan.jobs.find((j) => j.state === 'failed')!;
    expect(failed.label).toBe('train.lr=1e+38');
    expect(failed.attemptsMade).toBe(2);
    expect(failed.failedReason).toMatch(/altar train exited with code 1: .*loss is NaN/s);

    // SIGTERM (a pod deleted, a node drained): the worker interrupts its training child, which saves a checkpoint
    // (there are no periodic ones here), and exits 143 without failing the job; the other worker resumes it.
    const tTerm0 = Date.now();
    const third = startWorker('w3');
    const term = join(dir, 'term.json');
    writeFileSync(
      term,
      JSON.stringify({ base: 'e2e-base.json', set: { 'train.steps': 400, 'checkpoint.every': 0, 'model.dModel': 12 } }),
    );
    expect(await main(['sweep', term, '--queue', redis.url, '--out', root], captureIO())).toBe(0);
    const termDir = join(root, loadSweep(term).points[0]!.dirName);
    const first = await until('the SIGTERM point to train past step 20', 60_000, async () => {
      const j = (await status(term)).jobs[0]!;
      const st = readStarts(termDir);
      return j.state === 'running' && j.phase === 'train' && j.step! >= 20 && st.length === 1 ? st[0]! : null;
    });
    const termed = [survivor, third].find((x) => x.name === first.worker)!;
    const other = termed === survivor ? third : survivor;
    termed.child.kill('SIGTERM');
    expect(await termed.exited).toBe(143);
    expect(termed.log()).toMatch(/SIGTERM: interrupting 1 child process/);
    const saved = latestCheckpointStep(join(termDir, 'run'));
    expect(saved).toBeGreaterThanOrEqual(20);
    expect(saved).toBeLessThan(400);
    const termDone = await until(
      'the SIGTERMed point to finish elsewhere',
      90_000,
      async () => {
        const j = (await status(term)).jobs[0]!;
        return j.state === 'done' || j.state === 'failed' ? j : null;
      },
      500,
    );
    expect(termDone.state).toBe('done');
    // One attempt ended (the one that completed): the interrupted delivery was not counted as a failure.
    expect(termDone.attemptsMade).toBe(1);
    const termStarts = readStarts(termDir);
    expect(termStarts.map((x) => [x.worker, x.resumeFromStep])).toEqual([
      [termed.name, 0],
      [other.name, saved],
    ]);
    const tTerm1 = Date.now();

    other.child.kill('SIGTERM');
    expect(await other.exited).toBe(143);
    process.stderr.write(
      `sweep e2e: kill after ${((tKill - t0) / 1000).toFixed(1)} s (checkpoint step ${victim.ck}, point ${victim.start.worker}:${victim.dir.split('/').pop()}), ` +
        `4 points done after ${((tDone - t0) / 1000).toFixed(1)} s, resumed from step ${starts[1]!.resumeFromStep}; ` +
        `SIGTERM stage ${((tTerm1 - tTerm0) / 1000).toFixed(1)} s (resumed from step ${saved}); whole test ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }, 300_000);
});
