/**
 * Pick and start a TensorFlow.js backend, fill the kernels it lacks, seeded randomness, memory guards
 * and the safetensors codec.
 *
 * @module @altar/backend
 */
export {
  ALTAR_ERROR_CODES,
  AltarError,
  BackendUnavailableError,
  ConfigError,
  TensorLeakError,
  type AltarErrorCode,
} from './errors.js';
export { silentLogger, type Logger } from './logger.js';
export { isNode, isBrowser, envVar } from './env.js';
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  type InitOptions,
} from './init-types.js';
export { autoOrder, currentBackend, initBackend, parseBackendChoice, requiredBackends } from './init.js';
export { hostFallbackKernels } from './init-attempts.js';
export { webgpuSubgroups } from './webgpu-device.js';
export { registerExtraGradients } from './gradients.js';
export { registerHostFallbackKernels, KNOWN_BAD_KERNELS } from './kernels/host-fallback.js';
export { registerWebgpuFixes } from './kernels/webgpu-fixes.js';
export { registerWasmFastPaths, unsortedSegmentSumReference } from './kernels/wasm-fast-paths.js';
export { Rng, type RngState } from './rng.js';
export {
  fusedKernelsEnabled,
  registerHostKernel,
  setFusedKernels,
  useFused,
  type HostArray,
  type HostKernelSpec,
} from './fused/host-kernel.js';
export {
  FUSED_KERNELS,
  adamwComposition,
  adamwControlledComposition,
  adamwUpdate,
  adamwUpdateControlled,
  biasGelu,
  crossEntropyComposition,
  geluComposition,
  layerNormComposition,
  layerNormFused,
  registerFusedKernels,
  softmaxCrossEntropy,
  squaredNorms,
  type AdamwControlledStep,
  type AdamwStep,
} from './fused/ops.js';
export {
  DECODE_ATTENTION_KERNEL,
  canFuseDecodeAttention,
  decodeAttention,
  type DecodeAttentionAttrs,
} from './fused/decode-attention.js';
export {
  attentionComposition,
  attentionFused,
  canFuseAttention,
  type AttentionGeometry,
  WEBGPU_ATTENTION_MAX_DH,
  type AttentionFusedOptions,
} from './fused/attention.js';
export { bmmUsesFma, bmmWasm, setBmmFma, type BmmMode, type BmmWasm, type WasmHeap } from './fused/bmm-wasm.js';
export { scanLogDecay, selectiveScanComposition, selectiveScanFused, type SelectiveScanOptions } from './fused/scan.js';
export {
  addLayerNorm,
  addLayerNormComposition,
  addRmsNorm,
  addRmsNormComposition,
  rmsNormComposition,
  rmsNormFused,
} from './fused/norm.js';
export { expectNoLeaks, memoryGuard, type MemoryGuard } from './memory.js';
export {
  DTYPE_SIZES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  bytesOf,
  decodeSafetensors,
  encodeSafetensors,
  type SafeDtype,
  type SafeTensor,
  type SafetensorsFile,
} from './io/safetensors.js';
export { floatToHalf, safetensorsToTensors, tensorsToSafetensors, toHostArray } from './io/safetensors-tensors.js';
