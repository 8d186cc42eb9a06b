import type { CommandIO } from './io.js';

/** One subcommand of `altar`. Each lives in its own file under src/commands/. */
export interface Command {
  name: string;
  /** One line for `altar --help`. */
  summary: string;
  /** Full help: usage, options, examples. */
  help: string;
  /** Returns the process exit code. */
  run(argv: string[], io: CommandIO): Promise<number>;
}
