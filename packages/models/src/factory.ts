/** `createModel(config)`: validate, then switch on `type` (unknown types throw ConfigError). */
import { ConfigError } from '@altar/backend';
import {
  validateModelConfig,
  type ArTransformerConfig,
  type DiffusionTransformerConfig,
  type MlpDenoiserConfig,
  type ModelConfig,
  type SsmLmConfig,
  type UNetConfig,
} from './config.js';
import { ArTransformer } from './models/ar-transformer.js';
import { DiffusionTransformer } from './models/diffusion-transformer.js';
import { MlpDenoiser } from './models/mlp-denoiser.js';
import { SsmLm } from './models/ssm-lm.js';
import { UNet } from './models/unet.js';

/**
 * Any model of the zoo; narrow it by `model.config.type`.
 *
 * @example
 * ```ts
 * const model: AnyModel = loadModel(ckpt);
 * if (model instanceof ArTransformer) model.initState(1);
 * ```
 */
export type AnyModel = ArTransformer | DiffusionTransformer | SsmLm | MlpDenoiser | UNet;

type ModelFor<T> = T extends { type: 'ar-transformer' }
  ? ArTransformer
  : T extends { type: 'diffusion-transformer' }
    ? DiffusionTransformer
    : T extends { type: 'ssm-lm' }
      ? SsmLm
      : T extends { type: 'mlp-denoiser' }
        ? MlpDenoiser
        : T extends { type: 'unet' }
          ? UNet
          : AnyModel;

/**
 * Build a model from a (partial) config; missing keys take the documented defaults.
 *
 * @example
 * ```ts
 * const lm = createModel({ type: 'ar-transformer', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4 }); // typed ArTransformer
 * const logits = lm.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));                              // (1, 3, 256)
 * ```
 */
export function createModel<T extends { type: ModelConfig['type'] }>(config: T): ModelFor<T>;
export function createModel(config: unknown): AnyModel;
export function createModel(config: unknown): AnyModel {
  const c = validateModelConfig(config);
  switch (c.type) {
    case 'ar-transformer':
      return new ArTransformer(c as ArTransformerConfig);
    case 'diffusion-transformer':
      return new DiffusionTransformer(c as DiffusionTransformerConfig);
    case 'ssm-lm':
      return new SsmLm(c as SsmLmConfig);
    case 'mlp-denoiser':
      return new MlpDenoiser(c as MlpDenoiserConfig);
    case 'unet':
      return new UNet(c as UNetConfig);
    default:
      throw new ConfigError('model.type', `unknown model type ${JSON.stringify((c as { type: unknown }).type)}`);
  }
}
