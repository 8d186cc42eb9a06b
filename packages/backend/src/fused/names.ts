/**
 * Kernel names of altar's fused ops (tfjs kernel registry keys).
 *
 * @example
 * ```ts
 * tf.getKernel(FUSED_KERNELS.biasGelu, 'wasm') !== undefined; // true after initBackend('wasm')
 * ```
 */
export const FUSED_KERNELS = {
  biasGelu: 'AltarBiasGelu',
  biasGeluGrad: 'AltarBiasGeluGrad',
  layerNorm: 'AltarLayerNorm',
  layerNormGrad: 'AltarLayerNormGrad',
  crossEntropy: 'AltarSoftmaxCrossEntropy',
  crossEntropyGrad: 'AltarSoftmaxCrossEntropyGrad',
  adamw: 'AltarAdamW',
  squaredNorms: 'AltarSquaredNorms',
  selectiveScan: 'AltarSelectiveScan',
  selectiveScanGrad: 'AltarSelectiveScanGrad',
  rmsNorm: 'AltarRmsNorm',
  rmsNormGrad: 'AltarRmsNormGrad',
  addLayerNorm: 'AltarAddLayerNorm',
  addLayerNormGrad: 'AltarAddLayerNormGrad',
  addRmsNorm: 'AltarAddRmsNorm',
  addRmsNormGrad: 'AltarAddRmsNormGrad',
  attention: 'AltarAttention',
  attentionGrad: 'AltarAttentionGrad',
} as const;
