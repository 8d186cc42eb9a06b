/** The training loop's own settings, each default with its reason. */
import { ConfigError } from '@altar/backend';

/**
 * The training loop's own settings (optimizer, schedule, clipping, EMA, accumulation, evaluation, NaN policy,
 * seed); every field has a default in {@link defaultTrainConfig}.
 *
 * @example
 * ```ts
 * const config: TrainConfig = resolveTrainConfig({ steps: 2000, lr: 1e-3, emaDecay: 0.999 });
 * ```
 */
export interface TrainConfig {
  /** Optimizer steps to run in total (the cosine schedule ends here). */
  steps: number;
  /** Peak learning rate. 3e-3 suits transformers of ~10^5 parameters; large models want ~3e-4. */
  lr: number;
  /** Linear warmup steps: Adam's v estimate is poor for the first ~100 steps. */
  warmupSteps: number;
  /** Cosine floor as a fraction of lr (0.1, as in Chinchilla / nanoGPT). */
  minLrRatio: number;
  /** 'cosine' decay after warmup, or 'constant'. */
  lrDecay: 'cosine' | 'constant';
  beta1: number;
  /** 0.99: faster second-moment adaptation for short runs (nanoGPT uses 0.95–0.99). */
  beta2: number;
  eps: number;
  /** Decoupled weight decay λ (AdamW); 0 = Adam. Applied to rank ≥ 2 parameters only. */
  weightDecay: number;
  /** Clip the global gradient norm to this (1.0, as in GPT-2/3); 0 disables clipping. */
  gradClip: number;
  /** EMA decay for eval/sampling weights; 0 disables the EMA (eval uses the raw weights). */
  emaDecay: number;
  /** Micro-batches whose gradients are averaged into one optimizer step. */
  accumSteps: number;
  /** Evaluate every K optimizer steps (0: only when asked). */
  evalEvery: number;
  /** On a NaN/Inf loss or gradient: 'stop' (throw, naming step and parameter) or 'skip' the update. */
  nonFinite: 'stop' | 'skip';
  /** Seed of the data, loss and eval random streams. */
  seed: number;
  /**
   * Read the loss and gradient norms back to the host every N optimizer steps (a positive integer) or 'auto': 1 on
   * cpu/wasm, where a read costs nothing, 16 on GPU backends, where each read stalls the pipeline. Clipping and the
   * NaN/Inf guard run on the device either way; results are the same for every N.
   */
  syncEvery: number | 'auto';
}

/**
 * The defaults {@link resolveTrainConfig} fills in, each with its reason at the field.
 *
 * @example
 * ```ts
 * const quick: TrainConfig = { ...defaultTrainConfig, steps: 100, warmupSteps: 10 };
 * ```
 */
export const defaultTrainConfig: TrainConfig = {
  steps: 1000,
  lr: 3e-3,
  warmupSteps: 50,
  minLrRatio: 0.1,
  lrDecay: 'cosine',
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0,
  gradClip: 1,
  emaDecay: 0,
  accumSteps: 1,
  evalEvery: 0,
  nonFinite: 'stop',
  seed: 0,
  syncEvery: 'auto',
};

/**
 * Fill defaults and check ranges; errors name the key (prefixed by `path`).
 *
 * @example
 * ```ts
 * resolveTrainConfig({ lr: 1e-3 });          // every other field from defaultTrainConfig
 * resolveTrainConfig({ lr: -1 }, 'run.train'); // throws ConfigError naming run.train.lr
 * ```
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> = {}, path = 'train'): TrainConfig {
  const c: TrainConfig = { ...defaultTrainConfig, ...partial };
  const bad = (key: keyof TrainConfig, want: string): never => {
    throw new ConfigError(`${path}.${key}`, `expected ${want}, got ${JSON.stringify(c[key])}`);
  };
  const isInt = (x: number) => Number.isInteger(x);
  if (!isInt(c.steps) || c.steps < 0) bad('steps', 'an integer ≥ 0');
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) bad('lr', 'a positive number');
  if (!isInt(c.warmupSteps) || c.warmupSteps < 0) bad('warmupSteps', 'an integer ≥ 0');
  if (!(c.minLrRatio >= 0 && c.minLrRatio <= 1)) bad('minLrRatio', 'a number in [0, 1]');
  if (c.lrDecay !== 'cosine' && c.lrDecay !== 'constant') bad('lrDecay', "'cosine' or 'constant'");
  if (!(c.beta1 >= 0 && c.beta1 < 1)) bad('beta1', 'a number in [0, 1)');
  if (!(c.beta2 >= 0 && c.beta2 < 1)) bad('beta2', 'a number in [0, 1)');
  if (!(c.eps > 0)) bad('eps', 'a positive number');
  if (!(c.weightDecay >= 0)) bad('weightDecay', 'a number ≥ 0');
  if (!(c.gradClip >= 0)) bad('gradClip', 'a number ≥ 0 (0 disables clipping)');
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) bad('emaDecay', 'a number in [0, 1) (0 disables the EMA)');
  if (!isInt(c.accumSteps) || c.accumSteps < 1) bad('accumSteps', 'an integer ≥ 1');
  if (!isInt(c.evalEvery) || c.evalEvery < 0) bad('evalEvery', 'an integer ≥ 0');
  if (c.nonFinite !== 'stop' && c.nonFinite !== 'skip') bad('nonFinite', "'stop' or 'skip'");
  if (!isInt(c.seed)) bad('seed', 'an integer');
  if (c.syncEvery !== 'auto' && !(isInt(c.syncEvery) && c.syncEvery >= 1)) bad('syncEvery', "an integer ≥ 1 or 'auto'");
  return c;
}

/** Backends where a device→host read costs (about) nothing: 'auto' reads every step there. */
const HOST_BACKENDS = new Set(['cpu', 'wasm']);

/**
 * The read-back interval `syncEvery` means on `backend`: the number itself, or for 'auto' 1 on cpu/wasm and 16 on
 * every other backend (webgpu, webgl, tfjs-node's 'tensorflow', which may be CUDA).
 *
 * @example
 * ```ts
 * resolveSyncEvery('auto', 'webgpu'); // 16
 * resolveSyncEvery('auto', 'wasm');   // 1
 * resolveSyncEvery(4, 'cpu');         // 4
 * ```
 */
export function resolveSyncEvery(syncEvery: number | 'auto', backend: string): number {
  if (syncEvery !== 'auto') return syncEvery;
  return HOST_BACKENDS.has(backend) ? 1 : 16;
}
