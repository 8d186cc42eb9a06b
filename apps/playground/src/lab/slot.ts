/** A family's place in the Lab: its runtime, the trainer of the current lr/batch, counters and the bound. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Trainer } from '@altar/train';
import type { Size } from '../state.js';
import type { SlotSource } from './checkpoint-io.js';
import type { FamilyRuntime } from './runtime.js';

export interface Slot {
  runtime: FamilyRuntime;
  /** The data it trains on: 'hmm' for token families, a 2-D mixture for 'gaussian', 'shapes' for 'gaussian-image'. */
  source: SlotSource;
  size: Size | 'checkpoint';
  trainer: Trainer<tf.Tensor2D> | null;
  lr: number;
  batch: number;
  seed: number;
  running: boolean;
  /** Seconds inside training steps and tokens processed there (for tokens/s). */
  busySec: number;
  tokens: number;
  /** Steps taken by earlier trainers of this model (a new lr or batch starts a new Trainer). */
  stepBase: number;
  origin: string;
  /** Continuous families: the latest NELBO evaluation in bits/dim, and when the checkpoint was last saved. */
  boundBits: number | null;
  boundStdErr: number;
  boundStep: number;
  savedAtMs: number;
  /** The running training loop (resolved when it has stopped and saved). */
  loopDone?: Promise<void>;
}

/** Continuous families' bound evaluation: every `every` steps on n fresh examples (EMA weights). */
export const BOUND_EVAL: Record<'gaussian' | 'gaussian-image', { every: number; n: number }> = {
  gaussian: { every: 25, n: 4096 },
  'gaussian-image': { every: 25, n: 64 },
};
