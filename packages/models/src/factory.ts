/** `createModel(config)`: validate, then switch on `type` (unknown types throw ConfigError). */
import { ConfigError } from '@altar/backend';
import {
  validateModelConfig, type ArTransformerConfig, type DiffusionTransformerConfig, type MlpDenoiserConfig, type ModelConfig,
  type SsmLmConfig, type UNetConfig,
} from './config.js';
import { ArTransformer } from './models/ar-transformer.js';
import { DiffusionTransformer } from './models/diffusion-transformer.js';
import { MlpDenoiser } from './models/mlp-denoiser.js';
import { SsmLm } from './models/ssm-lm.js';
import { UNet } from './models/unet.js';

export type AnyModel = ArTransformer | DiffusionTransformer | SsmLm | MlpDenoiser | UNet;

type ModelFor<T> = T extends { type: 'ar-transformer' } ? ArTransformer
  : T extends { type: 'diffusion-transformer' } ? DiffusionTransformer
  : T extends { type: 'ssm-lm' } ? SsmLm
  : T extends { type: 'mlp-denoiser' } ? MlpDenoiser
  : T extends { type: 'unet' } ? UNet
  : AnyModel;

/** Build a model from a (partial) config; missing keys take the documented defaults. */
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
