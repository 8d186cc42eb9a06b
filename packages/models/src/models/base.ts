/** Shared model plumbing: parameter store, counts, weights map, disposal. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import type { ModelConfig } from '../config.js';
import { ParamStore } from '../layers/params.js';

/**
 * What every model offers: its config, parameter count and bytes, its variables and weights by name, dispose.
 *
 * @example
 * ```ts
 * function bytes(m: Model): number {
 *   return m.paramCount() * m.bytesPerWeight;
 * }
 * ```
 */
export interface Model {
  readonly config: ModelConfig;
  /** Bytes per stored weight (the lecture's bpw): 4 for float32. */
  readonly bytesPerWeight: number;
  paramCount(): number;
  /** Trainable variables, for an optimizer. */
  variables(): tf.Variable[];
  /** Live parameters by name (do not dispose). */
  getWeights(): Record<string, tf.Tensor>;
  /** Copy values in; names and shapes must match exactly. */
  setWeights(weights: Record<string, tf.Tensor>): void;
  dispose(): void;
}

/**
 * The shared part of every model: a seeded {@link ParamStore}, parameter counting, weights by name, dispose.
 *
 * @example
 * ```ts
 * class Tiny extends BaseModel<MlpDenoiserConfig> {
 *   readonly w = this.store.add('w', [2, 2], { kind: 'zeros' });
 * }
 * ```
 */
export abstract class BaseModel<C extends ModelConfig> implements Model {
  readonly bytesPerWeight = 4;
  protected readonly store: ParamStore;
  constructor(readonly config: C) {
    this.store = new ParamStore(new Rng(config.seed).fork(config.type));
  }
  paramCount(): number {
    return this.store.count();
  }
  variables(): tf.Variable[] {
    return this.store.variables();
  }
  getWeights(): Record<string, tf.Tensor> {
    return this.store.weights();
  }
  setWeights(weights: Record<string, tf.Tensor>): void {
    this.store.setWeights(weights);
  }
  dispose(): void {
    this.store.dispose();
  }
}

/** Check a token tensor: int32 (B, N). */
export function checkTokens(op: string, tokens: tf.Tensor, rank: number): void {
  if (tokens.rank !== rank)
    throw new Error(`${op}: expected int32 tokens of rank ${rank}, got shape [${tokens.shape}]`);
}

export { tidyObj } from '../layers/params.js';
