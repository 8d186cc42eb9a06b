export { main } from './main.js';
export { commands } from './commands/index.js';
export type { Command } from './command.js';
export type { CommandIO } from './io.js';
