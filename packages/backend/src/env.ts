/** Runtime detection shared by the backend adapter. */
export const isNode: boolean =
  typeof process !== 'undefined' && typeof process.versions === 'object' && process.versions != null && typeof process.versions.node === 'string';

export const isBrowser: boolean = !isNode && typeof window !== 'undefined';

/** Read an environment variable in Node; undefined in the browser. */
export function envVar(name: string): string | undefined {
  return isNode ? process.env[name] : undefined;
}
