/**
 * Packages never print: they accept a logger. Apps decide where the words go.
 *
 * @example
 * ```ts
 * const logger: Logger = { info: (m) => process.stdout.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`) };
 * await initBackend('auto', { logger }); // logs which backend auto chose and why
 * ```
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug?(message: string): void;
}

/**
 * A logger that drops everything: the default of every function that takes one.
 *
 * @example
 * ```ts
 * await initBackend('auto', { logger: silentLogger });
 * ```
 */
export const silentLogger: Logger = { info: () => {}, warn: () => {} };
