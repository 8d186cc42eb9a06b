/** Packages never print: they accept a logger. Apps decide where the words go. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug?(message: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };
