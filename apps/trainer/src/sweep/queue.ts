/**
 * The sweep queue: where it lives (a `redis://HOST:PORT[/DB]` URL), a fast reachability probe (BullMQ's own
 * connections retry forever), and the shape of a job: one sweep point, self-contained so that a worker needs
 * no sweep file, only the shared output root.
 */
import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import type { RunConfig } from '@altar/recipes';
import { UsageError } from '../io.js';

/**
 * The BullMQ queue every sweep and worker uses (one Redis database can hold many sweeps: jobs are keyed by their
 * point's config hash).
 *
 * @example
 * ```ts
 * new Queue(SWEEP_QUEUE, { connection: redisConnection(parseRedisUrl('redis://127.0.0.1:6379')) });
 * ```
 */
export const SWEEP_QUEUE = 'altar-sweep';

/**
 * A parsed `--queue` URL.
 *
 * @example
 * ```ts
 * const t: RedisTarget = parseRedisUrl('redis://10.0.0.5:6379/2'); // { host: '10.0.0.5', port: 6379, db: 2, … }
 * ```
 */
export interface RedisTarget {
  /** The URL as given (shown in messages; the password, if any, is masked). */
  url: string;
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
}

/**
 * Parse `--queue redis://[user:pass@]HOST[:PORT][/DB]` (`rediss://` for TLS). Bad URLs are UsageErrors naming the flag.
 *
 * @example
 * ```ts
 * parseRedisUrl('redis://localhost').port; // 6379
 * ```
 */
export function parseRedisUrl(value: string | undefined): RedisTarget {
  if (value === undefined) throw new UsageError('--queue redis://HOST:PORT is required');
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--queue: expected a URL like redis://HOST:PORT, got '${value}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new UsageError(`--queue: expected a redis:// or rediss:// URL, got '${value}'`);
  if (u.hostname === '') throw new UsageError(`--queue: no host in '${value}'`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbPart = u.pathname.replace(/^\//, '');
  const db = dbPart === '' ? 0 : Number(dbPart);
  if (!Number.isInteger(db) || db < 0)
    throw new UsageError(`--queue: the database (after the '/') must be a non-negative integer, got '${dbPart}'`);
  const shownUrl = u.password ? value.replace(`:${u.password}@`, ':***@') : value;
  return {
    url: shownUrl,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    tls: u.protocol === 'rediss:',
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/**
 * BullMQ connection options for a target (`maxRetriesPerRequest: null`, as BullMQ workers require).
 *
 * @example
 * ```ts
 * new Worker(SWEEP_QUEUE, processor, { connection: redisConnection(target) });
 * ```
 */
export function redisConnection(t: RedisTarget): ConnectionOptions {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    maxRetriesPerRequest: null,
    ...(t.tls ? { tls: {} } : {}),
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
  };
}

/**
 * Redis could not be reached (refused, timed out, authentication failed): the commands print it and exit 1.
 *
 * @example
 * ```ts
 * try {
 *   await probeRedis(parseRedisUrl('redis://127.0.0.1:1'));
 * } catch (e) {
 *   if (e instanceof QueueUnreachableError) process.exitCode = 1;
 * }
 * ```
 */
export class QueueUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueUnreachableError';
  }
}

/**
 * Connect once, PING, disconnect; no retries, so an unreachable Redis fails in at most `timeoutMs`.
 *
 * @example
 * ```ts
 * await probeRedis(parseRedisUrl('redis://127.0.0.1:6379'), 2000);
 * ```
 */
export async function probeRedis(t: RedisTarget, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    host: t.host,
    port: t.port,
    db: t.db,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    ...(t.tls ? { tls: {} } : {}),
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
  });
  let cause: Error | null = null;
  client.on('error', (e: Error) => void (cause ??= e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const err = (cause ?? e) as NodeJS.ErrnoException;
    const why = err.code ?? err.message;
    throw new QueueUnreachableError(
      `cannot reach Redis at ${t.url} (${why}); start redis-server there or pass --queue redis://HOST:PORT`,
    );
  } finally {
    client.disconnect();
  }
}

/**
 * The data of one sweep job: everything a worker needs to run the point.
 *
 * @example
 * ```ts
 * const data: SweepJobData = { sweep: 'ar-size', pointId: p.id, label: p.label, assignments: p.assignments, seed: p.seed, config: p.config, runDir: '/shared/runs/ar-size/' + p.dirName };
 * ```
 */
export interface SweepJobData {
  sweep: string;
  pointId: string;
  label: string;
  assignments: Record<string, unknown>;
  seed: number | null;
  config: RunConfig;
  /** Absolute run directory under the sweep's output root (a shared filesystem path in real deployments). */
  runDir: string;
}

/**
 * What a worker reports while a job runs (`job.updateProgress`).
 *
 * @example
 * ```ts
 * const p: SweepProgress = { phase: 'train', step: 120, total: 600, etaSec: 48 };
 * ```
 */
export interface SweepProgress {
  phase: 'train' | 'eval' | 'sample';
  step: number;
  total: number;
  /** Seconds left in training at the rate seen so far; null before two steps have been seen. */
  etaSec: number | null;
}
