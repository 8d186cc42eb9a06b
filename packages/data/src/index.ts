/**
 * Token, vector and image sources, including known-likelihood synthetic sources (an HMM, a Gaussian
 * mixture) with exact log p(x) and exact posterior oracles; tokenizers and batching. Browser-safe.
 *
 * @module @altar/data
 */
export { tokensToTensor, type TokenSource } from './token-source.js';
export { HmmSource } from './hmm.js';
export {
  buildHmmMatrices,
  defaultHmmConfig,
  resolveHmmConfig,
  type EntropyReport,
  type HmmConfig,
  type HmmMatrices,
} from './hmm-config.js';
export {
  hmmOracleCausalLM,
  hmmOracleDenoiser,
  hmmPosterior,
  type HmmFilterState,
  type HmmOracleCausalLM,
  type HmmOracleDenoiser,
  type HmmOracleOptions,
  type HmmPosterior,
  type NoiseMatrixFn,
} from './hmm-oracle.js';
export {
  GaussianMixtureSource,
  gmmPosterior,
  type GaussianMixtureSpec,
  type GmmPosterior,
  type VectorSource,
} from './gmm.js';
export { gmmOracleDenoiser, type GaussianSchedule, type GmmOracleDenoiser, type PredictionKind } from './gmm-oracle.js';
export { GMM_PRESETS, gmmPreset, type GmmPresetName, type GmmPresetOptions } from './gmm-presets.js';
export {
  SHAPE_KINDS,
  ShapeImageSource,
  bytesToFloats,
  floatsToBytes,
  generateShapeImages,
  type ImageBatch,
  type ShapeImageConfig,
  type ShapeKind,
} from './images.js';
export {
  ByteTokenizer,
  CharTokenizer,
  loadHfTokenizer,
  tokenizerFromJSON,
  type CharTokenizerOptions,
  type Tokenizer,
} from './tokenizers.js';
export {
  ArrayTokenSource,
  ArrayTokenStream,
  TokenBatcher,
  splitTrainVal,
  validationBlockMask,
  type BatcherPosition,
  type SplitOptions,
  type TokenBatcherOptions,
  type TokenStream,
  type TokenStreamPosition,
} from './batcher.js';
export {
  InMemoryTokenCorpus,
  StoredTokenCorpus,
  corpusTokenSource,
  tokenizerKindOf,
  type CorpusSplit,
  type CorpusTokenStore,
  type InMemoryCorpusOptions,
  type TokenCorpus,
  type TokenCorpusParts,
  type TokenizerKind,
} from './text-corpus.js';
export { sha256Hex } from './sha256.js';
export { createTokenSource, createVectorSource, type TokenSourceSpec, type VectorSourceSpec } from './sources.js';
