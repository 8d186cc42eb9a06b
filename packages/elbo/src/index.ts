export type {
  CausalLM,
  ContinuousDenoiser,
  DiscreteDenoiser,
  HostDiscreteOracle,
  HostGaussianOracle,
} from './types.js';
export {
  LN2,
  PROB_FLOOR,
  bitsPer,
  bitsPerDim,
  bitsPerTensor,
  bitsPerToken,
  estimateStats,
  klCategorical,
  klCategoricalHost,
  logSumExp,
  natsToBits,
  type EstimateStats,
} from './stats.js';
export { arNll, causalLmNll, tokenCrossEntropy } from './ar.js';
export {
  ImportanceTimesteps,
  TIMESTEP_SAMPLINGS,
  sampleTimesteps,
  sampleUnitTimes,
  type SampledSteps,
  type TimestepSampling,
} from './timesteps.js';
export { d3pmHybridLoss, d3pmNelbo, d3pmPriorKL, d3pmTerm, d3pmTermParts, type D3PMNelboOptions } from './d3pm.js';
export { maskedNelbo, maskedTerm, type MaskedNelboOptions } from './masked.js';
export {
  d3pmNelboHost,
  d3pmPriorKLHost,
  d3pmTermHost,
  discreteKLHost,
  emissionOracle,
  maskedNelboHost,
  maskedPriorKL,
  maskedTermHost,
  sampleTokensHost,
  type HostBound,
} from './host.js';
export {
  ddpmNelbo,
  ddpmTerm,
  gaussianReconNll,
  gridTime,
  discretizedGaussianLogLik,
  epsMse,
  gaussianPriorKL,
  vdmNelbo,
  type DdpmNelboOptions,
  type GaussianDecoder,
  type VdmNelboOptions,
} from './gaussian.js';
export { ddpmNelboHost, vdmNelboHost } from './gaussian-host.js';
