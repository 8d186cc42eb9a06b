import type { Command } from '../command.js';
import { backendCommand } from './backend.js';
import { costCommand } from './cost.js';
import { sampleCommand } from './sample.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { demoCommand } from './demo.js';
import { plotCommand } from './plot.js';
import { boundCommand } from './bound.js';
import { sweepCommand } from './sweep.js';
import { workerCommand } from './worker.js';
import { exportCommand } from './export.js';

/** Every subcommand of `altar`, in the order `altar --help` lists them. Add new commands here. */
export const commands: Command[] = [
  backendCommand,
  demoCommand,
  trainCommand,
  evalCommand,
  sampleCommand,
  plotCommand,
  costCommand,
  boundCommand,
  exportCommand,
  sweepCommand,
  workerCommand,
];
