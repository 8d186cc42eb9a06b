/** Small helpers over node:util parseArgs that turn bad flags into UsageErrors naming the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
import { UsageError } from './io.js';

export function parseFlags<O extends FlagOptions>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number, min = -Infinity): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name}: expected an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got '${value}'`);
  return n;
}

export function numberFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: expected a number, got '${value}'`);
  return n;
}

/** "2,8,32" → [2, 8, 32]; every entry a positive integer. */
export function intListFlag(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new UsageError(`--${name}: expected a comma-separated list of integers, got '${value}'`);
  return parts.map((p) => intFlag(name, p, 0, 1));
}

export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  const hit = choices.find((c) => c === value);
  if (hit === undefined) throw new UsageError(`--${name}: expected one of ${choices.join(', ')}, got '${value}'`);
  return hit;
}
