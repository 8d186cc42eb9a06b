/**
 * The Gaussian family: diffusion on the Gaussian-mixture source (vectors, exact density) or procedural
 * images, with the config's process (vp-linear, vp-cosine, ve, flow). Evaluation is the NELBO in bits per
 * dimension of the data: without diffusion.T the continuous-time VDM bound (Kingma et al. 2021, eq. 17,
 * log-SNR form), with T the discrete-time DDPM bound over T steps (Ho et al. 2020). Training minimises
 * that bound (loss 'nelbo', one term per example drawn per `timesteps`) or the MSE of the model's own
 * parameterisation (loss 'mse', t by `timePower`; gaussian-loss.ts). Images in [−1, 1] use the discretised
 * 8-bit decoder (Ho et al. §3.3); mixture vectors a Gaussian decoder (differential: bits/dim can be < 0).
 * With data.gmm.standardise the model sees x / s; the reported bits are those of x (+ log2 s per dimension).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, type Rng } from '@altar/backend';
import { gmmPreset, ShapeImageSource, type GaussianMixtureSource } from '@altar/data';
import { ddpmNelbo, vdmNelbo } from '@altar/elbo';
import { createModel, MlpDenoiser, UNet, validateModelConfig, type AnyModel } from '@altar/models';
import { GaussianProcess } from '@altar/noise';
import { GAUSSIAN_SAMPLERS, sampleGaussian } from '@altar/samplers';
import type { LossFn, ParamMap } from '@altar/train';
import type { GaussianRunConfig } from '../config/schema.js';
import type { FamilyRuntime, SamplerName } from '../runtime.js';
import { mixtureSampleBits, perExampleBits } from '../scoring.js';
import { mixtureScale, powerTimes, predictionMse, T_MIN } from './gaussian-loss.js';

/**
 * Options of {@link buildGaussianRuntime}: an existing model, mixture, image source or data scale to wrap.
 *
 * @example
 * ```ts
 * buildGaussianRuntime(config, { gmm: gmmPreset('moons'), scale: 1 });
 * ```
 */
export interface GaussianRecipeOptions {
  /** An existing denoiser to wrap (the runtime then owns and disposes it); default: built from config.model. */
  model?: AnyModel;
  /** The mixture (default: config.data.gmm's preset), e.g. one already built. */
  gmm?: GaussianMixtureSource;
  /** The image source (default: a ShapeImageSource of config.data.images). */
  images?: ShapeImageSource;
  /** The scale the model divides the data by (default: the mixture's with data.gmm.standardise, else 1). */
  scale?: number;
}

type Data =
  | { kind: 'gmm'; gmm: GaussianMixtureSource; shape: number[] }
  | { kind: 'images'; img: ShapeImageSource; shape: number[] };

function dataOf(config: GaussianRunConfig, opts: GaussianRecipeOptions): Data {
  const d = config.data;
  if ('images' in d) {
    const { size, channels } = d.images;
    return {
      kind: 'images',
      img: opts.images ?? new ShapeImageSource({ size, channels }),
      shape: [size, size, channels],
    };
  }
  const gmm = opts.gmm ?? gmmPreset(d.gmm.preset, d.gmm.preset === 'random' ? { dim: d.gmm.dim } : {});
  return { kind: 'gmm', gmm, shape: [gmm.dim] };
}

function modelOf(
  config: GaussianRunConfig,
  shape: number[],
  dim: number,
  given: AnyModel | undefined,
): MlpDenoiser | UNet {
  let model: AnyModel;
  if (given) model = given;
  else {
    const m: Record<string, unknown> = { ...config.model, seed: config.model['seed'] ?? config.train.seed };
    if (m['type'] === 'mlp-denoiser') m['dim'] ??= dim;
    if (m['type'] === 'unet') {
      m['imageSize'] ??= shape[0];
      m['channels'] ??= shape[2];
    }
    model = createModel(validateModelConfig(m, 'model'));
  }
  const mc = model.config;
  const bad = (path: string, msg: string): never => {
    model.dispose();
    throw given ? new AltarError('BAD_MODEL', `gaussian: ${msg}`) : new ConfigError(path, msg);
  };
  if (!(model instanceof MlpDenoiser || model instanceof UNet))
    return bad('model.type', `expected mlp-denoiser or unet, got '${mc.type}'`);
  const want = shape.length === 1 ? 'mlp-denoiser' : 'unet';
  if (mc.type !== want)
    bad('model.type', `${shape.length === 1 ? 'vector' : 'image'} data needs a '${want}' model, got '${mc.type}'`);
  if (mc.type === 'mlp-denoiser' && mc.dim !== dim)
    bad('model.dim', `the source has dimension ${dim}, the model ${mc.dim}`);
  if (mc.type === 'unet' && (mc.imageSize !== shape[0] || mc.channels !== shape[2]))
    bad(
      'model.imageSize',
      `the images are ${shape.join('×')}, the model expects ${mc.imageSize}×${mc.imageSize}×${mc.channels}`,
    );
  return model;
}

function isGaussianSampler(s: SamplerName): s is (typeof GAUSSIAN_SAMPLERS)[number] {
  return GAUSSIAN_SAMPLERS.some((g) => g === s);
}

/**
 * The Gaussian recipe of a validated config: an MLP (mixture) or U-Net (images) denoiser, NELBO or MSE training,
 * bits/dim evaluation, DDPM/DDIM/ODE/SDE sampling.
 *
 * @example
 * ```ts
 * const rt = buildGaussianRuntime(parseRunConfig({ family: 'gaussian' }) as GaussianRunConfig);
 * const out = await rt.sample(new Rng(0), { sampler: 'ddim', n: 256, steps: 50 });
 * ```
 */
export function buildGaussianRuntime(config: GaussianRunConfig, opts: GaussianRecipeOptions = {}): FamilyRuntime {
  const data = dataOf(config, opts);
  const shape = data.shape;
  const dim = shape.reduce((a, b) => a * b, 1);
  const model = modelOf(config, shape, dim, opts.model);
  const params = model.getWeights() as ParamMap;
  const proc = new GaussianProcess(config.diffusion.process);
  const decoder = data.kind === 'images' ? 'discretized8bit' : 'gaussian';
  const { T, loss: lossKind } = config.diffusion;
  const timesteps = config.diffusion.timesteps ?? 'stratified';
  const standardise = 'gmm' in config.data && config.data.gmm.standardise;
  const scale = opts.scale ?? (data.kind === 'gmm' && standardise ? mixtureScale(data.gmm) : 1);
  /** In model units: the data divided by `scale`. */
  const toModel = (x: tf.Tensor): tf.Tensor => (scale === 1 ? x : tf.div(x, scale));
  const nextBatch = (rng: Rng, b = config.data.batchSize): tf.Tensor2D => {
    const x = data.kind === 'images' ? data.img.sampleTensor(b, rng) : data.gmm.sampleTensor(b, rng);
    return x as unknown as tf.Tensor2D; // images are (B, H, W, C): the loss only reads the batch axis
  };
  /** One-term NELBO per example in model units, (B,) nats. */
  const oneTerm = (x: tf.Tensor, rng: Rng, sampling: typeof timesteps | 'log-snr'): tf.Tensor1D =>
    T === undefined
      ? vdmNelbo(proc, model, x, rng, {
          sampling: sampling === 'uniform' || sampling === 'log-snr' ? sampling : 'stratified',
          decoder,
          tMin: T_MIN,
        })
      : ddpmNelbo(proc, model, x, T, rng, {
          sampling: sampling === 'log-snr' ? 'stratified' : sampling,
          decoder,
          tMin: T_MIN,
        });
  const power = config.diffusion.timePower ?? 1;
  const loss: LossFn<tf.Tensor2D> =
    lossKind === 'mse'
      ? (x, rng) => tf.tidy(() => predictionMse(proc, model, toModel(x), rng, powerTimes(rng, x.shape[0], power)))
      : (x, rng) => tf.tidy(() => tf.div(tf.mean(oneTerm(toModel(x), rng, timesteps)), dim) as tf.Scalar);
  const samplers: SamplerName[] = ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde'];
  // Dividing x by `scale` lowers the density's entropy by log2(scale) per dimension: add it back.
  const shift = Math.log2(scale);
  return {
    family: 'gaussian',
    config,
    unit: 'dim',
    model,
    params,
    vocabSize: 0,
    seqLen: dim,
    dataScale: scale,
    boundKind: 'nelbo',
    loss,
    nextBatch,
    evalBatch: nextBatch,
    samplers,
    sourceEntropy: (rng, numSamples = 2000) => {
      if (data.kind !== 'gmm') return null; // procedural images: no known density
      const e = data.gmm.entropyReport(rng, numSamples);
      return { bits: e.entropyBitsPerDim, stdErr: e.stdErrBitsPerDim };
    },
    formatRows: (o) => {
      const rows: string[] = [];
      for (let b = 0; b < o.batch; b++)
        rows.push(
          Array.from(o.tokens.subarray(b * o.seqLen, Math.min((b + 1) * o.seqLen, b * o.seqLen + 16)), (v) =>
            v.toFixed(3),
          ).join(' ') + (o.seqLen > 16 ? ' …' : ''),
        );
      return rows;
    },
    async evaluate(rng, o) {
      // one-term: one draw per example (stratified t, or λ-uniform with timeSampling 'log-snr': same bound,
      // no heavy tails); full: 8 draws averaged (continuous time) or all T terms (discrete time).
      const full = o.bound === 'full';
      const per = (x: tf.Tensor): tf.Tensor =>
        tf.tidy(() =>
          T !== undefined && full
            ? ddpmNelbo(proc, model, toModel(x), T, rng, { sampling: 'full', decoder, tMin: T_MIN })
            : oneTerm(toModel(x), rng, o.timeSampling ?? 'stratified'),
        );
      const r = await perExampleBits(rng, o, nextBatch, per, dim, T === undefined && full ? 8 : 1);
      return {
        bitsPerToken: r.mean + shift,
        stdErr: r.stdErr,
        boundKind: 'nelbo',
        bound: o.bound ?? 'one-term',
        sequences: r.examples,
      };
    },
    async sample(rng, o) {
      const sampler = o.sampler;
      if (!isGaussianSampler(sampler) || !samplers.includes(sampler))
        throw new AltarError(
          'BAD_ARG',
          `sampler '${o.sampler}' does not apply to family 'gaussian' (use ${samplers.join(', ')})`,
        );
      const clipX0 = o.clipX0 ?? (data.kind === 'images' ? ([-1, 1] as [number, number]) : undefined);
      const onCall = o.onModelCall;
      const den = onCall
        ? {
            prediction: model.prediction,
            paramCount: () => model.paramCount(),
            bytesPerWeight: model.bytesPerWeight,
            predict: (zt: tf.Tensor, t: tf.Tensor1D) => {
              const pred = model.predict(zt, t);
              onCall(zt, t, pred);
              return pred;
            },
          }
        : model;
      const r = await sampleGaussian(den, proc, {
        sampler,
        shape: [o.n, ...shape],
        steps: o.steps ?? config.eval.sampleSteps,
        rng,
        ...(clipX0 ? { clipX0 } : {}),
      });
      const raw = await r.samples.data();
      r.samples.dispose();
      const values = Float32Array.from(raw, (v) => v * scale); // back to data units
      const nll = data.kind === 'gmm' ? mixtureSampleBits(data.gmm, values, o.n) : NaN;
      return { tokens: values, batch: o.n, seqLen: dim, cost: r.cost, samplesNllBitsPerToken: nll };
    },
    dispose: () => model.dispose(),
  };
}
