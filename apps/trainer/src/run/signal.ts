/**
 * Wire SIGINT (Ctrl-C) and SIGTERM (what schedulers such as Kubernetes and SLURM send before SIGKILL) to an
 * AbortSignal for the duration of a command, unless the caller gave one. The first signal of either kind finishes
 * the current step, saves a checkpoint and exits 130 (SIGINT) or 143 (SIGTERM); a second one quits at once.
 */
import { EXIT } from '../exit-codes.js';
import type { CommandIO } from '../io.js';

/**
 * The exit code of a run stopped through `signal`: 143 when SIGTERM aborted it, else 130.
 *
 * @example
 * ```ts
 * return result.reason === 'interrupted' ? interruptExitCode(io.signal) : 0;
 * ```
 */
export function interruptExitCode(signal: AbortSignal | undefined): number {
  return signal?.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
}

/**
 * Run `fn` with an AbortSignal that the first SIGINT or SIGTERM aborts (its reason is the signal's name).
 *
 * @example
 * ```ts
 * const code = await withSigint(io, (sio) => runTrain(argv, sio)); // sio.signal aborts on Ctrl-C or SIGTERM
 * ```
 */
export async function withSigint<T>(io: CommandIO, fn: (io: CommandIO) => Promise<T>): Promise<T> {
  if (io.signal || typeof process === 'undefined') return fn(io);
  const ac = new AbortController();
  let count = 0;
  const on = (sig: 'SIGINT' | 'SIGTERM') => () => {
    count += 1;
    if (count === 1) {
      const what = sig === 'SIGINT' ? 'interrupt' : 'SIGTERM';
      io.err(
        `\naltar: ${what} received; finishing the current step and saving a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'a signal'} again to quit now)\n`,
      );
      ac.abort(sig);
    } else process.exit(sig === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  };
  const onInt = on('SIGINT');
  const onTerm = on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await fn({ ...io, signal: ac.signal });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
