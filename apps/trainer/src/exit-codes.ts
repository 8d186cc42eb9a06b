/** The exit codes of every `altar` command: one table, shown in `altar --help`, each command's help and the README. */

/**
 * Exit codes: 0 ok; 1 a runtime or data error (NaN loss, corrupt or non-finite checkpoint, disk full, permission
 * denied); 2 a usage or config error (bad flag, missing file, invalid config, non-empty --out); 130 interrupted by
 * Ctrl-C (SIGINT); 143 stopped by SIGTERM. 130 and 143 come after the current step's checkpoint is saved.
 *
 * @example
 * ```ts
 * process.exitCode = interrupted ? EXIT.sigterm : EXIT.ok;
 * ```
 */
export const EXIT = { ok: 0, runtime: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/**
 * The exit-code table as one help paragraph (the same text in every command's --help).
 *
 * @example
 * ```ts
 * const help = `altar eval DIR …\n\n${EXIT_CODES_HELP}`;
 * ```
 */
export const EXIT_CODES_HELP = `Exit codes: 0 ok; 1 runtime or data error (NaN loss, corrupt or non-finite checkpoint, a file-system
error such as disk full or permission denied); 2 usage or config error (bad flag, missing file or directory,
invalid config, non-empty --out); 130 interrupted by Ctrl-C, 143 by SIGTERM (after saving a checkpoint).`;
