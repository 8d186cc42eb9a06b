/**
 * Cost accounting for sampling runs (the roofline cost model that predicts them: roofline.ts).
 *
 * Accounting: every network call counts one NFE and streams every weight once, so
 * weightBytesLoaded = NFE × paramCount × bytesPerWeight — n·d·bpw for AR decoding of n tokens,
 * T·d·bpw for T diffusion steps (independent of n).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { CostRecord, ModelCostHints } from './types.js';

/**
 * Bytes one call of `model` loads (paramCount × bytesPerWeight), or `override` when given.
 *
 * @example
 * ```ts
 * modelParamBytes({ paramCount: () => 1_000_000, bytesPerWeight: 2 }); // 2e6
 * modelParamBytes({}, 4096);                                          // 4096: the override wins
 * ```
 */
export function modelParamBytes(model: ModelCostHints, override?: number): number {
  if (override !== undefined) {
    if (!(override >= 0)) throw new AltarError('BAD_ARG', `paramBytes: must be ≥ 0, got ${override}`);
    return override;
  }
  if (typeof model.paramCount !== 'function') return 0;
  return model.paramCount() * (model.bytesPerWeight ?? 4);
}

/**
 * FLOPs of one call on (batch, tokensPerRow) with context `contextLen`; null if the model says nothing.
 *
 * @example
 * ```ts
 * modelCallFlops({ flopsPerToken: 2e6 }, 4, 16, 16); // 4 · 16 · 2e6
 * modelCallFlops({}, 4, 16, 16);                     // null: the model says nothing
 * ```
 */
export function modelCallFlops(
  model: ModelCostHints,
  batch: number,
  tokensPerRow: number,
  contextLen: number,
): number | null {
  if (typeof model.flops === 'function') return model.flops(batch, tokensPerRow, contextLen);
  const f = model.flopsPerToken;
  if (typeof f === 'number') return f * batch * tokensPerRow;
  if (typeof f === 'function') return f(contextLen) * batch * tokensPerRow;
  return null;
}

/**
 * Tracks one sampling run: NFE, FLOPs, wall time and the tf.memory() peak. Call `call()` after each
 * network evaluation (it also samples the memory peak) and `finish(tokens)` at the end.
 *
 * @example
 * ```ts
 * const tracker = new CostTracker(model, modelParamBytes(model));
 * for (let step = 0; step < T; step++) {
 *   // ... one network call on (B, N) ...
 *   tracker.call(B, N);
 * }
 * const cost: CostRecord = tracker.finish(B * N);
 * ```
 */
export class CostTracker {
  nfe = 0;
  flops = 0;
  flopsKnown = true;
  private peak: number;
  private readonly t0: number;

  constructor(
    private readonly model: ModelCostHints,
    readonly paramBytes: number,
  ) {
    this.peak = tf.memory().numBytes;
    this.t0 = performance.now();
  }

  /** Record one NFE on a (batch, tokensPerRow) input whose tokens see `contextLen` positions. */
  call(batch: number, tokensPerRow: number, contextLen = tokensPerRow): void {
    this.nfe++;
    const f = modelCallFlops(this.model, batch, tokensPerRow, contextLen);
    if (f === null) this.flopsKnown = false;
    else this.flops += f;
    this.observe();
  }

  /** Sample tf.memory().numBytes into the peak. */
  observe(): void {
    const b = tf.memory().numBytes;
    if (b > this.peak) this.peak = b;
  }

  finish(tokens: number): CostRecord {
    this.observe();
    const wallMs = performance.now() - this.t0;
    return {
      nfe: this.nfe,
      weightBytesLoaded: this.nfe * this.paramBytes,
      paramBytes: this.paramBytes,
      flops: this.flopsKnown ? this.flops : 0,
      flopsKnown: this.flopsKnown,
      wallMs,
      tokens,
      tokensPerSec: wallMs > 0 ? (tokens * 1000) / wallMs : 0,
      peakTensorBytes: this.peak,
    };
  }
}
