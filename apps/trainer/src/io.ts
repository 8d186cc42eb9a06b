/** Where a command writes. Tests pass buffers; the real CLI passes the process streams. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress bars redraw in place). */
  isTTY: boolean;
  /** Aborts long commands (train, demo) after their current step; the CLI wires it to SIGINT. */
  signal?: AbortSignal;
}

export const processIO: CommandIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
};

/** A user mistake (bad flag, missing file): printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
