import { hostname } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { Worker, type Job } from 'bullmq';
import { BACKEND_CHOICES } from '@altar/backend';
import { choiceFlag, intFlag, intListFlag, parseFlags } from '../args.js';
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
import { runPoint, type PointResult } from '../sweep/run-point.js';

/**
 * `altar worker`: take sweep jobs from the queue and run them (train with resume, eval, sampling cost).
 *
 * @example
 * ```ts
 * await workerCommand.run(['--queue', 'redis://127.0.0.1:6379', '--backend', 'wasm'], processIO);
 * ```
 */
export const workerCommand: Command = {
  name: 'worker',
  summary: 'run sweep jobs from a Redis queue (train with resume, eval, sampling cost); see altar sweep',
  help: `altar worker --queue redis://HOST:PORT [--backend auto|cuda|webgpu|wasm|cpu] [--concurrency 1] [--name NAME]
             [--eval-T 2,8,32,128] [--lock-duration MS] [--stalled-interval MS] [--max-stalled N] [--verbose]

Takes jobs that \`altar sweep\` queued, one per grid point, and for each runs in child processes:
  altar train (with --resume when the run directory has a checkpoint: a job re-delivered after its worker
  died continues from the last checkpoint), altar eval --json (masked diffusion: also the NELBO at each
  --eval-T), altar sample --json (sampling cost); then writes result.json into the run directory.
Run directories are under the sweep's output root, which must be the same path on every worker (a shared
filesystem in real deployments). Progress (step, ETA) is reported to the queue (see altar sweep status).
A worker that dies (SIGKILL, machine loss) stops renewing its job's lock; after --lock-duration another
worker's stalled-job check (every --stalled-interval) puts the job back in the queue (at most --max-stalled
times). SIGTERM/SIGINT: interrupt the children (they save a checkpoint) and exit; the job goes to another worker.

Options:
  --queue URL             Redis, redis://[user:pass@]HOST[:PORT][/DB] (required)
  --backend NAME          backend for the jobs (default: each config's own)
  --concurrency N         jobs at once [1]: one per GPU; on CPU, tfjs already uses the cores
  --name NAME             this worker's name in attempts.jsonl [host:pid]
  --eval-T LIST           T values of the NELBO-vs-T evaluation for masked diffusion [2,8,32,128]
  --lock-duration MS      job lock, renewed every MS/2 while the job runs [30000]
  --stalled-interval MS   how often this worker looks for jobs whose lock expired [15000]
  --max-stalled N         re-deliveries of a stalled job before it fails [2]
  --verbose               forward the children's progress output to stderr

Exit codes: 1 Redis unreachable, 2 usage error, 143/130 after SIGTERM/SIGINT.

Examples:
  altar worker --queue redis://10.0.0.5:6379 --backend webgpu
  altar worker --queue redis://localhost:6379 --concurrency 2 --verbose`,
  async run(argv, io) {
    try {
      return await runWorker(argv, io);
    } catch (e) {
      if (e instanceof QueueUnreachableError) {
        io.err(`altar worker: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};

async function runWorker(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      queue: { type: 'string' },
      backend: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      'eval-T': { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      'max-stalled': { type: 'string' },
      verbose: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const target = parseRedisUrl(values.queue);
  const backend =
    values.backend === undefined ? undefined : choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto');
  const concurrency = intFlag('concurrency', values.concurrency, 1, 1);
  const lockDuration = intFlag('lock-duration', values['lock-duration'], 30_000, 1000);
  const stalledInterval = intFlag('stalled-interval', values['stalled-interval'], 15_000, 500);
  const maxStalledCount = intFlag('max-stalled', values['max-stalled'], 2, 0);
  const evalT = intListFlag('eval-T', values['eval-T'], [2, 8, 32, 128]);
  const name = values.name ?? `${hostname()}:${process.pid}`;
  await probeRedis(target);

  const children = new Set<ChildProcess>();
  let stopping = false;
  const log = (m: string) => io.err(`altar worker ${name}: ${m}\n`);
  const processor = async (job: Job<SweepJobData, PointResult>): Promise<PointResult> => {
    const d = job.data;
    log(
      `job ${job.id} (${d.label}) started, delivery ${job.attemptsStarted}, attempt ${job.attemptsMade + 1} → ${d.runDir}`,
    );
    try {
      const r = await runPoint(d, {
        evalT,
        worker: name,
        ...(backend !== undefined ? { backend } : {}),
        onProgress: (p) => job.updateProgress(p),
        onSpawn: (c) => {
          children.add(c);
          c.on('close', () => children.delete(c));
        },
        ...(values.verbose ? { onStderr: (t: string) => io.err(t) } : {}),
      });
      const resumed = r.starts.at(-1)?.resumeFromStep ?? 0;
      log(
        `job ${job.id} (${d.label}) done: ${r.bitsPerToken.toFixed(4)} bits/${r.unit}` +
          (resumed > 0 ? `, resumed from step ${resumed}` : ''),
      );
      return r;
    } catch (e) {
      // Shutting down: the children were interrupted on purpose. Never settle, so the job is not marked failed;
      // its lock lapses and another worker resumes it from the checkpoint the children just saved.
      if (stopping) await new Promise<never>(() => {});
      throw e;
    }
  };
  const worker = new Worker<SweepJobData, PointResult>(SWEEP_QUEUE, processor, {
    connection: redisConnection(target),
    concurrency,
    lockDuration,
    stalledInterval,
    maxStalledCount,
  });
  worker.on('failed', (job, err) => {
    if (job) log(`job ${job.id} (${job.data.label}) attempt ${job.attemptsMade} failed: ${err.message.split('\n')[0]}`);
  });
  worker.on('stalled', (id) => log(`job ${id} stalled (its worker stopped renewing the lock); back in the queue`));
  worker.on('error', (e) => log(`queue error: ${e.message}`));
  await worker.waitUntilReady();
  log(
    `waiting for jobs on ${target.url} (queue '${SWEEP_QUEUE}', concurrency ${concurrency}, backend ${backend ?? 'per config'})`,
  );

  return new Promise<number>((resolveExit) => {
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: interrupting ${children.size} child process(es) (they save a checkpoint), then exiting`);
      for (const c of children) c.kill('SIGINT');
      const finish = () => {
        if (children.size > 0) return void setTimeout(finish, 100);
        void worker.close(true).finally(() => resolveExit(sig === 'SIGTERM' ? 143 : 130));
      };
      finish();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
