/** Wire SIGINT to an AbortSignal for the duration of a command (unless the caller gave one). */
import type { CommandIO } from '../io.js';

export async function withSigint<T>(io: CommandIO, fn: (io: CommandIO) => Promise<T>): Promise<T> {
  if (io.signal || typeof process === 'undefined') return fn(io);
  const ac = new AbortController();
  let count = 0;
  const onInt = () => {
    count += 1;
    if (count === 1) {
      io.err(
        '\naltar: interrupt received; finishing the current step and saving a checkpoint (Ctrl-C again to quit now)\n',
      );
      ac.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onInt);
  try {
    return await fn({ ...io, signal: ac.signal });
  } finally {
    process.off('SIGINT', onInt);
  }
}
