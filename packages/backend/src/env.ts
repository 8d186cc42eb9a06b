/**
 * Runtime detection shared by the backend adapter.
 *
 * @example
 * ```ts
 * const choice = isNode ? 'wasm' : 'webgl';
 * ```
 */
export const isNode: boolean =
  typeof process !== 'undefined' &&
  typeof process.versions === 'object' &&
  process.versions != null &&
  typeof process.versions.node === 'string';

/**
 * True in a browser (or a web worker with `window`), false in Node.
 *
 * @example
 * ```ts
 * if (isBrowser) document.title = 'training…';
 * ```
 */
export const isBrowser: boolean = !isNode && typeof window !== 'undefined';

/**
 * Read an environment variable in Node; undefined in the browser.
 *
 * @example
 * ```ts
 * const backends = envVar('ALTAR_BACKENDS')?.split(',') ?? ['cpu'];
 * ```
 */
export function envVar(name: string): string | undefined {
  return isNode ? process.env[name] : undefined;
}
