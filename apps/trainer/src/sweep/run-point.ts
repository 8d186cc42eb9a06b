/**
 * What a sweep worker does with one job: train the point (resuming from its last checkpoint when an earlier
 * delivery left one), evaluate it, measure its sampling cost, and write `result.json` (the finished marker).
 * Each stage is an `altar` child process; progress comes from the child's metrics.jsonl.
 * A point's directory (ROOT/<grid values>_<id>) holds point.json, sweep-config.json, attempts.jsonl (one line per
 * start, so a report can tell which points were retried and from which step), result.json, and run/: the
 * `altar train` directory (metrics.jsonl, checkpoints), which eval and sample read.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { runCli, type ChildResult } from './child.js';
import type { SweepJobData, SweepProgress } from './queue.js';

/**
 * One start of a point, as logged in the run directory's `attempts.jsonl`.
 *
 * @example
 * ```ts
 * const a: PointStart = { start: 2, worker: 'node-1:4242', childPid: 4250, resumeFromStep: 20, at: '2026-01-01T00:00:00Z' };
 * ```
 */
export interface PointStart {
  /** 1 for the first start of this point, 2 for the first retry or re-delivery, … */
  start: number;
  worker: string;
  childPid: number | null;
  /** The checkpoint step training resumed from (0: from scratch). */
  resumeFromStep: number;
  at: string;
}

/**
 * A finished point: `result.json` in its run directory and the job's return value.
 *
 * @example
 * ```ts
 * const r: PointResult = JSON.parse(readFileSync('runs/sweep/dModel-32_seed-0_ab12cd34/result.json', 'utf8'));
 * r.bitsPerToken; // ≥ the source's entropy rate
 * ```
 */
export interface PointResult {
  pointId: string;
  label: string;
  assignments: Record<string, unknown>;
  seed: number | null;
  family: string;
  /** The point's directory; the training run is `runDir/run`. */
  runDir: string;
  step: number;
  /** 'token' or 'dim' (Gaussian): the unit of every bits value. */
  unit: string;
  boundKind: string;
  bitsPerToken: number;
  stdErr: number;
  /** Text sources: the same bound per character of text (null for other sources). */
  bitsPerChar: number | null;
  bitsPerCharStdErr: number | null;
  sourceEntropyBitsPerToken: number | null;
  /** Discrete-time NELBO at several T (masked diffusion); empty for other families. */
  boundVsT: { T: number; bitsPerToken: number; stdErr: number }[];
  sampling: {
    sampler: string;
    steps: number;
    nfe: number;
    weightBytesLoaded: number;
    wallMs: number;
    tokensPerSec: number;
    samplesNllBitsPerToken: number;
  };
  /** Training wall seconds of the last start (the one that finished). */
  trainSeconds: number;
  starts: PointStart[];
}

/**
 * Options of {@link runPoint}.
 *
 * @example
 * ```ts
 * const o: RunPointOptions = { backend: 'wasm', evalT: [2, 8, 32], worker: 'gpu-0', onProgress: (p) => job.updateProgress(p) };
 * ```
 */
export interface RunPointOptions {
  /** Backend for the children (default: the config's). */
  backend?: string;
  /** T values for the masked-diffusion NELBO-vs-T evaluation. */
  evalT: number[];
  /** This worker's name in attempts.jsonl. */
  worker?: string;
  onProgress?: (p: SweepProgress) => void | Promise<void>;
  /** Every child started (the worker interrupts them on shutdown). */
  onSpawn?: (child: ChildProcess) => void;
  onStderr?: (text: string) => void;
  /** Polling period of metrics.jsonl for progress, ms. */
  pollMs?: number;
}

/**
 * Follows the metrics.jsonl a training child appends to: the last training record past `after` (the step the
 * child resumed from). Starts at the file's current end; when the child cuts the file back on resume (it drops
 * what a killed run wrote past its checkpoint), reads it again from the start. Torn lines are skipped.
 */
class MetricsTail {
  private offset: number;
  private rest = '';
  last: { step: number; elapsedSec: number } | null = null;
  constructor(
    private readonly file: string,
    private readonly after: number,
  ) {
    this.offset = existsSync(file) ? statSync(file).size : 0;
  }
  poll(): void {
    if (!existsSync(this.file)) return;
    if (statSync(this.file).size < this.offset) [this.offset, this.rest] = [0, ''];
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const lines = (this.rest + buf.subarray(0, n).toString()).split('\n');
        this.rest = lines.pop() ?? '';
        for (const line of lines) {
          try {
            const r = JSON.parse(line) as { kind?: string; step?: number; elapsedSec?: number };
            if (r.kind === 'train' && typeof r.step === 'number' && r.step > this.after)
              this.last = { step: r.step, elapsedSec: typeof r.elapsedSec === 'number' ? r.elapsedSec : NaN };
          } catch {
            // a line torn by a killed writer
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * The step of the run directory's latest checkpoint (`latest.json`), or 0 when it has none.
 *
 * @example
 * ```ts
 * latestCheckpointStep('runs/sweep/dModel-32_seed-0_ab12cd34'); // 20
 * ```
 */
export function latestCheckpointStep(runDir: string): number {
  try {
    const j = JSON.parse(readFileSync(join(runDir, 'latest.json'), 'utf8')) as { step?: unknown };
    return typeof j.step === 'number' ? j.step : 0;
  } catch {
    return 0;
  }
}

/**
 * The starts logged in a run directory's attempts.jsonl (torn lines skipped).
 *
 * @example
 * ```ts
 * readStarts('runs/sweep/dModel-32_seed-0_ab12cd34').length; // 2 after one retry
 * ```
 */
export function readStarts(runDir: string): PointStart[] {
  const f = join(runDir, 'attempts.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return l.trim() ? [JSON.parse(l) as PointStart] : [];
      } catch {
        return [];
      }
    });
}

function lastJsonLine(r: ChildResult, what: string): Record<string, unknown> {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: no JSON summary on stdout (got '${line.slice(0, 200)}')`);
  }
}

function checkExit(r: ChildResult, what: string): void {
  if (r.code === 0) return;
  const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
  throw new Error(`${what} ${how}: ${r.stderrTail.split('\n').slice(-8).join('\n')}`);
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(file + '.tmp', text);
  renameSync(file + '.tmp', file);
}

/**
 * Run one sweep point end to end in `data.runDir`; returns (and writes to result.json) its results. A run
 * directory that already has result.json is returned as is (a re-delivered job that had finished).
 *
 * @example
 * ```ts
 * const result = await runPoint(job.data, { evalT: [2, 8, 32], onProgress: (p) => job.updateProgress(p) });
 * ```
 */
export async function runPoint(data: SweepJobData, o: RunPointOptions): Promise<PointResult> {
  const dir = data.runDir;
  const run = join(dir, 'run');
  const resultFile = join(dir, 'result.json');
  if (existsSync(resultFile)) return JSON.parse(readFileSync(resultFile, 'utf8')) as PointResult;
  mkdirSync(dir, { recursive: true });
  const cfgFile = join(dir, 'sweep-config.json');
  writeAtomic(cfgFile, JSON.stringify(data.config, null, 2) + '\n');
  writeAtomic(
    join(dir, 'point.json'),
    JSON.stringify(
      { sweep: data.sweep, pointId: data.pointId, label: data.label, assignments: data.assignments, seed: data.seed },
      null,
      2,
    ) + '\n',
  );
  const backend = o.backend !== undefined ? ['--backend', o.backend] : [];
  const common = { ...(o.onStderr ? { onStderr: o.onStderr } : {}) };
  const resumeFromStep = latestCheckpointStep(run);
  // No checkpoint yet but a started run (killed before its first checkpoint): start it over.
  const fresh =
    resumeFromStep > 0 ? ['--resume', run] : existsSync(run) && readdirSync(run).length ? ['--overwrite'] : [];
  const start: PointStart = {
    start: readStarts(dir).length + 1,
    worker: o.worker ?? `${hostname()}:${process.pid}`,
    childPid: null,
    resumeFromStep,
    at: new Date().toISOString(),
  };
  const total = data.config.train.steps;
  const tail = new MetricsTail(join(run, 'metrics.jsonl'), resumeFromStep);
  const report = async (): Promise<void> => {
    tail.poll();
    const l = tail.last;
    // The child's own clock: seconds since it started training, over the steps it has done since.
    const perStep = l ? l.elapsedSec / (l.step - resumeFromStep) : NaN;
    const etaSec = l && Number.isFinite(perStep) ? Math.round((total - l.step) * perStep) : null;
    await o.onProgress?.({ phase: 'train', step: l?.step ?? resumeFromStep, total, etaSec });
  };
  const timer = setInterval(() => void report().catch(() => {}), o.pollMs ?? 1000);
  let train: ChildResult;
  try {
    train = await runCli(['train', cfgFile, '--out', run, ...backend, ...fresh], {
      ...common,
      onSpawn: (c) => {
        start.childPid = c.pid ?? null;
        appendFileSync(join(dir, 'attempts.jsonl'), JSON.stringify(start) + '\n');
        o.onSpawn?.(c);
      },
    });
  } finally {
    clearInterval(timer);
  }
  checkExit(train, 'altar train');
  const trainSummary = lastJsonLine(train, 'altar train');

  await o.onProgress?.({ phase: 'eval', step: total, total, etaSec: null });
  const ev = data.config.eval;
  const Ts = data.config.family === 'masked-diffusion' && o.evalT.length ? ['--T', o.evalT.join(',')] : [];
  const evalArgs = ['eval', run, '--json', '--batches', String(ev.batches), '--batch-size', String(ev.batchSize)];
  const evr = await runCli([...evalArgs, ...Ts, ...backend], {
    ...common,
    ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
  });
  checkExit(evr, 'altar eval');
  const e = lastJsonLine(evr, 'altar eval');

  await o.onProgress?.({ phase: 'sample', step: total, total, etaSec: null });
  const n = String(Math.max(1, ev.samples));
  const sr = await runCli(['sample', run, '--json', '--n', n, ...backend], {
    ...common,
    ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
  });
  checkExit(sr, 'altar sample');
  const s = lastJsonLine(sr, 'altar sample');

  const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
  const result: PointResult = {
    pointId: data.pointId,
    label: data.label,
    assignments: data.assignments,
    seed: data.seed,
    family: data.config.family,
    runDir: dir,
    step: num(e['step']),
    unit: String(e['unit'] ?? 'token'),
    boundKind: String(e['boundKind']),
    bitsPerToken: num(e['bitsPerToken']),
    stdErr: num(e['stdErr']),
    bitsPerChar: typeof e['bitsPerChar'] === 'number' ? e['bitsPerChar'] : null,
    bitsPerCharStdErr: typeof e['bitsPerCharStdErr'] === 'number' ? e['bitsPerCharStdErr'] : null,
    sourceEntropyBitsPerToken:
      typeof e['sourceEntropyBitsPerToken'] === 'number' ? e['sourceEntropyBitsPerToken'] : null,
    boundVsT: Array.isArray(e['boundVsT']) ? (e['boundVsT'] as PointResult['boundVsT']) : [],
    sampling: {
      sampler: String(s['sampler']),
      steps: num(s['steps']),
      nfe: num(s['nfe']),
      weightBytesLoaded: num(s['weightBytesLoaded']),
      wallMs: num(s['wallMs']),
      tokensPerSec: num(s['tokensPerSec']),
      samplesNllBitsPerToken: num(s['samplesNllBitsPerToken']),
    },
    trainSeconds: num(trainSummary['trainSeconds']),
    starts: readStarts(dir),
  };
  writeAtomic(resultFile, JSON.stringify(result, null, 2) + '\n');
  return result;
}
