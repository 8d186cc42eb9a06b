/**
 * What every config passes before the schema: no non-finite numbers (YAML `.nan`/`.inf`, JSON `1e400`
 * and `--set x=1e400` all arrive as NaN/±Infinity, which JSON would print as `null`), and no key that
 * names an object's prototype machinery (`__proto__`, `constructor`, `prototype`). Then the schema's
 * issues become one ConfigError naming the key path.
 */
import { ConfigError } from '@altar/backend';
import type { z } from 'zod';
import { describeValue } from './checks.js';

/**
 * Key path segments that are never config keys (they reach Object.prototype).
 *
 * @example
 * ```ts
 * checkConfigTree(JSON.parse('{"__proto__": {"x": 1}}')); // throws ConfigError at __proto__
 * ```
 */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

export function joinPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    // an empty key would vanish from the path: show it as [""]
    out += typeof k === 'number' ? `[${k}]` : k === '' ? '[""]' : out ? `.${String(k)}` : String(k);
  }
  return out;
}

/** Deeper than any config (sections nest three levels); a hostile file nested 10,000 deep stops here. */
const MAX_DEPTH = 32;

/**
 * Throws ConfigError at the first non-finite number or forbidden key in a parsed config tree.
 *
 * @example
 * ```ts
 * checkConfigTree({ train: { lr: Infinity } }); // throws ConfigError: train.lr: expected a finite number, got Infinity
 * checkConfigTree({ train: { lr: 1e-3 } });      // fine
 * ```
 */
export function checkConfigTree(v: unknown, path: PropertyKey[] = []): void {
  if (path.length > MAX_DEPTH)
    throw new ConfigError(joinPath(path.slice(0, MAX_DEPTH)), `nested deeper than ${MAX_DEPTH} levels`);
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw new ConfigError(joinPath(path), `expected a finite number, got ${describeValue(v)}`);
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkConfigTree(x, [...path, i]));
  } else if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.includes(k)) throw new ConfigError(joinPath([...path, k]), `'${k}' is not a config key`);
      checkConfigTree(Reflect.get(v, k), [...path, k]);
    }
  }
}

/** The first issue of a failed parse as a ConfigError (`path: message`). */
export function issueToError(error: z.core.$ZodError): ConfigError {
  const iss = error.issues[0];
  if (!iss) return new ConfigError('', 'invalid config');
  const path = iss.code === 'unrecognized_keys' && iss.keys[0] !== undefined ? [...iss.path, iss.keys[0]] : iss.path;
  return new ConfigError(joinPath(path), iss.message);
}
