/** Boundary validation helpers: every error names the operation/key and the offending value. */
import { AltarError, ConfigError } from '@altar/backend';

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `array(length ${v.length})`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(length ${(v as unknown as ArrayLike<number>).length})`;
  return typeof v;
}

export function requireInt(path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(path, `expected an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function requireNumber(path: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(path, `expected a finite number in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function requirePositive(path: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) {
    throw new ConfigError(path, `expected a finite number > 0, got ${describe(v)}`);
  }
  return v;
}

/** Reject keys that a config type does not declare (nanoGPT configurator style). */
export function rejectUnknownKeys(op: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(`${op}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`);
    }
  }
}

/** A probability vector / row-stochastic matrix check (rows of length `cols`), tolerance 1e-6. */
export function requireStochastic(path: string, m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (m.length !== rows * cols) {
    throw new ConfigError(path, `expected ${rows}x${cols} = ${rows * cols} entries, got ${m.length}`);
  }
  const out = Float64Array.from(m);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = out[r * cols + c]!;
      if (!Number.isFinite(v) || v < 0)
        throw new ConfigError(`${path}[${r}][${c}]`, `expected a probability >= 0, got ${v}`);
      s += v;
    }
    if (Math.abs(s - 1) > 1e-6) throw new ConfigError(`${path}[${r}]`, `row must sum to 1, sums to ${s}`);
    for (let c = 0; c < cols; c++) out[r * cols + c] = out[r * cols + c]! / s;
  }
  return out;
}

/** Tokens must be integers in [0, vocabSize). */
export function checkTokens(op: string, seq: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < seq.length; i++) {
    const t = seq[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
      throw new AltarError(
        'BAD_TOKEN',
        `${op}: token at position ${i} is ${t}, expected an integer in [0, ${vocabSize})`,
      );
    }
  }
}

export function isArrayLikeNumbers(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}
