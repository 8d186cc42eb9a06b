/** `altar` entry logic, separate from the bin so tests can call it with captured IO. */
import { AltarError } from '@altar/backend';
import { commands } from './commands/index.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { UsageError, type CommandIO } from './io.js';
import { describeFsError, isNodeFsError } from './run/fs-errors.js';

function topHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'altar — alternatives to autoregressive models (diffusion, SSMs, cheap attention) on TensorFlow.js',
    '',
    'Usage: altar <command> [options]      altar <command> --help for details',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    EXIT_CODES_HELP,
    '',
  ].join('\n');
}

/**
 * Run `altar <argv>` with the given IO and return the exit code (see {@link EXIT}): usage errors → 2, domain errors
 * (AltarError) and file-system errors (one line naming the path and the cause) → 1, anything else is a bug: printed
 * with its stack, also exit 1.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['eval', 'runs/ar', '--json'], processIO);
 * ```
 */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp());
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`altar: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${cmd.help}\n\n${EXIT_CODES_HELP}\n`);
    return EXIT.ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`altar ${name}: ${e.message}\nRun 'altar ${name} --help' for usage.\n`);
      return EXIT.usage;
    }
    if (e instanceof AltarError) {
      io.err(`altar ${name}: ${e.message}\n`);
      return EXIT.runtime;
    }
    if (isNodeFsError(e)) {
      io.err(`altar ${name}: ${describeFsError(e)}\n`);
      return EXIT.runtime;
    }
    io.err(
      `altar ${name}: internal error (a bug; please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return EXIT.runtime;
  }
}
