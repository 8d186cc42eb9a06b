/**
 * The Gaussian family: continuous diffusion on the Gaussian-mixture source (vectors, exact density) or
 * procedural images. Training loss: the continuous-time VDM NELBO (Kingma et al. 2021, eq. 17, log-SNR
 * form) with one stratified t per example; bits per dimension. For images in [−1, 1] the decoder is the
 * discretised 8-bit likelihood (Ho et al. 2020 §3.3), so image results are bits/dim of the 8-bit data;
 * for mixture vectors it is a Gaussian decoder (differential: bits/dim can be negative).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, type Rng } from '@altar/backend';
import { gmmPreset, ShapeImageSource, type GaussianMixtureSource, type GmmPresetName } from '@altar/data';
import { vdmNelbo } from '@altar/elbo';
import { createModel, validateModelConfig, type MlpDenoiser, type UNet } from '@altar/models';
import { GaussianProcess, type GaussianScheduleKind } from '@altar/noise';
import { sampleGaussian, type GaussianSamplerName } from '@altar/samplers';
import type { LossFn, ParamMap } from '@altar/train';
import type { RunConfig } from './config.js';
import type { EvalResult, SampleOutput, TokenRuntime } from './families.js';
import { perExampleBits } from './per-example-bits.js';

const LN2 = Math.LN2;
const GMM_PRESETS = ['rings', 'grid', 'moons', 'random'];

export function buildGaussianRuntime(config: RunConfig): TokenRuntime {
  const images = config.data.source === 'images';
  let gmm: GaussianMixtureSource | null = null;
  let img: ShapeImageSource | null = null;
  let shape: number[];
  if (images) {
    const { size, channels } = config.data.images;
    img = new ShapeImageSource({ size, channels: channels as 1 | 3 });
    shape = [size, size, channels];
  } else {
    const p = config.data.gmm.preset;
    if (!GMM_PRESETS.includes(p)) throw new ConfigError('data.gmm.preset', `expected one of ${GMM_PRESETS.join(', ')}, got '${p}'`);
    gmm = gmmPreset(p as GmmPresetName, p === 'random' ? { dim: config.data.gmm.dim } : {});
    shape = [gmm.dim];
  }
  const dim = shape.reduce((a, b) => a * b, 1);
  const m: Record<string, unknown> = { ...config.model, seed: config.model['seed'] ?? config.train.seed };
  if (m['type'] === 'mlp-denoiser') m['dim'] ??= dim;
  if (m['type'] === 'unet') {
    m['imageSize'] ??= shape[0];
    m['channels'] ??= shape[2];
  }
  const mc = validateModelConfig(m, 'model');
  if (images && mc.type !== 'unet') throw new ConfigError('model.type', `image data needs a 'unet' model, got '${mc.type}'`);
  if (!images && mc.type !== 'mlp-denoiser') throw new ConfigError('model.type', `vector data needs an 'mlp-denoiser' model, got '${mc.type}'`);
  if (mc.type === 'mlp-denoiser' && mc.dim !== dim) throw new ConfigError('model.dim', `the source has dimension ${dim}, the model ${mc.dim}`);
  if (mc.type === 'unet' && (mc.imageSize !== shape[0] || mc.channels !== shape[2])) throw new ConfigError('model.imageSize', `the images are ${shape.join('×')}, the model expects ${mc.imageSize}×${mc.imageSize}×${mc.channels}`);
  const model = createModel(mc) as MlpDenoiser | UNet;
  const params = model.getWeights() as ParamMap;
  const proc = new GaussianProcess(config.diffusion.process as GaussianScheduleKind);
  const decoder = images ? 'discretized8bit' : 'gaussian';
  const nextBatch = (rng: Rng, b = config.data.batchSize): tf.Tensor2D =>
    (img ? img.sampleTensor(b, rng) : gmm!.sampleTensor(b, rng)) as unknown as tf.Tensor2D;
  const loss: LossFn<tf.Tensor2D> = (x, rng) => tf.tidy(() => tf.div(tf.mean(vdmNelbo(proc, model, x, rng, { sampling: 'stratified', decoder })), dim) as tf.Scalar);
  const samplers = ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde'] as const;
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
    samplers: [...samplers],
    sourceEntropy: (rng, numSamples = 2000) => {
      if (!gmm) return null; // procedural images: no known density
      const e = gmm.entropyReport(rng, numSamples);
      return { bits: e.entropyBitsPerDim, stdErr: e.stdErrBitsPerDim };
    },
    formatRows: (o) => {
      const rows: string[] = [];
      for (let b = 0; b < o.batch; b++) rows.push(Array.from(o.tokens.subarray(b * o.seqLen, Math.min((b + 1) * o.seqLen, b * o.seqLen + 16)), (v) => v.toFixed(3)).join(' ') + (o.seqLen > 16 ? ' …' : ''));
      return rows;
    },
    async evaluate(rng, o): Promise<EvalResult> {
      const reps = o.bound === 'full' ? 8 : 1;
      const r = await perExampleBits(rng, o, nextBatch, (x) => vdmNelbo(proc, model, x, rng, { sampling: 'stratified', decoder }), dim, reps);
      return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nelbo', bound: o.bound ?? 'one-term', sequences: r.examples };
    },
    async sample(rng, o): Promise<SampleOutput> {
      if (!(samplers as readonly string[]).includes(o.sampler)) throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family 'gaussian' (use ${samplers.join(', ')})`);
      const r = await sampleGaussian(model, proc, { sampler: o.sampler as GaussianSamplerName, shape: [o.n, ...shape], steps: o.steps ?? config.eval.sampleSteps, rng, ...(images ? { clipX0: [-1, 1] as [number, number] } : {}) });
      const values = (await r.samples.data()) as Float32Array;
      r.samples.dispose();
      let nll = NaN;
      if (gmm) {
        const lp = gmm.logDensityBatch(values);
        nll = Array.from(lp).reduce((a, b) => a - b, 0) / o.n / dim / LN2;
      }
      return { tokens: values, batch: o.n, seqLen: dim, cost: r.cost, samplesNllBitsPerToken: nll };
    },
    dispose: () => model.dispose(),
  };
}
