/**
 * Learning-rate schedule: linear warmup then cosine decay (Loshchilov & Hutter 2017, SGDR, eq. 5,
 * without restarts), as used by GPT-style training. Pure function of the step, so a resumed run
 * gets exactly the same learning rates.
 *
 * @example
 * ```ts
 * const c: LrScheduleConfig = { lr: 3e-3, warmupSteps: 100, totalSteps: 10_000, minLrRatio: 0.1 };
 * ```
 */
export interface LrScheduleConfig {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Steps of linear warmup from lr/warmupSteps to lr (0: none). */
  warmupSteps: number;
  /** Step at which the cosine reaches its floor; after it the rate stays at the floor. */
  totalSteps: number;
  /** Floor as a fraction of lr (0.1 is the Chinchilla/nanoGPT choice). */
  minLrRatio: number;
  /** 'cosine' (default) or 'constant' after warmup. */
  decay?: 'cosine' | 'constant';
}

/**
 * The learning rate used for optimizer step `step` (0-based).
 *
 * @example
 * ```ts
 * const c = { lr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
 * lrAt(0, c);   // 1e-4 (warmup: lr · 1/10)
 * lrAt(9, c);   // 1e-3 (peak)
 * lrAt(110, c); // 1e-4 (the floor)
 * ```
 */
export function lrAt(step: number, c: LrScheduleConfig): number {
  if (c.warmupSteps > 0 && step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  if (c.decay === 'constant') return c.lr;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - c.warmupSteps) / span));
  const minLr = c.lr * c.minLrRatio;
  return minLr + 0.5 * (c.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
