/**
 * Node-only file helpers (`@altar/models/node`): `<dir>/<name>.json` + `<dir>/<name>.safetensors`.
 *
 * @module @altar/models/node
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel, saveModel } from './io/checkpoint.js';
import type { AnyModel } from './factory.js';
import type { Model } from './models/base.js';

/**
 * Write atomically (temp file + rename). Returns the two paths.
 *
 * @example
 * ```ts
 * await saveModelFiles(model, 'checkpoints', 'lm'); // checkpoints/lm.json + checkpoints/lm.safetensors
 * ```
 */
export async function saveModelFiles(
  model: Model,
  dir: string,
  name: string,
): Promise<{ config: string; weights: string }> {
  const ckpt = await saveModel(model);
  await mkdir(dir, { recursive: true });
  const cfg = join(dir, `${name}.json`);
  const w = join(dir, `${name}.safetensors`);
  await writeFile(`${w}.tmp`, ckpt.weights);
  await rename(`${w}.tmp`, w);
  await writeFile(`${cfg}.tmp`, ckpt.config + '\n');
  await rename(`${cfg}.tmp`, cfg);
  return { config: cfg, weights: w };
}

/**
 * Load `<dir>/<name>.json` and `<dir>/<name>.safetensors` (written by {@link saveModelFiles}) into a model.
 *
 * @example
 * ```ts
 * const model = await loadModelFiles('checkpoints', 'lm');
 * ```
 */
export async function loadModelFiles(dir: string, name: string): Promise<AnyModel> {
  const [config, weights] = await Promise.all([
    readFile(join(dir, `${name}.json`), 'utf8'),
    readFile(join(dir, `${name}.safetensors`)),
  ]);
  return loadModel({ config, weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) });
}
