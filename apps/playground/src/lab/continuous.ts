/**
 * Continuous (Gaussian) diffusion in the playground, z_t = α_t x + σ_t ε, built by @altar/recipes'
 * Gaussian recipe (the one `altar train` runs) with the playground's settings as a run config:
 *   gaussian        2-D mixture points, MlpDenoiser, data divided by the mixture's scale (data.gmm.standardise)
 *   gaussian-image  procedural 16×16 grey images (pixels in [−1, 1]), U-Net
 * Both train on the MSE of the model's own parametrisation (loss 'mse'; v for models made here: Salimans &
 * Ho 2022), sample with DDIM (Song et al. 2021, η = 0) and report, every few steps, the continuous-time VDM
 * NELBO (Kingma et al. 2021, eq. 17, times drawn uniformly in log-SNR) on fresh data in bits per dimension.
 * This module adds what the page shows: z_t and the model's x̂0 at every call of the sampler.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { ShapeImageSource, type GaussianMixtureSource } from '@altar/data';
import { MlpDenoiser, UNet, validateModelConfig, type AnyModel, type ModelConfig } from '@altar/models';
import { GaussianProcess, type GaussianScheduleKind, type PredictionKind } from '@altar/noise';
import {
  buildGaussianRuntime as buildRecipe,
  parseRunConfig,
  SAMPLER_NAMES,
  type FamilyRuntime as RecipeRuntime,
  type RunConfig,
} from '@altar/recipes';
import type { GaussianSamplerName } from '@altar/samplers';
import type { Size } from '../state.js';
import type { FamilyRuntime, SampleRun } from './runtime.js';

/** The image family's data: 16×16 grey shapes and digits, the smallest size the U-Net's two levels allow to look like something. */
export const IMAGE_SIZE = 16;
export const IMAGE_CHANNELS = 1;

/**
 * U-Net widths per size preset. tiny (24.8k parameters) takes ≈150 ms per batch-16 step on wasm in Node and
 * draws shape-sized blobs after ~300 steps; small (97.6k) ≈600 ms per batch-32 step, sharper with time.
 */
export const IMAGE_PRESETS: Record<Size, { baseChannels: number; channelMults: number[] }> = {
  tiny: { baseChannels: 8, channelMults: [1, 2] },
  small: { baseChannels: 16, channelMults: [1, 2] },
};

/** The image family's defaults where the URL keeps the token families' (lr 0.01 and batch 32 are too much for a U-Net on wasm). */
export const IMAGE_TRAIN = { lr: 3e-3, batch: 16, warmupSteps: 20, emaDecay: 0.99 } as const;

export function imageModelConfig(size: Size, seed: number): ModelConfig {
  const p = IMAGE_PRESETS[size];
  return validateModelConfig({
    type: 'unet',
    imageSize: IMAGE_SIZE,
    channels: IMAGE_CHANNELS,
    baseChannels: p.baseChannels,
    channelMults: p.channelMults,
    prediction: 'v',
    seed,
  });
}

let shapes: ShapeImageSource | null = null;
/** The one image source of the playground (all shape kinds, 16×16×1). */
export function imageSource(): ShapeImageSource {
  shapes ??= new ShapeImageSource({ size: IMAGE_SIZE, channels: IMAGE_CHANNELS });
  return shapes;
}

export type ContinuousData =
  | {
      kind: 'points';
      gmm: GaussianMixtureSource;
      /** The model sees x / scale. */ scale: number;
      /** The preset's name, for the run config. */ preset?: 'rings' | 'grid' | 'moons';
    }
  | { kind: 'images'; images: ShapeImageSource };

export interface ContinuousOptions {
  process: GaussianScheduleKind;
  sampler: GaussianSamplerName;
  /** Training times t = tMin + (1 − tMin)·u^p for the prediction MSE (default 1: uniform). */
  timePower?: number;
}

/**
 * The model's clean-data estimate x̂0 from one call, on the host (α, σ at the call's time):
 * ε-prediction x̂0 = (z − σ ε̂)/α, v-prediction x̂0 = α z − σ v̂ (Salimans & Ho 2022), x0-prediction as is;
 * clipped like the sampler clips it, then scaled back to data units.
 */
export function hostX0(
  kind: PredictionKind,
  z: Float32Array,
  pred: Float32Array,
  a: number,
  s: number,
  clip: [number, number],
  scale: number,
): Float32Array {
  return Float32Array.from(z, (zi, i) => {
    const p = pred[i]!;
    const x = kind === 'x0' ? p : kind === 'v' ? a * zi - s * p : (zi - s * p) / Math.max(a, 1e-12);
    return Math.min(clip[1], Math.max(clip[0], x)) * scale;
  });
}

/** The run config of a playground Gaussian model: what its runtime is built from and what an export writes. */
export function continuousRunConfig(
  model: Record<string, unknown>,
  data: ContinuousData,
  opts: { process: GaussianScheduleKind; timePower?: number },
  train: { lr?: number; seed?: number; steps?: number } = {},
): RunConfig {
  const d =
    data.kind === 'images'
      ? { source: 'images', images: { size: data.images.size, channels: data.images.channels } }
      : { source: 'gmm', gmm: { preset: data.preset ?? 'rings', dim: 2, standardise: data.scale !== 1 } };
  const t = {
    ...(train.lr !== undefined && train.lr > 0 ? { lr: train.lr } : {}),
    ...(train.seed !== undefined ? { seed: train.seed } : {}),
    ...(train.steps !== undefined ? { steps: train.steps } : {}),
  };
  const power = opts.timePower !== undefined && opts.timePower !== 1 ? { timePower: opts.timePower } : {};
  return parseRunConfig({
    name: `playground-gaussian`,
    family: 'gaussian',
    data: d,
    model,
    diffusion: { process: opts.process, loss: 'mse', ...power },
    train: t,
  });
}

export function buildContinuousRuntime(
  family: 'gaussian' | 'gaussian-image',
  model: AnyModel,
  data: ContinuousData,
  opts: ContinuousOptions,
): FamilyRuntime {
  const want = data.kind === 'points' ? 'mlp-denoiser' : 'unet';
  if (model.config.type !== want || !(model instanceof MlpDenoiser || model instanceof UNet))
    throw new AltarError('BAD_MODEL', `${family}: expected a '${want}' model, got '${model.config.type}'`);
  const den = model;
  const config = continuousRunConfig({ ...model.config }, data, opts);
  if (config.family !== 'gaussian') throw new AltarError('BAD_CONFIG', `${family}: not a gaussian run config`);
  const rt: RecipeRuntime =
    data.kind === 'points'
      ? buildRecipe(config, { model, gmm: data.gmm, scale: data.scale })
      : buildRecipe(config, { model, images: data.images });
  const proc = new GaussianProcess(opts.process);
  const shape = data.kind === 'points' ? [data.gmm.dim] : [data.images.size, data.images.size, data.images.channels];
  const dim = rt.seqLen;
  const scale = rt.dataScale ?? 1;
  // x̂0 clipped: images to their range; points to ±4 in standardised units (the mixtures live within ±2),
  // since near t = 1 x̂0 = (z − σ ε̂)/α amplifies an untrained model's error without bound.
  const clipX0: [number, number] = data.kind === 'images' ? [-1, 1] : [-4, 4];
  return {
    family,
    model,
    masked: null,
    runConfig: config,
    continuous: { process: opts.process, dataScale: scale },
    unitsPerExample: data.kind === 'points' ? 1 : dim,
    nextBatch: (rng, n) => rt.nextBatch(rng, n),
    loss: rt.loss,
    async boundBits(rng: Rng, n: number) {
      // λ-uniform times: the same expectation as t-uniform without its heavy tails (see @altar/elbo); bits of x.
      const e = await rt.evaluate(rng, { batches: 1, batchSize: n, timeSampling: 'log-snr' });
      return { bits: e.bitsPerToken, stdErr: e.stdErr };
    },
    async sample(rng, batch, steps, samplerName): Promise<SampleRun> {
      const which = SAMPLER_NAMES.find((s) => s === (samplerName ?? opts.sampler)) ?? opts.sampler;
      // z_t of every call (and for images the call's time and output, for the model's x̂0 there) is kept on
      // the device and read back after the run: a synchronous read of a device tensor can stall WebGPU in a worker.
      const images = data.kind === 'images';
      const calls: Array<{ z: tf.Tensor; t?: tf.Tensor; pred?: tf.Tensor }> = [];
      const onModelCall = (zt: tf.Tensor, t: tf.Tensor, pred: tf.Tensor) => {
        calls.push(
          images
            ? { z: tf.keep(tf.clone(zt)), t: tf.keep(tf.clone(t)), pred: tf.keep(tf.clone(pred)) }
            : { z: tf.keep(tf.clone(zt)) },
        );
      };
      try {
        const r = await rt.sample(rng, { sampler: which, n: batch, steps, clipX0, onModelCall });
        const last = Float32Array.from(r.tokens); // data units
        const frames: Float32Array[] = [];
        const x0Frames: Float32Array[] = [];
        for (const c of calls) {
          const z = Float32Array.from(await c.z.data());
          frames.push(Float32Array.from(z, (v) => v * scale));
          if (c.t && c.pred) {
            const t = (await c.t.data())[0]!; // one time per call
            x0Frames.push(
              hostX0(
                den.prediction,
                z,
                Float32Array.from(await c.pred.data()),
                proc.alpha(t),
                proc.sigma(t),
                clipX0,
                scale,
              ),
            );
          }
        }
        frames.push(last);
        const sampler = `${which} (${proc.name}, ${den.prediction}-prediction)`;
        const base = { samples: new Int32Array(0), cost: r.cost, frames: [], sampler, steps };
        return images
          ? { ...base, imageFrames: { size: shape[0]!, channels: shape[2]!, frames, x0Frames: [...x0Frames, last] } }
          : { ...base, pointFrames: frames };
      } finally {
        for (const c of calls) tf.dispose([c.z, ...(c.t ? [c.t] : []), ...(c.pred ? [c.pred] : [])]);
      }
    },
    dispose: () => rt.dispose(),
  };
}
