/**
 * β schedules for discrete-time discrete diffusion (D3PM, Austin et al. 2021, §4 and App. A).
 * Index t−1 of the returned array holds β_t, t = 1..T. Every schedule reaches full corruption at t = T
 * (β_T = 1 or ᾱ_T = 0), whatever T is, so the prior term L_T vanishes for uniform and absorbing.
 */
import { AltarError } from '@altar/backend';

/**
 * The β schedules of discrete-time D3PM: 'linear' (β_t linear up to 1), 'cosine' (ᾱ_t of Nichol &
 * Dhariwal), 'jsd' (β_t = 1/(T − t + 1), so ᾱ_t = 1 − t/T; the absorbing default).
 *
 * @example
 * ```ts
 * const kind: D3PMScheduleKind = 'jsd';
 * new D3PMProcess({ kind: 'absorbing', vocabSize: 8, T: 16, schedule: kind });
 * ```
 */
export type D3PMScheduleKind = 'linear' | 'cosine' | 'jsd';
/**
 * Every {@link D3PMScheduleKind}, for validating a config value.
 *
 * @example
 * ```ts
 * D3PM_SCHEDULES.includes('cosine'); // true
 * ```
 */
export const D3PM_SCHEDULES: readonly D3PMScheduleKind[] = ['linear', 'cosine', 'jsd'];

/**
 * β_1..β_T of a D3PM schedule (index t − 1 holds β_t); every schedule reaches full corruption at t = T.
 *
 * @example
 * ```ts
 * const betas = d3pmBetas('jsd', 4); // [1/4, 1/3, 1/2, 1]: ᾱ_t = Π(1 − β) = 1 − t/4
 * ```
 */
export function d3pmBetas(kind: D3PMScheduleKind, T: number): Float64Array {
  if (!Number.isInteger(T) || T < 1)
    throw new AltarError('BAD_TIME', `d3pmBetas: T must be a positive integer, got ${T}`);
  const b = new Float64Array(T);
  switch (kind) {
    case 'jsd':
      // β_t = 1/(T − t + 1) (Sohl-Dickstein et al. 2015; D3PM §4 "absorbing"): ᾱ_t = Π(1−β) = 1 − t/T.
      for (let t = 1; t <= T; t++) b[t - 1] = 1 / (T - t + 1);
      return b;
    case 'cosine': {
      // ᾱ_t = cos²(π/2 · (t/T + s)/(1 + s)) / f(0), s = 0.008 (Nichol & Dhariwal 2021 eq. 17; D3PM uniform
      // uses it): β_t = 1 − ᾱ_t/ᾱ_{t−1}; ᾱ_T = 0 exactly, so β_T = 1.
      const s = 0.008;
      const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
      const f0 = f(0);
      let prev = 1;
      for (let t = 1; t <= T; t++) {
        const ab = t === T ? 0 : f(t) / f0;
        b[t - 1] = Math.min(1, Math.max(0, 1 - ab / prev));
        prev = ab;
      }
      return b;
    }
    case 'linear': {
      // DDPM's linear β 1e-4 → 0.02 scaled by 1000/T (improved-DDPM get_named_beta_schedule) so that the
      // corruption is near-total for any T; the last step is set to 1 so that q(z_T | x0) is the prior.
      const scale = 1000 / T;
      for (let t = 1; t <= T; t++) {
        const beta = T === 1 ? 1 : scale * (1e-4 + ((0.02 - 1e-4) * (t - 1)) / (T - 1));
        b[t - 1] = Math.min(1, beta);
      }
      b[T - 1] = 1;
      return b;
    }
    default:
      throw new AltarError(
        'BAD_SCHEDULE',
        `d3pmBetas: unknown schedule '${String(kind)}', expected ${D3PM_SCHEDULES.join(', ')}`,
      );
  }
}
