/**
 * Checkpoint state and files: the JSON state (state.json) and its parser, the file names inside a checkpoint,
 * and decoding and assigning the safetensors weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, safetensorsToTensors, type RngState } from '@altar/backend';
import type { TrainConfig } from './config.js';
import type { ParamMap } from './optimizer.js';

/**
 * The JSON part of a checkpoint (state.json): step, configs, random-stream and data positions, optimizer and EMA
 * counters, the best metric so far; with the safetensors files it resumes a run bit-exactly.
 *
 * @example
 * ```ts
 * const { state } = loadCheckpoint('run');
 * const { step, best } = state; // best?.value: the best eval metric so far
 * ```
 */
export interface CheckpointState {
  format: 'altar-checkpoint';
  version: 1;
  step: number;
  /** Whatever the caller passed (the app stores its full run config here). */
  config: unknown;
  trainConfig: TrainConfig;
  rng: { data: RngState; loss: RngState };
  data: { batches: number; state: unknown };
  optimizer: { t: number };
  ema: { updates: number } | null;
  best: { metric: string; value: number; step: number } | null;
  lastEval: Record<string, number> | null;
  /** The caller's extra state (`TrainerOptions.appState`); absent in checkpoints written before it existed. */
  app?: unknown;
  /** Whether the last step's loss and the saved weights (model, EMA) were finite; absent in older checkpoints. */
  health?: { lossFinite: boolean; weightsFinite: boolean };
  savedAt: string;
}

/**
 * A checkpoint in memory: named files (state.json, model/ema/optimizer .safetensors).
 *
 * @example
 * ```ts
 * const ckpt: Checkpoint = await trainer.snapshot(runConfig);
 * Object.keys(ckpt.files); // ['state.json', 'model.safetensors', 'optimizer.safetensors', …]
 * ```
 */
export interface Checkpoint {
  state: CheckpointState;
  files: Record<string, Uint8Array>;
}

/**
 * The file names inside a checkpoint directory.
 *
 * @example
 * ```ts
 * const weights = readFileSync(join(dir, CHECKPOINT_FILES.model)); // loads with @altar/models' loadModel
 * ```
 */
export const CHECKPOINT_FILES = {
  state: 'state.json',
  model: 'model.safetensors',
  ema: 'ema.safetensors',
  optimizer: 'optimizer.safetensors',
} as const;

/**
 * Parse a checkpoint's state.json, checking its format marker.
 *
 * @example
 * ```ts
 * const state = parseCheckpointState(readFileSync('run/step-00000100/state.json', 'utf8'));
 * ```
 */
export function parseCheckpointState(text: string, label = 'state.json'): CheckpointState {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new AltarError('BAD_CHECKPOINT', `${label}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const st = s as Partial<CheckpointState>;
  if (st.format !== 'altar-checkpoint' || st.version !== 1 || !Number.isInteger(st.step)) {
    throw new AltarError(
      'BAD_CHECKPOINT',
      `${label}: not an altar checkpoint (format ${JSON.stringify(st.format)}, version ${JSON.stringify(st.version)})`,
    );
  }
  return st as CheckpointState;
}

/**
 * Assign tensors to parameters by name, checking every name and shape.
 *
 * @example
 * ```ts
 * const { tensors } = safetensorsToTensors(bytes);
 * assignParams(params, tensors, 'model.safetensors'); // throws naming a missing name or a wrong shape
 * tf.dispose(Object.values(tensors));
 * ```
 */
export function assignParams(params: ParamMap, tensors: Record<string, tf.Tensor>, label = 'weights'): void {
  for (const [name, p] of Object.entries(params)) {
    const t = tensors[name];
    if (!t) throw new AltarError('BAD_CHECKPOINT', `${label} lacks parameter '${name}'`);
    if (!tf.util.arraysEqual(t.shape, p.shape))
      throw new AltarError(
        'BAD_CHECKPOINT',
        `${label}: parameter '${name}' has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`,
      );
    if (t.dtype !== 'float32')
      throw new AltarError('BAD_CHECKPOINT', `${label}: parameter '${name}' has dtype ${t.dtype}, expected float32`);
    p.assign(t);
  }
}

/**
 * Decode a safetensors file into tensors (caller disposes); errors name the file.
 *
 * @example
 * ```ts
 * const tensors = decodeTensors(files['ema.safetensors']!, 'ema.safetensors');
 * ```
 */
export function decodeTensors(bytes: Uint8Array, label: string): Record<string, tf.Tensor> {
  try {
    return safetensorsToTensors(bytes).tensors;
  } catch (e) {
    throw new AltarError('BAD_CHECKPOINT', `${label}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
