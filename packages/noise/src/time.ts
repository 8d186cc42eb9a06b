/** Time arguments: one number for the whole batch, or one host value per batch row. */
import { AltarError } from '@altar/backend';

/**
 * A time argument: one number for the whole batch, or one host value per batch row.
 *
 * @example
 * ```ts
 * proc.marginal(x0, 0.5);         // every row at t = 0.5
 * proc.marginal(x0, [0.1, 0.9]);  // row 0 at t = 0.1, row 1 at t = 0.9
 * ```
 */
export type TimeArg = number | ArrayLike<number>;

/**
 * Expand a time argument to `batch` host values (a single number is broadcast); `op` names the caller
 * in the error thrown on a length mismatch.
 *
 * @example
 * ```ts
 * expandTime('myLoss', 0.5, 3);        // Float64Array [0.5, 0.5, 0.5]
 * expandTime('myLoss', [0.1, 0.2], 2); // Float64Array [0.1, 0.2]
 * ```
 */
export function expandTime(op: string, t: TimeArg, batch: number): Float64Array {
  const out = new Float64Array(batch);
  if (typeof t === 'number') {
    out.fill(t);
    return out;
  }
  if (t.length !== batch) {
    throw new AltarError('BAD_TIME', `${op}: got ${t.length} time values for a batch of ${batch}`);
  }
  for (let b = 0; b < batch; b++) out[b] = t[b]!;
  return out;
}

/** Validate an integer discrete time t ∈ [lo, T]. */
export function checkStep(op: string, t: number, T: number, lo = 0): void {
  if (!Number.isInteger(t) || t < lo || t > T) {
    throw new AltarError('BAD_TIME', `${op}: discrete time must be an integer in [${lo}, ${T}], got ${t}`);
  }
}

/** Validate a continuous time t ∈ [0, 1]. */
export function checkUnit(op: string, t: number): void {
  if (!(t >= 0 && t <= 1)) throw new AltarError('BAD_TIME', `${op}: continuous time must lie in [0, 1], got ${t}`);
}
