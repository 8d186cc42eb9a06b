/**
 * AR decoding; D3PM / masked ancestral sampling (with caching); DDPM, DDIM, probability-flow ODE and
 * Euler–Maruyama; cost records and the roofline cost model.
 *
 * @module @altar/samplers
 */
export type {
  CausalLM,
  ContinuousDenoiser,
  CostRecord,
  DiscreteDenoiser,
  ModelCostHints,
  PredictionKind,
  SampleResult,
} from './types.js';
export { CostTracker, modelCallFlops, modelParamBytes } from './cost.js';
export {
  CostModel,
  H100_SXM,
  H200,
  HARDWARE_PROFILES,
  calibrateLocal,
  countDispatches,
  type CalibrationResult,
  type HardwareProfile,
  type RooflinePrediction,
  type RunShape,
} from './roofline.js';
export {
  applyTemperature,
  filterLogits,
  sampleLogits,
  sampleProbs,
  topKFilter,
  topPFilter,
  validateSamplingOptions,
  type SamplingOptions,
} from './categorical.js';
export { sampleAr, type ArSampleOptions, type ArSampleResult } from './ar.js';
export {
  GAUSSIAN_SAMPLERS,
  sampleGaussian,
  toX0Eps,
  type GaussianSampleOptions,
  type GaussianSamplerName,
  type GaussianScheduleLike,
} from './gaussian.js';
export {
  sampleBlocks,
  sampleD3pm,
  sampleMasked,
  type BlockSampleOptions,
  type D3pmProcessLike,
  type D3pmSampleOptions,
  type DiscreteSampleResult,
  type MaskedProcessLike,
  type MaskedSampleOptions,
} from './discrete.js';
export { FREE_POSITION } from './infill.js';
export { perplexityFromBits, repeatedNgramShare, unigramEntropyBits } from './quality.js';
