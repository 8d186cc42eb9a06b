/**
 * Run `altar <command> …` as a child process of a sweep worker (isolates tfjs state and crashes per job), with
 * the worker's own Node flags (so a worker started from sources spawns from sources) and the parent guard
 * preloaded. Keeps stdout whole and the tail of stderr for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * How a child exited, with its stdout and the last lines of its stderr.
 *
 * @example
 * ```ts
 * const r: ChildResult = await runCli(['eval', 'runs/a', '--json']);
 * if (r.code === 0) JSON.parse(r.stdout);
 * ```
 */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last 40 lines of stderr. */
  stderrTail: string;
}

/**
 * Options of {@link runCli}.
 *
 * @example
 * ```ts
 * const o: RunCliOptions = { onSpawn: (c) => children.add(c), onStderr: (t) => process.stderr.write(t) };
 * ```
 */
export interface RunCliOptions {
  /** Called with the child right after it starts (to record its pid, or to signal it on shutdown). */
  onSpawn?: (child: ChildProcess) => void;
  /** Every chunk of the child's stderr (e.g. forwarded with a prefix by `altar worker --verbose`). */
  onStderr?: (text: string) => void;
}

const guardUrl = new URL(`./parent-guard.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/**
 * Spawn this same `altar` entry point (`process.argv[1]`) with `args`; resolves when it exits.
 *
 * @example
 * ```ts
 * const r = await runCli(['train', 'cfg.json', '--out', 'runs/a']);
 * r.code; // 0 when training finished
 * ```
 */
export function runCli(args: string[], o: RunCliOptions = {}): Promise<ChildResult> {
  const entry = process.argv[1];
  if (entry === undefined) throw new Error('runCli: no entry script in process.argv[1]');
  const child = spawn(process.execPath, [...process.execArgv, '--import', guardUrl.href, entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    const t = d.toString();
    o.onStderr?.(t);
    stderr = (stderr + t).slice(-20_000);
  });
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) =>
      res({ code, signal, stdout, stderrTail: stderr.split('\n').slice(-40).join('\n').trim() }),
    );
  });
}
