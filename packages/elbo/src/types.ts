/** Structural model contracts the losses accept (see CONVENTIONS.md); any object of this shape works. */
import type * as tf from '@tensorflow/tfjs-core';
import type { PredictionKind } from '@altar/noise';

/** Discrete denoiser: logits over the V data tokens of x0 (never the mask), t ∈ [0, 1] (discrete time passes t/T). */
export interface DiscreteDenoiser {
  vocabSize: number;
  predictX0Logits(zt: tf.Tensor2D, t: tf.Tensor1D): tf.Tensor3D;
}

/** Continuous denoiser: a prediction of the declared kind, same shape as zt. */
export interface ContinuousDenoiser {
  prediction: PredictionKind;
  predict(zt: tf.Tensor, t: tf.Tensor1D): tf.Tensor;
}

/** Causal LM: logits at position i predict token i + 1. */
export interface CausalLM {
  vocabSize: number;
  forward(tokens: tf.Tensor2D): tf.Tensor3D;
}

/**
 * Host (Float64) discrete oracle for exact evaluations: p(x0_i | z_t) for every position of one sequence.
 * `t` is the process's own time (integer step for D3PM, [0, 1] for masked).
 * @returns Float64Array (N*V), [i*V + x] = p(x0_i = x | z_t)
 */
export interface HostDiscreteOracle {
  vocabSize: number;
  posteriorX0(zt: Int32Array, t: number): Float64Array;
}

/** Host (Float64) Gaussian oracle: E[x0 | z_t] for one vector under z_t = α x0 + σ ε. */
export interface HostGaussianOracle {
  dim: number;
  meanX0(zt: Float64Array, alpha: number, sigma: number): Float64Array;
}
