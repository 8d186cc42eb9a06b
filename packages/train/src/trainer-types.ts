/**
 * The trainer's public types: the loss and evaluation callbacks, the options a Trainer takes, what one
 * step reports, and the error the NaN/Inf guard throws.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Logger, type Rng } from '@altar/backend';
import type { TrainConfig } from './config.js';
import type { MetricsRecord } from './metrics.js';
import type { ParamMap } from './optimizer.js';

/**
 * A NaN or Inf showed up in the loss or a gradient and the policy is 'stop'.
 *
 * @example
 * ```ts
 * try {
 *   await trainer.run();
 * } catch (e) {
 *   if (e instanceof NonFiniteError) console.error(`step ${e.step}: non-finite in ${e.parameter ?? 'the loss'}`);
 * }
 * ```
 */
export class NonFiniteError extends AltarError {
  readonly step: number;
  /** The first parameter whose gradient is not finite (null when the loss itself is). */
  readonly parameter: string | null;
  /** The parameter with the largest gradient norm in that step (a NaN norm counts as largest). */
  readonly largestGradient: string | null;
  constructor(step: number, parameter: string | null, message: string, largestGradient: string | null = null) {
    super('NON_FINITE', message);
    this.step = step;
    this.parameter = parameter;
    this.largestGradient = largestGradient;
  }
}

/**
 * A training loss: the scalar to minimise for a batch, with a random stream for the loss's own draws (timesteps,
 * noise). Return a tidy-made scalar; the trainer disposes it.
 *
 * @example
 * ```ts
 * const loss: LossFn<tf.Tensor2D> = (x, rng) => tf.mean(maskedNelbo(proc, model, x, rng)) as tf.Scalar;
 * ```
 */
export type LossFn<B> = (batch: B, rng: Rng) => tf.Scalar;

/**
 * What an evaluation callback receives: the step, and a random stream that is the same at every evaluation.
 *
 * @example
 * ```ts
 * const evaluate = async ({ step, rng }: EvalContext) => ({ loss: await heldOutLoss(rng) });
 * ```
 */
export interface EvalContext {
  step: number;
  /** A stream that is the same at every evaluation (so eval batches are the same held-out data). */
  rng: Rng;
}

/**
 * What a {@link Trainer} trains: the parameters, the loss, where batches come from and how they are freed, the
 * config, and optional evaluation, data-stream state, logger and metrics sink.
 *
 * @example
 * ```ts
 * const options: TrainerOptions<{ x: tf.Tensor; y: tf.Tensor }> = {
 *   params: { w },
 *   loss: (b) => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.mul(b.x, w), b.y))) as tf.Scalar),
 *   nextBatch: (rng) => { const x = rng.normal([16]); return { x, y: tf.mul(x, 3) }; },
 *   disposeBatch: (b) => tf.dispose([b.x, b.y]),
 *   config: { steps: 200, lr: 0.05 },
 * };
 * ```
 */
export interface TrainerOptions<B> {
  /** The trainable parameters by name (the names used in checkpoints). */
  params: ParamMap;
  loss: LossFn<B>;
  /** Produce the next training batch from the data stream's rng. */
  nextBatch: (rng: Rng) => B;
  disposeBatch?: (batch: B) => void;
  /** Tokens in a batch, for tokens/s (default: 0). */
  tokensPerBatch?: number | ((batch: B) => number);
  config?: Partial<TrainConfig>;
  /** Held-out evaluation, run with the EMA weights in place (when an EMA is kept). */
  evaluate?: (ctx: EvalContext) => Promise<Record<string, number>>;
  /** The eval metric that decides the best checkpoint (lower is better); default 'loss'. */
  bestMetric?: string;
  /** Extra data-stream position (file offsets, epoch) beyond the rng, saved in checkpoints. */
  dataState?: { get(): unknown; set(state: unknown): void };
  /** The caller's own state to resume with the run (e.g. the app's sampling random stream), saved as `state.app`. */
  appState?: { get(): unknown; set(state: unknown): void };
  logger?: Logger;
  onMetrics?: (record: MetricsRecord) => void;
}

/**
 * What one {@link Trainer.trainStep} did: step, loss, learning rate, gradient norm, tokens, time, and whether the
 * NaN guard skipped the update.
 *
 * @example
 * ```ts
 * const r: StepResult = await trainer.trainStep();
 * if (r.skipped) logger.warn(`step ${r.step}: non-finite gradient, update skipped`);
 * ```
 */
export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  stepMs: number;
  skipped: boolean;
}
