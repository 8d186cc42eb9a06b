/** Structural model contracts the losses accept (see CONVENTIONS.md); any object of this shape works. */
import type * as tf from '@tensorflow/tfjs-core';
import type { PredictionKind } from '@altar/noise';

/**
 * Discrete denoiser: logits over the V data tokens of x0 (never the mask), t ∈ [0, 1] (discrete time passes t/T).
 *
 * @example
 * ```ts
 * // @altar/models' DiffusionTransformer fits, as does @altar/data's exact HMM oracle:
 * const oracle: DiscreteDenoiser = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t));
 * const loss = maskedNelbo(proc, oracle, x0, rng);
 * ```
 */
export interface DiscreteDenoiser {
  vocabSize: number;
  predictX0Logits(zt: tf.Tensor2D, t: tf.Tensor1D): tf.Tensor3D;
}

/**
 * Continuous denoiser: a prediction of the declared kind, same shape as zt.
 *
 * @example
 * ```ts
 * const model: ContinuousDenoiser = createModel({ type: 'mlp-denoiser', dim: 2, prediction: 'eps' });
 * const loss = vdmNelbo(proc, model, x0, rng);
 * ```
 */
export interface ContinuousDenoiser {
  prediction: PredictionKind;
  predict(zt: tf.Tensor, t: tf.Tensor1D): tf.Tensor;
}

/**
 * Causal LM: logits at position i predict token i + 1.
 *
 * @example
 * ```ts
 * const lm: CausalLM = createModel({ type: 'ar-transformer', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4 });
 * const nll = causalLmNll(lm, tokens); // (B,) nats over tokens 1..N-1
 * ```
 */
export interface CausalLM {
  vocabSize: number;
  forward(tokens: tf.Tensor2D): tf.Tensor3D;
}

/**
 * Host (Float64) discrete oracle for exact evaluations: p(x0_i | z_t) for every position of one sequence.
 * `t` is the process's own time (integer step for D3PM, [0, 1] for masked).
 * @returns Float64Array (N*V), [i*V + x] = p(x0_i = x | z_t)
 *
 * @example
 * ```ts
 * const oracle: HostDiscreteOracle = emissionOracle(proc, (L) => hmmPosterior(src, L).marginals);
 * const bound = d3pmNelboHost(proc, oracle, x, rng, 'full').total; // exact full NELBO of x, nats
 * ```
 */
export interface HostDiscreteOracle {
  vocabSize: number;
  posteriorX0(zt: Int32Array, t: number): Float64Array;
}

/**
 * Host (Float64) Gaussian oracle: E[x0 | z_t] for one vector under z_t = α x0 + σ ε.
 *
 * @example
 * ```ts
 * const mix = gmmPreset('rings');
 * const oracle: HostGaussianOracle = { dim: 2, meanX0: (z, a, s) => gmmPosterior(mix, z, a, s).meanX0 };
 * vdmNelboHost(proc, oracle, x, rng, 64);
 * ```
 */
export interface HostGaussianOracle {
  dim: number;
  meanX0(zt: Float64Array, alpha: number, sigma: number): Float64Array;
}
