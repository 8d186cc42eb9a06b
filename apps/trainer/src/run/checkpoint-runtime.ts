/** Rebuild a family runtime from a checkpoint directory written by `altar train` / `altar demo`. */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError } from '@altar/backend';
import { CHECKPOINT_FILES, decodeTensors, firstNonFinite } from '@altar/train';
import { loadCheckpoint, resolveCheckpointDir } from '@altar/train/node';
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

/** Fail with a usage error (exit 2) when `path` holds no checkpoint: called before the backend starts. */
export function checkRunPath(path: string, which: 'latest' | 'best' = 'latest'): void {
  try {
    resolveCheckpointDir(path, which);
  } catch (e) {
    if (e instanceof AltarError && e.code === 'NOT_FOUND') throw new UsageError(e.message);
    throw e;
  }
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
    // A path that does not exist is the user's mistake (exit 2); a checkpoint that exists but is corrupt is a
    // data error (AltarError, exit 1), as in `altar train --resume`.
    if (e instanceof AltarError && e.code === 'NOT_FOUND') throw new UsageError(e.message);
    throw e;
  }
  let config: RunConfig;
  try {
    config = parseSavedRunConfig(ck.state.config);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new AltarError('BAD_CHECKPOINT', `${ck.dir}/state.json: the saved run config is invalid (${e.message})`);
    throw e;
  }
  const useEma = (opts.weights ?? 'ema') === 'ema' && ck.files[CHECKPOINT_FILES.ema] !== undefined;
  const file = useEma ? CHECKPOINT_FILES.ema : CHECKPOINT_FILES.model;
  const bytes = ck.files[file];
  if (!bytes) throw new AltarError('BAD_CHECKPOINT', `${ck.dir}: missing ${file}`);
  let bad;
  try {
    bad = firstNonFinite(bytes);
  } catch (e) {
    throw new AltarError('BAD_CHECKPOINT', `${ck.dir}/${file}: ${(e as Error).message}`);
  }
  if (bad)
    throw new AltarError(
      'NON_FINITE',
      `${ck.dir}/${file}: tensor '${bad.tensor}' holds ${bad.value} (element ${bad.index}); the run diverged ` +
        `before this checkpoint — point to an earlier step-* directory`,
    );
  // A text run: its corpus (validation split), with the tokenizer the checkpoint was trained with.
  const runtime = buildRuntime(
    config,
    await recipeOptions(config, { tokenizerSpec: savedTokenizerSpec(ck.files, ck.dir) }),
  );
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
