import type { Command } from '../command.js';
import { backendCommand } from './backend.js';

/** Every subcommand of `altar`, in the order `altar --help` lists them. Add new commands here. */
export const commands: Command[] = [backendCommand];
