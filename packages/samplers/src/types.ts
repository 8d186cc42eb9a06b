/**
 * Structural contracts the samplers accept. Nothing here imports a model package: any object with the
 * right shape is a model (CONVENTIONS.md "Cross-package contracts").
 */
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Optional cost hints a model may offer; the samplers read them when present.
 *
 * @example
 * ```ts
 * const denoiser: DiscreteDenoiser & ModelCostHints = {
 *   vocabSize: 32,
 *   predictX0Logits: (zt, t) => model.predictX0Logits(zt, t),
 *   paramCount: () => model.paramCount(),
 *   bytesPerWeight: 4,
 *   flops: (batch, seqLen) => model.flops(batch, seqLen),
 * };
 * ```
 */
export interface ModelCostHints {
  /** Number of parameters (weights) — `paramCount() × bytesPerWeight` is the bytes one call loads. */
  paramCount?(): number;
  /** Bytes per weight (4 for float32, 2 for bf16) — the lecture's bpw. */
  bytesPerWeight?: number;
  /**
   * Forward FLOPs per token processed. A number, or a function of the context length the token attends
   * to (attention grows with it). The samplers multiply by the tokens each call processes.
   */
  flopsPerToken?: number | ((contextLen: number) => number);
  /**
   * FLOPs of one call on a (batch, seqLen) input, if the model prefers to say it whole. `contextLen` is the
   * number of positions the call's last token sees (causal models: seqLen for a forward, state.pos + 1 for a
   * cached step); models that ignore it take the call as a full (batch, seqLen) pass.
   */
  flops?(batch: number, seqLen: number, contextLen?: number): number;
}

/**
 * A causal language model (AR transformer, SSM): full-sequence `forward` and one-token `step`.
 *
 * @example
 * ```ts
 * // Any @altar/models causal model fits (ArTransformer, SsmLm), as does @altar/data's hmmOracleCausalLM:
 * const lm: CausalLM<ArState> = createModel({ type: 'ar-transformer', vocabSize: 32, dModel: 64, nLayers: 2, nHeads: 4 });
 * const { samples } = await sampleAr(lm, { prompt: [[0]], length: 16, rng: new Rng(0) });
 * ```
 */
export interface CausalLM<S = unknown> extends ModelCostHints {
  readonly vocabSize: number;
  /** tokens int32 (B, N) -> logits (B, N, V); position i predicts token i + 1. */
  forward(tokens: tf.Tensor2D): tf.Tensor3D;
  initState(batch: number): S;
  /** tokens int32 (B,) -> next-token logits (B, V) and the new state. The old state stays valid until disposed. */
  step(tokens: tf.Tensor1D, state: S): { logits: tf.Tensor2D; state: S };
  disposeState(state: S): void;
}

/**
 * A discrete denoiser: logits over x0's V data tokens (never the mask) given z_t and t ∈ [0, 1].
 *
 * @example
 * ```ts
 * // A denoiser that knows nothing: uniform logits over V = 8 tokens.
 * const uniform: DiscreteDenoiser = {
 *   vocabSize: 8,
 *   predictX0Logits: (zt) => tf.zeros([zt.shape[0], zt.shape[1], 8]) as tf.Tensor3D,
 * };
 * ```
 */
export interface DiscreteDenoiser extends ModelCostHints {
  readonly vocabSize: number;
  predictX0Logits(zt: tf.Tensor2D, t: tf.Tensor1D): tf.Tensor3D;
}

/**
 * What a continuous denoiser predicts: ε, x0 or v = α ε − σ x0 (the same name in @altar/noise, models, data, elbo).
 *
 * @example
 * ```ts
 * const kind: PredictionKind = 'v';
 * const { x0, eps } = toX0Eps(prediction, kind, zt, alpha, sigma);
 * ```
 */
export type PredictionKind = 'eps' | 'x0' | 'v';

/**
 * A continuous denoiser: a prediction of declared type, same shape as z_t.
 *
 * @example
 * ```ts
 * // The exact denoiser of a Gaussian mixture (@altar/data) predicts ε:
 * const proc = new GaussianProcess('vp-cosine');
 * const oracle: ContinuousDenoiser = gmmOracleDenoiser(gmmPreset('rings'), proc.schedule, 'eps');
 * const { samples } = await sampleGaussian(oracle, proc, { sampler: 'ddim', shape: [256, 2], steps: 50, rng: new Rng(0) });
 * ```
 */
export interface ContinuousDenoiser extends ModelCostHints {
  readonly prediction: PredictionKind;
  predict(zt: tf.Tensor, t: tf.Tensor1D): tf.Tensor;
}

/**
 * What every sampler reports beside its samples (CONVENTIONS.md sampler results).
 *
 * @example
 * ```ts
 * const { cost } = await sampleMasked(oracle, proc, { batch: 8, seqLen: 16, steps: 64, rng: new Rng(1), cached: true });
 * const { nfe, weightBytesLoaded, tokensPerSec } = cost; // NFE ≤ 64 with caching
 * ```
 */
export interface CostRecord {
  /** Network function evaluations (one batched call = 1). */
  nfe: number;
  /** nfe × parameter bytes: every call streams every weight once (the lecture's n·d·bpw vs T·d·bpw). */
  weightBytesLoaded: number;
  /** Parameter bytes used for weightBytesLoaded (0 for oracles and models that report no size). */
  paramBytes: number;
  /** Estimated forward FLOPs; 0 when the model offers no flops hint (then flopsKnown is false). */
  flops: number;
  flopsKnown: boolean;
  wallMs: number;
  /** Tokens (or vector elements' rows) generated: batch × sequence length. */
  tokens: number;
  tokensPerSec: number;
  /**
   * Max of tf.memory().numBytes observed during the run, sampled after every network call and step
   * (live tensors between calls; a call's own intermediates, freed by its tidy, are not seen).
   */
  peakTensorBytes: number;
}

/**
 * What a sampler returns: the samples (a tensor, or host tokens for discrete samplers) and the run's cost.
 *
 * @example
 * ```ts
 * const result: SampleResult = await sampleGaussian(model, proc, { sampler: 'ddpm', shape: [16, 2], steps: 100, rng });
 * result.cost.nfe; // 100
 * result.samples.dispose();     // the caller owns the tensor
 * ```
 */
export interface SampleResult<T = tf.Tensor> {
  samples: T;
  cost: CostRecord;
}
