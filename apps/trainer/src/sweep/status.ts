/**
 * The state of a sweep's points in the queue: each point's job looked up by its id (the config hash), its
 * BullMQ state folded into queued / running / done / failed, with the worker's last progress report.
 */
import type { Queue } from 'bullmq';
import { formatDuration } from '../run/progress.js';
import type { PointResult } from './run-point.js';
import type { Sweep } from './spec.js';
import type { SweepProgress } from './queue.js';

/**
 * A point's state in the queue. `missing`: no job with its id (never enqueued, or removed from Redis).
 *
 * @example
 * ```ts
 * const s: PointState = 'running';
 * ```
 */
export type PointState = 'queued' | 'running' | 'done' | 'failed' | 'missing';

/**
 * One row of `altar sweep status --json`'s `jobs`.
 *
 * @example
 * ```ts
 * const j: JobStatus = { id: 'ab12cd34ef56ab78', label: 'model.dModel=32 seed=0', state: 'running', step: 120, total: 600, etaSec: 48, phase: 'train', attemptsMade: 0, deliveries: 1, failedReason: null, result: null };
 * ```
 */
export interface JobStatus {
  id: string;
  label: string;
  state: PointState;
  step: number | null;
  total: number;
  etaSec: number | null;
  /** What a running job is doing: 'train', 'eval' or 'sample' (null when not running). */
  phase: string | null;
  /** Attempts that ended, failed or completed (BullMQ attemptsMade); a stalled delivery is not one. */
  attemptsMade: number;
  /** Times a worker took the job (first run, retries after failures, re-deliveries after a stall). */
  deliveries: number;
  failedReason: string | null;
  /** The job's return value once done. */
  result: PointResult | null;
}

/**
 * `{"counts":{"queued","running","done","failed"},"jobs":[…]}`: the shape `altar sweep status --json` prints.
 *
 * @example
 * ```ts
 * const s: SweepStatus = await sweepStatus(queue, loadSweep('sweep.yaml'));
 * s.counts.done === s.jobs.length; // finished
 * ```
 */
export interface SweepStatus {
  counts: { queued: number; running: number; done: number; failed: number };
  jobs: JobStatus[];
}

function stateOf(s: string): PointState {
  if (s === 'active') return 'running';
  if (s === 'completed') return 'done';
  if (s === 'failed') return 'failed';
  if (s === 'unknown') return 'missing';
  return 'queued'; // waiting, delayed (a retry's backoff), prioritized, waiting-children, paused
}

/**
 * Look every point of the sweep up in the queue.
 *
 * @example
 * ```ts
 * const { counts } = await sweepStatus(new Queue(SWEEP_QUEUE, { connection }), loadSweep('sweep.yaml'));
 * ```
 */
export async function sweepStatus(queue: Queue, sweep: Sweep): Promise<SweepStatus> {
  const counts = { queued: 0, running: 0, done: 0, failed: 0 };
  const jobs: JobStatus[] = [];
  for (const p of sweep.points) {
    const job = await queue.getJob(p.id);
    const state = job ? stateOf(await job.getState()) : 'missing';
    if (state !== 'missing') counts[state] += 1;
    const prog = job && typeof job.progress === 'object' ? (job.progress as Partial<SweepProgress>) : null;
    const result = state === 'done' ? ((job?.returnvalue as PointResult | undefined) ?? null) : null;
    jobs.push({
      id: p.id,
      label: p.label,
      state,
      step: state === 'done' ? p.config.train.steps : typeof prog?.step === 'number' ? prog.step : null,
      total: p.config.train.steps,
      etaSec: state === 'running' && typeof prog?.etaSec === 'number' ? prog.etaSec : null,
      phase: state === 'running' ? (prog?.phase ?? 'train') : null,
      attemptsMade: job?.attemptsMade ?? 0,
      deliveries: job?.attemptsStarted ?? 0,
      failedReason: state === 'failed' ? (job?.failedReason ?? null) : null,
      result,
    });
  }
  return { counts, jobs };
}

/**
 * The status as a text table (the live view of `altar sweep status`).
 *
 * @example
 * ```ts
 * io.out(formatStatus(await sweepStatus(queue, sweep)));
 * ```
 */
export function formatStatus(s: SweepStatus): string {
  const c = s.counts;
  const head =
    `queued ${c.queued}  running ${c.running}  done ${c.done}  failed ${c.failed}` +
    (s.jobs.some((j) => j.state === 'missing')
      ? `  not enqueued ${s.jobs.filter((j) => j.state === 'missing').length}`
      : '');
  const rows = s.jobs.map((j) => {
    const step = j.step === null ? '-' : `${j.step}/${j.total}`;
    const eta =
      j.state !== 'running' ? '' : j.phase === 'train' ? `ETA ${formatDuration(j.etaSec ?? NaN)}` : `${j.phase}`;
    const detail =
      j.state === 'done' && j.result
        ? `${j.result.bitsPerToken.toFixed(4)} bits/${j.result.unit}`
        : j.state === 'failed'
          ? (j.failedReason ?? '').split('\n')[0]!.slice(0, 80)
          : eta;
    const tries = j.deliveries > 1 ? `x${j.deliveries}` : '';
    return [j.state.padEnd(8), j.id, step.padStart(11), tries.padEnd(3), j.label.padEnd(36), detail].join('  ');
  });
  return [head, ...rows, ''].join('\n');
}
