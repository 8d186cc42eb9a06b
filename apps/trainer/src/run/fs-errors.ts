/**
 * Node file-system errors (EACCES, ENOSPC, EROFS, …) as one line for the user: which path, what went wrong.
 * `main` prints them with exit code 1 instead of a stack trace.
 */

/** A Node `ErrnoException`-shaped error: a string `code` such as 'ENOSPC', and usually `syscall` and `path`. */
export interface NodeFsError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
}

const CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'a file already exists where a directory is expected',
  ENOTDIR: 'a component of the path is a file, not a directory',
  EISDIR: 'is a directory, where a file is expected',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EBUSY: 'resource busy',
};

/**
 * True for an error thrown by node:fs (an Error with an upper-case `E…` errno code).
 *
 * @example
 * ```ts
 * try { mkdirSync('/proc/x'); } catch (e) { if (isNodeFsError(e)) return describeFsError(e); }
 * ```
 */
export function isNodeFsError(e: unknown): e is NodeFsError {
  return e instanceof Error && typeof Reflect.get(e, 'code') === 'string' && /^E[A-Z]+$/.test(Reflect.get(e, 'code'));
}

/**
 * One line naming the path, the operation and the cause: `cannot mkdir /data/run: read-only file system (EROFS)`.
 *
 * @example
 * ```ts
 * describeFsError(Object.assign(new Error('x'), { code: 'ENOSPC', syscall: 'write', path: 'run/a' }));
 * // 'cannot write run/a: no space left on device (ENOSPC)'
 * ```
 */
export function describeFsError(e: NodeFsError): string {
  const cause = CAUSES[e.code] ?? e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  const what = e.syscall ? `cannot ${e.syscall}` : 'file system error at';
  const where = e.path ? ` ${e.path}${e.dest ? ` → ${e.dest}` : ''}` : '';
  return `${what}${where}: ${cause} (${e.code})`;
}
