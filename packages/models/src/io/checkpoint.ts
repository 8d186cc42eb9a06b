/**
 * Model checkpoints as two byte-level artefacts (browser-safe: no fs here): the config as JSON and the
 * parameters as safetensors. The safetensors `__metadata__` also records the format and config, so a
 * lone .safetensors file is self-describing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import { validateModelConfig } from '../config.js';
import { createModel, type AnyModel } from '../factory.js';
import type { Model } from '../models/base.js';
import { safetensorsToTensors, tensorsToSafetensors } from './safetensors.js';

/**
 * A model in memory: its config as JSON text and its weights as a safetensors file.
 *
 * @example
 * ```ts
 * const ckpt: ModelCheckpoint = await saveModel(model);
 * localStorage.setItem('config', ckpt.config); // the weights are a plain Uint8Array (safetensors)
 * ```
 */
export interface ModelCheckpoint {
  /** The model config as JSON text. */
  config: string;
  /** The parameters as a safetensors file. */
  weights: Uint8Array;
}

/**
 * A model's config (JSON text) and weights (a safetensors file with the config in its metadata), in memory and
 * browser-safe; `metadata` adds string entries to the file.
 *
 * @example
 * ```ts
 * const { config, weights } = await saveModel(model, { metadata: { step: '1000' } });
 * ```
 */
export async function saveModel(
  model: Model,
  opts: { metadata?: Record<string, string> } = {},
): Promise<ModelCheckpoint> {
  const config = JSON.stringify(model.config);
  const weights = await tensorsToSafetensors(model.getWeights(), {
    format: 'altar',
    'altar.config': config,
    'altar.params': String(model.paramCount()),
    ...opts.metadata,
  });
  return { config, weights };
}

/**
 * Rebuild a model from a checkpoint. `config` may be JSON text or an object; when absent, the config
 * recorded in the safetensors metadata is used. Names and shapes must match the config's model exactly.
 *
 * @example
 * ```ts
 * const again = loadModel(await saveModel(model)); // same weights, bit-exact
 * const fromFile = loadModel({ weights: bytes });   // config read from the file's metadata
 * ```
 */
export function loadModel(ckpt: { config?: string | object; weights: Uint8Array }): AnyModel {
  const { tensors, metadata } = safetensorsToTensors(ckpt.weights);
  try {
    let raw: unknown = ckpt.config ?? metadata['altar.config'];
    if (raw === undefined)
      throw new AltarError('BAD_CHECKPOINT', 'loadModel: no config given and none in the safetensors metadata');
    if (typeof raw === 'string') {
      try {
        raw = JSON.parse(raw);
      } catch (e) {
        throw new AltarError('BAD_CHECKPOINT', `loadModel: config is not valid JSON (${(e as Error).message})`);
      }
    }
    const model = createModel(validateModelConfig(raw));
    try {
      model.setWeights(tensors);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
