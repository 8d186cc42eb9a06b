import { BACKEND_CHOICES, initBackend } from '@altar/backend';
import { choiceFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';

export const backendCommand: Command = {
  name: 'backend',
  summary: 'start a backend and describe it (which one auto picks here, and why)',
  help: `altar backend [--backend auto|cuda|webgpu|wasm|cpu] [--json]

Starts the backend and prints what it got: name, adapter, GPU or software, float precision.

Examples:
  altar backend
  altar backend --backend webgpu --json`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { backend: { type: 'string' }, json: { type: 'boolean' } });
    const choice = choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto');
    const info = await initBackend(choice, {
      logger: { info: (m) => io.err(m + '\n'), warn: (m) => io.err(m + '\n') },
    });
    if (values.json) io.out(JSON.stringify(info) + '\n');
    else
      io.out(
        `${info.name}: ${info.adapter} (${info.isGpu ? 'GPU' : info.softwareFallback ? 'software GPU' : 'CPU'}, float${info.floatPrecision}, tfjs ${info.version})\n  ${info.reason}\n`,
      );
    return 0;
  },
};
