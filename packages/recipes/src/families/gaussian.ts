/**
 * The Gaussian family: diffusion on the Gaussian-mixture source (vectors, exact density) or procedural
 * images, with the config's process (vp-linear, vp-cosine, ve, flow). The training loss is the NELBO in
 * bits per dimension: without diffusion.T the continuous-time VDM bound (Kingma et al. 2021, eq. 17,
 * log-SNR form), t drawn 'stratified' or 'uniform'; with T the discrete-time DDPM bound over T steps
 * (Ho et al. 2020; one term per example drawn per `timesteps`). For images in [−1, 1] the decoder is the
 * discretised 8-bit likelihood (Ho et al. §3.3), so results are bits/dim of the 8-bit data; for mixture
 * vectors it is a Gaussian decoder (differential: bits/dim can be negative).
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

type Data = { kind: 'gmm'; gmm: GaussianMixtureSource; shape: number[] } | { kind: 'images'; img: ShapeImageSource; shape: number[] };

function dataOf(config: GaussianRunConfig): Data {
  const d = config.data;
  if ('images' in d) {
    const { size, channels } = d.images;
    return { kind: 'images', img: new ShapeImageSource({ size, channels }), shape: [size, size, channels] };
  }
  const gmm = gmmPreset(d.gmm.preset, d.gmm.preset === 'random' ? { dim: d.gmm.dim } : {});
  return { kind: 'gmm', gmm, shape: [gmm.dim] };
}

function modelOf(config: GaussianRunConfig, shape: number[], dim: number): MlpDenoiser | UNet {
  const m: Record<string, unknown> = { ...config.model, seed: config.model['seed'] ?? config.train.seed };
  if (m['type'] === 'mlp-denoiser') m['dim'] ??= dim;
  if (m['type'] === 'unet') {
    m['imageSize'] ??= shape[0];
    m['channels'] ??= shape[2];
  }
  const mc = validateModelConfig(m, 'model');
  if (mc.type === 'mlp-denoiser' && mc.dim !== dim) throw new ConfigError('model.dim', `the source has dimension ${dim}, the model ${mc.dim}`);
  if (mc.type === 'unet' && (mc.imageSize !== shape[0] || mc.channels !== shape[2])) throw new ConfigError('model.imageSize', `the images are ${shape.join('×')}, the model expects ${mc.imageSize}×${mc.imageSize}×${mc.channels}`);
  const model: AnyModel = createModel(mc);
  if (!(model instanceof MlpDenoiser || model instanceof UNet)) throw new ConfigError('model.type', `expected mlp-denoiser or unet, got '${mc.type}'`);
  return model;
}

function isGaussianSampler(s: SamplerName): s is (typeof GAUSSIAN_SAMPLERS)[number] {
  return GAUSSIAN_SAMPLERS.some((g) => g === s);
}

export function buildGaussianRuntime(config: GaussianRunConfig): FamilyRuntime {
  const data = dataOf(config);
  const shape = data.shape;
  const dim = shape.reduce((a, b) => a * b, 1);
  const model = modelOf(config, shape, dim);
  const params = model.getWeights() as ParamMap;
  const proc = new GaussianProcess(config.diffusion.process);
  const decoder = data.kind === 'images' ? 'discretized8bit' : 'gaussian';
  const { T, timesteps } = config.diffusion;
  const nextBatch = (rng: Rng, b = config.data.batchSize): tf.Tensor2D => {
    const x = data.kind === 'images' ? data.img.sampleTensor(b, rng) : data.gmm.sampleTensor(b, rng);
    return x as unknown as tf.Tensor2D; // images are (B, H, W, C): the loss only reads the batch axis
  };
  /** One-term NELBO per example, (B,) nats, drawn the way training draws it. */
  const oneTerm = (x: tf.Tensor, rng: Rng, sampling: typeof timesteps): tf.Tensor1D =>
    T === undefined
      ? vdmNelbo(proc, model, x, rng, { sampling: sampling === 'uniform' ? 'uniform' : 'stratified', decoder })
      : ddpmNelbo(proc, model, x, T, rng, { sampling, decoder });
  const loss: LossFn<tf.Tensor2D> = (x, rng) => tf.tidy(() => tf.div(tf.mean(oneTerm(x, rng, timesteps)), dim) as tf.Scalar);
  const samplers: SamplerName[] = ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde'];
  return {
    family: 'gaussian',
    config,
    unit: 'dim',
    model,
    params,
    vocabSize: 0,
    seqLen: dim,
    boundKind: 'nelbo',
    loss,
    nextBatch,
    samplers,
    sourceEntropy: (rng, numSamples = 2000) => {
      if (data.kind !== 'gmm') return null; // procedural images: no known density
      const e = data.gmm.entropyReport(rng, numSamples);
      return { bits: e.entropyBitsPerDim, stdErr: e.stdErrBitsPerDim };
    },
    formatRows: (o) => {
      const rows: string[] = [];
      for (let b = 0; b < o.batch; b++) rows.push(Array.from(o.tokens.subarray(b * o.seqLen, Math.min((b + 1) * o.seqLen, b * o.seqLen + 16)), (v) => v.toFixed(3)).join(' ') + (o.seqLen > 16 ? ' …' : ''));
      return rows;
    },
    async evaluate(rng, o) {
      // one-term: the training estimator (stratified); full: 8 draws averaged (continuous) or all T terms (discrete).
      const full = o.bound === 'full';
      const r =
        T !== undefined && full
          ? await perExampleBits(rng, o, nextBatch, (x) => ddpmNelbo(proc, model, x, T, rng, { sampling: 'full', decoder }), dim)
          : await perExampleBits(rng, o, nextBatch, (x) => oneTerm(x, rng, 'stratified'), dim, full ? 8 : 1);
      return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nelbo', bound: o.bound ?? 'one-term', sequences: r.examples };
    },
    async sample(rng, o) {
      const sampler = o.sampler;
      if (!isGaussianSampler(sampler) || !samplers.includes(sampler)) throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family 'gaussian' (use ${samplers.join(', ')})`);
      const r = await sampleGaussian(model, proc, { sampler, shape: [o.n, ...shape], steps: o.steps ?? config.eval.sampleSteps, rng, ...(data.kind === 'images' ? { clipX0: [-1, 1] as [number, number] } : {}) });
      const values = Float32Array.from(await r.samples.data());
      r.samples.dispose();
      const nll = data.kind === 'gmm' ? mixtureSampleBits(data.gmm, values, o.n) : NaN;
      return { tokens: values, batch: o.n, seqLen: dim, cost: r.cost, samplesNllBitsPerToken: nll };
    },
    dispose: () => model.dispose(),
  };
}
