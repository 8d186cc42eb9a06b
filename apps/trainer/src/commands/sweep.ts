import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, type CommandIO } from '../io.js';
import {
  parseRedisUrl,
  probeRedis,
  QueueUnreachableError,
  redisConnection,
  SWEEP_QUEUE,
  type SweepJobData,
} from '../sweep/queue.js';
import { ensureDir, refuseSpecialFs } from '../run/run-dir.js';
import { buildReport } from '../sweep/report.js';
import { loadSweep, type Sweep } from '../sweep/spec.js';
import { formatStatus, sweepStatus } from '../sweep/status.js';

/**
 * `altar sweep`: enqueue a sweep's grid points on a Redis queue (BullMQ); `status` and `report` read it back.
 *
 * @example
 * ```ts
 * await sweepCommand.run(['sweeps/ar-size.yaml', '--queue', 'redis://127.0.0.1:6379', '--out', '/shared/runs'], processIO);
 * ```
 */
export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'queue a grid of runs on Redis for altar worker; sweep status / sweep report read it back',
  help: `altar sweep SWEEP.yaml --queue redis://HOST:PORT --out ROOT [--attempts 2] [--backoff MS]
altar sweep status SWEEP.yaml --queue URL [--json] [--watch]
altar sweep report SWEEP.yaml --queue URL --out DIR

A sweep file (YAML or JSON) has four keys:
  base:  ../configs/ar-transformer.json   a run config (path relative to the sweep file)
  set:   { train.steps: 300 }             dotted overrides for every point
  grid:  { model.dModel: [32, 64] }       dotted key → values; points are the cartesian product
  seeds: [0, 1]                           every point once per seed (train.seed)
Each point's config is validated like altar train's (errors name the key path). A point's job id is a hash
of its config, so running altar sweep again is idempotent: queued, running and finished points are left
alone (a point whose run directory has result.json counts as finished), failed points are retried.
Each run directory is ROOT/<grid values>_<id>; ROOT must be the same path on every worker (shared storage).
Workers (altar worker) train, evaluate and measure sampling cost; see altar worker --help.

status: one line per point: queued, running (step/total and ETA), done (bits), failed (error); --watch
        redraws every 2 s until nothing is queued or running. --json prints
        {"counts":{"queued","running","done","failed"},"jobs":[{id,label,state,step,total,etaSec,...}]}.
report: DIR/report.md and DIR/report.json (bits per token or dimension ± s.e., bits per character for text,
        gap to the source entropy,
        NELBO vs T, sampler, NFE, weight bytes, sampling time, train time, starts and resume steps) and
        SVG plots: bits vs each numeric grid key, bits vs sampling cost, NELBO vs T.

Options:
  --queue URL     Redis, redis://[user:pass@]HOST[:PORT][/DB] (required)
  --out DIR       sweep: the output root of the run directories; report: where the report goes
  --attempts N    tries per point before it is marked failed [2]
  --backoff MS    wait before retrying a failed attempt [2000]

Exit codes: 0 ok, 1 Redis unreachable, 2 usage error or invalid sweep (the message names the key path).

Examples:
  altar sweep sweeps/ar-size.yaml --queue redis://10.0.0.5:6379 --out /shared/runs/ar-size
  altar sweep status sweeps/ar-size.yaml --queue redis://10.0.0.5:6379 --watch
  altar sweep report sweeps/ar-size.yaml --queue redis://10.0.0.5:6379 --out reports/ar-size`,
  async run(argv, io) {
    const sub = argv[0] === 'status' || argv[0] === 'report' ? argv[0] : null;
    try {
      if (sub === 'status') return await runStatus(argv.slice(1), io);
      if (sub === 'report') return await runReport(argv.slice(1), io);
      return await runEnqueue(argv, io);
    } catch (e) {
      if (e instanceof QueueUnreachableError) {
        io.err(`altar sweep${sub ? ' ' + sub : ''}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};

function oneSweep(positionals: string[]): Sweep {
  if (positionals.length !== 1)
    throw new UsageError(`expected one sweep file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  return loadSweep(positionals[0]!);
}

async function withQueue<T>(url: string | undefined, fn: (q: Queue) => Promise<T>): Promise<T> {
  const target = parseRedisUrl(url);
  await probeRedis(target);
  const queue = new Queue(SWEEP_QUEUE, { connection: redisConnection(target) });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

async function runEnqueue(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { queue: { type: 'string' }, out: { type: 'string' }, attempts: { type: 'string' }, backoff: { type: 'string' } },
    true,
  );
  const target = parseRedisUrl(values.queue);
  if (!values.out) throw new UsageError('--out ROOT is required (the output root of the run directories)');
  const attempts = intFlag('attempts', values.attempts, 2, 1);
  const backoff = intFlag('backoff', values.backoff, 2000, 0);
  const sweep = oneSweep(positionals);
  const root = resolve(values.out);
  const tally = { enqueued: 0, queued: 0, done: 0, retried: 0 };
  await withQueue(values.queue, async (queue) => {
    for (const p of sweep.points) {
      const runDir = join(root, p.dirName);
      let action: keyof typeof tally;
      const job = await queue.getJob(p.id);
      const state = job ? await job.getState() : null;
      if (state === 'completed' || existsSync(join(runDir, 'result.json'))) action = 'done';
      else if (job && state === 'failed') {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        action = 'retried';
      } else if (job && state !== 'unknown') action = 'queued';
      else {
        const data: SweepJobData = {
          sweep: sweep.name,
          pointId: p.id,
          label: p.label,
          assignments: p.assignments,
          seed: p.seed,
          config: p.config,
          runDir,
        };
        await queue.add('point', data, {
          jobId: p.id,
          attempts,
          backoff: { type: 'fixed', delay: backoff },
          removeOnComplete: false,
          removeOnFail: false,
        });
        action = 'enqueued';
      }
      tally[action] += 1;
      io.out(`${action.padEnd(8)}  ${p.id}  ${p.label}\n`);
    }
  });
  io.err(
    `altar sweep: ${sweep.name}: ${sweep.points.length} points → ${root} on ${target.url}: ` +
      `${tally.enqueued} enqueued, ${tally.queued} already queued or running, ${tally.done} already done, ${tally.retried} failed ones retried\n`,
  );
  return 0;
}

async function runStatus(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    { queue: { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'boolean' } },
    true,
  );
  const sweep = oneSweep(positionals);
  if (values.json && values.watch) throw new UsageError('--json and --watch: pick one');
  return withQueue(values.queue, async (queue) => {
    for (;;) {
      const s = await sweepStatus(queue, sweep);
      if (values.json) {
        io.out(JSON.stringify(s) + '\n');
        return 0;
      }
      const text = `${sweep.name} (${new Date().toISOString().slice(11, 19)})  ${formatStatus(s)}`;
      io.out(values.watch && io.isTTY ? `\x1b[H\x1b[2J${text}` : text);
      if (!values.watch || s.counts.queued + s.counts.running === 0 || io.signal?.aborted) return 0;
      await new Promise((r) => setTimeout(r, 2000));
    }
  });
}

async function runReport(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, { queue: { type: 'string' }, out: { type: 'string' } }, true);
  const sweep = oneSweep(positionals);
  if (!values.out) throw new UsageError('--out DIR is required (where report.md, report.json and the plots go)');
  const out = values.out;
  const report = await withQueue(values.queue, async (queue) => buildReport(sweep, await sweepStatus(queue, sweep)));
  refuseSpecialFs(out, '--out');
  ensureDir(out);
  writeFileSync(join(out, 'report.md'), report.markdown);
  const { markdown: _md, svgs, ...json } = report;
  writeFileSync(join(out, 'report.json'), JSON.stringify({ ...json, plots: Object.keys(svgs) }, null, 2) + '\n');
  for (const [name, svg] of Object.entries(svgs)) writeFileSync(join(out, name), svg);
  io.out(report.markdown);
  const done = report.rows.filter((r) => r.state === 'done').length;
  io.err(
    `altar sweep report: ${done}/${report.rows.length} points done → ${join(out, 'report.md')}, report.json, ${Object.keys(svgs).length} plots\n`,
  );
  return 0;
}
