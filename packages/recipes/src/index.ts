export { CONFIG_BOUNDS, RUN_TRAIN_DEFAULTS, textSection } from './config/sections.js';
export { FORBIDDEN_KEYS, checkConfigTree } from './config/boundary.js';
export { describeValue } from './config/checks.js';
export {
  FAMILIES,
  RunConfigSchema,
  defaultRunConfig,
  isTokenConfig,
  parseRunConfig,
  resolveModelConfig,
  type ArRunConfig,
  type D3pmRunConfig,
  type Family,
  type GaussianRunConfig,
  type MaskedRunConfig,
  type RunConfig,
  type RunConfigInput,
  type SsmRunConfig,
  type TokenRunConfig,
} from './config/schema.js';
export {
  SAMPLER_NAMES,
  type BoundMode,
  type EvalOptions,
  type EvalResult,
  type FamilyRuntime,
  type GivenTokens,
  type TextInfo,
  type SampleOptions,
  type SampleOutput,
  type SamplerName,
} from './runtime.js';
export { hmmSampleBits, mergeCosts, mixtureSampleBits, perExampleBits, type PerExampleBits } from './scoring.js';
export { checkGiven, formatTokenRows, givenPrefixes, type TokenRecipeOptions } from './families/token-common.js';
export { keptExactly, parseInfill, promptTokens } from './text.js';
export { buildLmRuntime } from './families/lm.js';
export { buildD3pmRuntime, buildMaskedRuntime } from './families/discrete.js';
export { buildGaussianRuntime, type GaussianRecipeOptions } from './families/gaussian.js';
export { mixtureScale, powerTimes, predictionMse, T_MIN } from './families/gaussian-loss.js';
export { buildRuntime } from './build.js';
export { dropInertSavedKeys, parseSavedRunConfig } from './config/saved.js';
