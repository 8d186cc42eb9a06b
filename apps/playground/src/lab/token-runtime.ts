/**
 * The token families of the playground, built by @altar/recipes (the same recipes as `altar train`), with
 * the playground's choices as a run config: masked diffusion on the linear schedule (α_t = 1 − t, what
 * the Forward view scrubs), D3PM uniform with T = 32 (= n, so its sampler costs at most what AR costs).
 * This module adapts the recipe to the page: step-by-step frames of each sampler.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { HmmSource } from '@altar/data';
import type { AnyModel } from '@altar/models';
import { MaskedProcess } from '@altar/noise';
import {
  buildRuntime as buildRecipe,
  parseRunConfig,
  type FamilyRuntime as RecipeRuntime,
  type RunConfig,
} from '@altar/recipes';
import type { Family } from '../state.js';
import type { FamilyRuntime, SampleRun } from './runtime.js';

/** D3PM's number of discrete steps: 32 matches n, so its sampler costs what AR costs at most. */
export const D3PM_T = 32;

type TokenFamily = 'ar' | 'ssm' | 'masked-diffusion' | 'd3pm';

export function isTokenFamily(f: Family): f is TokenFamily {
  return f === 'ar' || f === 'ssm' || f === 'masked-diffusion' || f === 'd3pm';
}

/**
 * The run config of a playground token model (validated by the shared schema): what the runtime is built
 * from and what an export writes, so `altar eval` / `altar sample` rebuild the same recipe.
 */
export function tokenRunConfig(
  family: TokenFamily,
  model: Record<string, unknown>,
  train: { lr?: number; seed?: number; steps?: number } = {},
): RunConfig {
  const diffusion =
    family === 'masked-diffusion'
      ? { diffusion: { process: 'masked', schedule: 'linear', timesteps: 'stratified' } }
      : family === 'd3pm'
        ? { diffusion: { process: 'uniform', schedule: 'cosine', T: D3PM_T, timesteps: 'stratified' } }
        : {};
  const t = {
    ...(train.lr !== undefined && train.lr > 0 ? { lr: train.lr } : {}),
    ...(train.seed !== undefined ? { seed: train.seed } : {}),
    ...(train.steps !== undefined ? { steps: train.steps } : {}),
  };
  return parseRunConfig({
    name: `playground-${family}`,
    family,
    data: { source: 'hmm' },
    model,
    ...diffusion,
    train: t,
  });
}

function rows(flat: Int32Array, B: number, N: number): Int32Array[] {
  return Array.from({ length: B }, (_, b) => flat.slice(b * N, b * N + N));
}

/** Records each model input z_t (the sampler builds it from host tokens, so the read is cheap); masked ids become −1. */
function frameRecorder(frames: Int32Array[][], B: number, N: number, mask: number) {
  return (zt: tf.Tensor2D) => {
    const z = zt.dataSync();
    frames.push(
      Array.from({ length: B }, (_, b) => Int32Array.from(z.subarray(b * N, b * N + N), (v) => (v === mask ? -1 : v))),
    );
  };
}

/** The playground runtime of a token model: the recipe's loss and samplers, plus frames for the views. */
export function buildTokenRuntime(family: Family, model: AnyModel, source: HmmSource): FamilyRuntime {
  if (!isTokenFamily(family)) throw new AltarError('BAD_ARG', `buildTokenRuntime: '${family}' is not a token family`);
  const config = tokenRunConfig(family, { ...model.config });
  const rt: RecipeRuntime = buildRecipe(config, { source, model });
  const V = source.vocabSize;
  const N = source.seqLen;
  const masked =
    config.family === 'masked-diffusion'
      ? new MaskedProcess({ vocabSize: V, schedule: config.diffusion.schedule })
      : null;
  const sample = async (
    rng: Parameters<RecipeRuntime['sample']>[0],
    batch: number,
    steps: number,
    sampler = 'cached',
  ): Promise<SampleRun> => {
    const cached = sampler !== 'uncached';
    if (family === 'ar' || family === 'ssm') {
      const r = await rt.sample(rng, { sampler: 'ar', n: batch, cached });
      // AR writes left to right: frame k is every row's first k+1 tokens.
      const full = rows(Int32Array.from(r.tokens), batch, N);
      const frames = Array.from({ length: N }, (_, k) =>
        full.map((row) => Int32Array.from(row, (v, i) => (i <= k ? v : -1))),
      );
      const how = cached ? (family === 'ar' ? 'KV cache' : 'recurrent state') : 'no cache: full forward per token';
      return { samples: Int32Array.from(r.tokens), cost: r.cost, frames, sampler: `${family} (${how})`, steps: N };
    }
    const frames: Int32Array[][] = [];
    if (family === 'masked-diffusion') {
      const r = await rt.sample(rng, {
        sampler: cached ? 'masked-cached' : 'masked',
        n: batch,
        steps,
        onModelInput: frameRecorder(frames, batch, N, V),
      });
      const samples = Int32Array.from(r.tokens);
      frames.push(rows(samples, batch, N));
      return {
        samples,
        cost: r.cost,
        frames,
        sampler: cached ? 'masked (cached)' : 'masked (uncached: a model call every step)',
        steps,
      };
    }
    const S = Math.min(D3PM_T, steps);
    const r = await rt.sample(rng, {
      sampler: 'd3pm',
      n: batch,
      steps: S,
      onModelInput: frameRecorder(frames, batch, N, -2),
    });
    const samples = Int32Array.from(r.tokens);
    frames.push(rows(samples, batch, N));
    return { samples, cost: r.cost, frames, sampler: `d3pm uniform (T = ${D3PM_T})`, steps: S };
  };
  return { family, model, runConfig: config, masked, loss: rt.loss, sample, dispose: () => rt.dispose() };
}
