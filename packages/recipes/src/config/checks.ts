/**
 * Field schemas with the messages every altar config error uses: `<key path>: expected <what>, got <value>`.
 * The values are shown as written (`'fast'`, `2.5`, `NaN`, `Infinity`, `an object`), never as JSON (which
 * turns NaN and ±Infinity into `null`).
 */
import { z } from 'zod';

/**
 * How a config value is shown in an error.
 *
 * @example
 * ```ts
 * describeValue(NaN);     // 'NaN' (JSON would say null)
 * describeValue('fast');  // "'fast'"
 * ```
 */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number') return Object.is(v, -0) ? '0' : String(v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

const got = (input: unknown) => `, got ${describeValue(input)}`;

/**
 * An integer in [min, max]. The upper bounds are there to catch typos (`steps: 1e12`): each is far
 * beyond any run this project makes on one machine, and the message says so.
 */
export function int(min: number, max: number) {
  return z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max, {
    error: (iss) =>
      typeof iss.input === 'number' && Number.isInteger(iss.input) && iss.input > max
        ? `expected an integer in ${min}..${max} (the sane bound for this key)${got(iss.input)}`
        : `expected an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}${got(iss.input)}`,
  });
}

/** A finite number satisfying `ok`, described by `what` ("a number in [0, 1)"). */
export function num(what: string, ok: (x: number) => boolean = () => true) {
  return z.custom<number>((v) => typeof v === 'number' && Number.isFinite(v) && ok(v), {
    error: (iss) => `expected ${what}${got(iss.input)}`,
  });
}

export function str() {
  return z.custom<string>((v) => typeof v === 'string', { error: (iss) => `expected a string${got(iss.input)}` });
}

export function bool() {
  return z.custom<boolean>((v) => typeof v === 'boolean', {
    error: (iss) => `expected true or false${got(iss.input)}`,
  });
}

/** One of a package's exported list of names; `context` says why the list is what it is ("for family 'ar'"). */
export function oneOf<const T extends string>(values: readonly T[], context = '') {
  return z.custom<T>((v) => typeof v === 'string' && (values as readonly string[]).includes(v), {
    error: (iss) => `expected one of ${values.join(', ')}${context ? ` ${context}` : ''}${got(iss.input)}`,
  });
}

/** A section: an object whose unknown keys are errors that list the allowed ones. */
export function section<S extends z.core.$ZodLooseShape>(shape: S) {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown key; expected one of: ${keys}`
        : `expected an object${got(iss.input)}`,
  });
}

/** A free-form object (validated further by the package that owns it). */
export function record() {
  return z.record(z.string(), z.unknown(), { error: (iss) => `expected an object${got(iss.input)}` });
}
