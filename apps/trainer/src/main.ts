/** `altar` entry logic, separate from the bin so tests can call it with captured IO. */
import { AltarError } from '@altar/backend';
import { commands } from './commands/index.js';
import { UsageError, type CommandIO } from './io.js';

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
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`altar: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.help + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`altar ${name}: ${e.message}\nRun 'altar ${name} --help' for usage.\n`);
      return 2;
    }
    if (e instanceof AltarError) {
      io.err(`altar ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
