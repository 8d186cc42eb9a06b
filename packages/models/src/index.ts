/**
 * Layers and the model zoo (causal transformer with KV cache, time-conditioned bidirectional
 * transformer, MLP and U-Net denoisers, linear and sliding-window attention, S4D and selective SSMs)
 * and model checkpoints.
 *
 * @module @altar/models
 */
export {
  MODEL_TYPES,
  validateModelConfig,
  type ArTransformerConfig,
  type CausalAttention,
  type DiffusionTransformerConfig,
  type MlpDenoiserConfig,
  type ModelConfig,
  type ModelConfigInput,
  type ModelType,
  type PredictionKind,
  type SsmLmConfig,
  type UNetConfig,
} from './config.js';
export { createModel, type AnyModel } from './factory.js';
export { BaseModel, type Model } from './models/base.js';
export { ArTransformer, type ArState } from './models/ar-transformer.js';
export { DiffusionTransformer } from './models/diffusion-transformer.js';
export { SsmLm, type MixerState, type SsmState } from './models/ssm-lm.js';
export { bosDataLm, bosDataLogits } from './models/bos-lm.js';
export { MlpDenoiser } from './models/mlp-denoiser.js';
export { UNet, Conv3x3 } from './models/unet.js';
export { ParamStore, type Init } from './layers/params.js';
export { Linear, dropout, gelu, modulate, silu, type ForwardOptions } from './layers/basic.js';
export { matmulLast, mm2d } from './layers/matmul.js';
export { Embedding, ONE_HOT_EMBED_MAX_VOCAB } from './layers/embedding.js';
export { LayerNorm, RMSNorm, makeNorm, type Norm, type NormKind } from './layers/norm.js';
export { Mlp, TimeEmbedder, timestepEmbedding, type MlpKind } from './layers/mlp.js';
export { FourierFeatures } from './layers/fourier.js';
export { applyRope, ropeTables } from './layers/rope.js';
export {
  Attention,
  eluFeature,
  type AttentionCache,
  type AttentionKind,
  type AttentionLayer,
  type AttentionOptions,
} from './layers/attention.js';
export { S4d, type S4dOptions, type S4dState } from './layers/s4d.js';
export {
  LOG_DECAY_MIN,
  MAX_SCAN_CHUNK,
  SelectiveSsm,
  type SelectiveOptions,
  type SelectiveState,
} from './layers/selective.js';
export {
  DTYPE_SIZES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  bytesOf,
  decodeSafetensors,
  encodeSafetensors,
  floatToHalf,
  safetensorsToTensors,
  tensorsToSafetensors,
  toHostArray,
  type SafeDtype,
  type SafeTensor,
  type SafetensorsFile,
} from './io/safetensors.js';
export { loadModel, saveModel, type ModelCheckpoint } from './io/checkpoint.js';
