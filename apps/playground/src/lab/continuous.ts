/**
 * Continuous (Gaussian) diffusion in the playground, z_t = α_t x + σ_t ε (@altar/noise GaussianProcess):
 *   gaussian        2-D mixture points (@altar/data gmmPreset), MlpDenoiser, data divided by the mixture's scale
 *   gaussian-image  procedural 16×16 grey images (@altar/data ShapeImageSource, pixels in [−1, 1]), U-Net
 * Both train on the MSE of the model's own parametrisation (v for models made here: Salimans & Ho 2022),
 * sample with DDIM (Song et al. 2021, η = 0) and report, every few steps, the continuous-time VDM NELBO
 * (Kingma et al. 2021, eq. 17, times drawn uniformly in log-SNR) on fresh data in bits per dimension: a
 * Gaussian decoder for points (an upper bound on the mixture's differential entropy, in expectation), the
 * discretised 8-bit decoder (Ho et al. 2020 §3.3) for images (bits/dim of the 8-bit pixels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { ShapeImageSource, type GaussianMixtureSource } from '@altar/data';
import { estimateStats, vdmNelbo } from '@altar/elbo';
import { validateModelConfig, type AnyModel, type ModelConfig } from '@altar/models';
import { GaussianProcess, type GaussianScheduleKind, type PredictionKind } from '@altar/noise';
import { sampleGaussian, type GaussianSamplerName } from '@altar/samplers';
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
  return validateModelConfig({ type: 'unet', imageSize: IMAGE_SIZE, channels: IMAGE_CHANNELS, baseChannels: p.baseChannels, channelMults: p.channelMults, prediction: 'v', seed });
}

let shapes: ShapeImageSource | null = null;
/** The one image source of the playground (all shape kinds, 16×16×1). */
export function imageSource(): ShapeImageSource {
  shapes ??= new ShapeImageSource({ size: IMAGE_SIZE, channels: IMAGE_CHANNELS });
  return shapes;
}

export type ContinuousData =
  | { kind: 'points'; gmm: GaussianMixtureSource; /** The model sees x / scale. */ scale: number }
  | { kind: 'images'; images: ShapeImageSource };

export interface ContinuousOptions {
  process: GaussianScheduleKind;
  sampler: GaussianSamplerName;
  /** Training loss: v/ε/x0-MSE at t ~ U(tMin, 1) by default; the 2-D recipe can pass its own. */
  loss?: FamilyRuntime['loss'];
}

interface Denoiser {
  prediction: PredictionKind;
  predict(zt: tf.Tensor, t: tf.Tensor): tf.Tensor;
  paramCount(): number;
  bytesPerWeight: number;
}

const T_MIN = 1e-3;

/**
 * The model's clean-data estimate x̂0 from one call, on the host (α, σ at the call's time):
 * ε-prediction x̂0 = (z − σ ε̂)/α, v-prediction x̂0 = α z − σ v̂ (Salimans & Ho 2022), x0-prediction as is;
 * clipped like the sampler clips it, then scaled back to data units.
 */
export function hostX0(kind: PredictionKind, z: Float32Array, pred: Float32Array, a: number, s: number, clip: [number, number], scale: number): Float32Array {
  return Float32Array.from(z, (zi, i) => {
    const p = pred[i]!;
    const x = kind === 'x0' ? p : kind === 'v' ? a * zi - s * p : (zi - s * p) / Math.max(a, 1e-12);
    return Math.min(clip[1], Math.max(clip[0], x)) * scale;
  });
}

/** Shape of one example: [d] for points, [H, W, C] for images. */
export function exampleShape(data: ContinuousData): number[] {
  return data.kind === 'points' ? [data.gmm.dim] : [data.images.size, data.images.size, data.images.channels];
}

/** Mean over elements of ‖pred − target‖² where the target is the model's own parametrisation, t ~ U(tMin, 1): a scalar. */
export function predictionMse(proc: GaussianProcess, den: Denoiser, x0: tf.Tensor, rng: Rng, times?: Float32Array): tf.Scalar {
  return tf.tidy(() => {
    const B = x0.shape[0]!;
    const tArr = times ?? Float32Array.from(rng.uniformArray(B), (u) => T_MIN + (1 - T_MIN) * u);
    const eps = rng.normal(x0.shape);
    const zt = proc.qSample(x0, tArr, eps);
    const pred = den.predict(zt, tf.tensor1d(tArr));
    const target = den.prediction === 'eps' ? eps : den.prediction === 'x0' ? x0 : proc.vFromEpsX0(eps, x0, tArr);
    return tf.mean(tf.square(tf.sub(pred, target))) as tf.Scalar;
  });
}

export function buildContinuousRuntime(family: 'gaussian' | 'gaussian-image', model: AnyModel, data: ContinuousData, opts: ContinuousOptions): FamilyRuntime {
  const want = data.kind === 'points' ? 'mlp-denoiser' : 'unet';
  if (model.config.type !== want) throw new AltarError('BAD_MODEL', `${family}: expected a '${want}' model, got '${model.config.type}'`);
  const den = model as unknown as Denoiser;
  const shape = exampleShape(data);
  if (model.config.type === 'unet' && (model.config.imageSize !== shape[0] || model.config.channels !== shape[2])) {
    throw new AltarError('BAD_MODEL', `${family}: the U-Net expects ${model.config.imageSize}×${model.config.imageSize}×${model.config.channels} images, the source draws ${shape.join('×')}`);
  }
  if (model.config.type === 'mlp-denoiser' && model.config.dim !== shape[0]) throw new AltarError('BAD_MODEL', `${family}: the MLP expects dimension ${model.config.dim}, the source has ${shape[0]}`);
  const proc = new GaussianProcess(opts.process);
  const dim = shape.reduce((a, b) => a * b, 1);
  const scale = data.kind === 'points' ? data.scale : 1;
  // In model units: points divided by the mixture's scale; images as they are ([−1, 1]).
  const toModel = (x: tf.Tensor): tf.Tensor => (scale === 1 ? tf.clone(x) : tf.div(x, scale));
  const draw = (rng: Rng, n: number): tf.Tensor => (data.kind === 'points' ? data.gmm.sampleTensor(n, rng) : data.images.sampleTensor(n, rng));
  // x̂0 clipped: images to their range; points to ±4 in standardised units (the mixtures live within ±2),
  // since near t = 1 x̂0 = (z − σ ε̂)/α amplifies an untrained model's error without bound.
  const clipX0: [number, number] = data.kind === 'images' ? [-1, 1] : [-4, 4];
  const decoder = data.kind === 'images' ? 'discretized8bit' : 'gaussian';
  return {
    family,
    model,
    masked: null,
    continuous: { process: opts.process, dataScale: scale },
    unitsPerExample: data.kind === 'points' ? 1 : dim,
    nextBatch: (rng, n) => draw(rng, n) as tf.Tensor2D,
    loss: opts.loss ?? ((x, rng) => tf.tidy(() => predictionMse(proc, den, toModel(x), rng))),
    async boundBits(rng, n) {
      const x = draw(rng, n);
      const nats = tf.tidy(() => {
        const xm = toModel(x);
        // λ-uniform times: the same expectation as t-uniform without its heavy tails (see @altar/elbo).
        return vdmNelbo(proc, den, xm, rng, { sampling: 'log-snr', decoder, tMin: T_MIN }); // (n,) nats
      });
      x.dispose();
      const st = estimateStats((await nats.data()) as Float32Array);
      nats.dispose();
      // Dividing x by `scale` lowers the density's entropy by log2(scale) per dimension; add it back.
      return { bits: st.mean / dim / Math.LN2 + Math.log2(scale), stdErr: st.stdErr / dim / Math.LN2 };
    },
    async sample(rng, batch, steps, samplerName): Promise<SampleRun> {
      const which = (samplerName ?? opts.sampler) as GaussianSamplerName;
      // z_t of every call (and for images the call's time and output, for the model's x̂0 there) is kept on
      // the device and read back after the run: a synchronous read of a device tensor can stall WebGPU in a worker.
      const images = data.kind === 'images';
      const calls: Array<{ z: tf.Tensor; t?: tf.Tensor; pred?: tf.Tensor }> = [];
      const recorder: Denoiser = {
        prediction: den.prediction,
        paramCount: () => den.paramCount(),
        bytesPerWeight: den.bytesPerWeight,
        predict: (zt, t) => {
          const pred = den.predict(zt, t);
          calls.push(images ? { z: tf.keep(tf.clone(zt)), t: tf.keep(tf.clone(t)), pred: tf.keep(tf.clone(pred)) } : { z: tf.keep(tf.clone(zt)) });
          return pred;
        },
      };
      try {
        const r = await sampleGaussian(recorder, proc, { sampler: which, shape: [batch, ...shape], steps, rng, clipX0 });
        const samples = (await r.samples.data()) as Float32Array;
        r.samples.dispose();
        const last = Float32Array.from(samples, (v) => v * scale);
        const frames: Float32Array[] = [];
        const x0Frames: Float32Array[] = [];
        for (const c of calls) {
          const z = (await c.z.data()) as Float32Array;
          frames.push(Float32Array.from(z, (v) => v * scale));
          if (c.t && c.pred) {
            const t = ((await c.t.data()) as Float32Array)[0]!; // one time per call
            x0Frames.push(hostX0(den.prediction, z, (await c.pred.data()) as Float32Array, proc.alpha(t), proc.sigma(t), clipX0, scale));
          }
        }
        frames.push(last);
        const sampler = `${which} (${proc.name}, ${den.prediction}-prediction)`;
        const base = { samples: new Int32Array(0), cost: r.cost, frames: [], sampler, steps };
        return images ? { ...base, imageFrames: { size: shape[0]!, channels: shape[2]!, frames, x0Frames: [...x0Frames, last] } } : { ...base, pointFrames: frames };
      } finally {
        for (const c of calls) tf.dispose([c.z, ...(c.t ? [c.t] : []), ...(c.pred ? [c.pred] : [])]);
      }
    },
    dispose: () => model.dispose(),
  };
}
