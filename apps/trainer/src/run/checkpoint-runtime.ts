/** Rebuild a family runtime from a checkpoint directory written by `altar train` / `altar demo`. */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError } from '@altar/backend';
import { CHECKPOINT_FILES, decodeTensors } from '@altar/train';
import { loadCheckpoint } from '@altar/train/node';
import { UsageError } from '../io.js';
import { recipeOptions, savedTokenizerSpec } from './corpus.js';
import { buildRuntime, parseSavedRunConfig, type FamilyRuntime, type RunConfig } from '@altar/recipes';

export interface LoadedRun {
  runtime: FamilyRuntime;
  config: RunConfig;
  dir: string;
  step: number;
  /** Which weights were loaded. */
  weights: 'ema' | 'raw';
}

/** Load the checkpoint that `path` resolves to (latest, or best with which='best'); EMA weights when present unless raw is asked. */
export async function loadRun(
  path: string,
  opts: { which?: 'latest' | 'best'; weights?: 'ema' | 'raw' } = {},
): Promise<LoadedRun> {
  let ck;
  try {
    ck = loadCheckpoint(path, opts.which ?? 'latest');
  } catch (e) {
    if (e instanceof AltarError) throw new UsageError(e.message);
    throw e;
  }
  let config: RunConfig;
  try {
    config = parseSavedRunConfig(ck.state.config);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new UsageError(`${ck.dir}/state.json: the saved run config is invalid (${e.message})`);
    throw e;
  }
  // A text run: its corpus (validation split), with the tokenizer the checkpoint was trained with.
  const runtime = buildRuntime(
    config,
    await recipeOptions(config, { tokenizerSpec: savedTokenizerSpec(ck.files, ck.dir) }),
  );
  const useEma = (opts.weights ?? 'ema') === 'ema' && ck.files[CHECKPOINT_FILES.ema] !== undefined;
  const file = useEma ? CHECKPOINT_FILES.ema : CHECKPOINT_FILES.model;
  const bytes = ck.files[file];
  if (!bytes) {
    runtime.dispose();
    throw new UsageError(`${ck.dir}: missing ${file}`);
  }
  const tensors = decodeTensors(bytes, `${ck.dir}/${file}`);
  try {
    runtime.model.setWeights(tensors);
  } catch (e) {
    runtime.dispose();
    throw new AltarError('BAD_CHECKPOINT', `${ck.dir}/${file}: ${(e as Error).message}`);
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return { runtime, config, dir: ck.dir, step: ck.state.step, weights: useEma ? 'ema' : 'raw' };
}
