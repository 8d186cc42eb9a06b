/**
 * The playground's model sizes and its continuous families' settings. Token families are built by
 * @altar/recipes (token-runtime.ts), the same recipes as the CLI's, so checkpoints move between the two:
 *   ar                AR transformer, exact NLL, KV-cache decoding
 *   ssm               selective SSM LM, exact NLL, recurrent decoding
 *   masked-diffusion  DiffusionTransformer + masked process (linear α_t = 1 − t), MDLM NELBO, cached ancestral sampler
 *   d3pm              DiffusionTransformer + uniform D3PM (T = 32, cosine), D3PM NELBO, ancestral sampler
 */
import { AltarError } from '@altar/backend';
import type { GaussianMixtureSource, HmmSource } from '@altar/data';
import { createModel, validateModelConfig, type AnyModel, type ModelConfig } from '@altar/models';
import type { GaussianScheduleKind } from '@altar/noise';
import { mixtureScale } from '@altar/recipes';
import type { TrainConfig } from '@altar/train';
import type { Family, PointSourceName, Size } from '../state.js';
import { buildContinuousRuntime, imageModelConfig, imageSource } from './continuous.js';
import type { FamilyRuntime } from './runtime.js';

export interface SizePreset {
  dModel: number;
  nLayers: number;
  nHeads: number;
  mlpRatio: number;
}

export const SIZE_PRESETS: Record<Size, SizePreset> = {
  // tiny: trains to within ~0.1 bit of the source entropy in ~100 steps on wasm.
  tiny: { dModel: 32, nLayers: 2, nHeads: 2, mlpRatio: 2 },
  small: { dModel: 64, nLayers: 2, nHeads: 4, mlpRatio: 4 },
};

export function modelConfigFor(family: Family, size: Size, V: number, N: number, seed: number): ModelConfig {
  const p = SIZE_PRESETS[size];
  switch (family) {
    case 'ar':
      return validateModelConfig({
        type: 'ar-transformer',
        vocabSize: V + 1,
        maxLen: N,
        dModel: p.dModel,
        nLayers: p.nLayers,
        nHeads: p.nHeads,
        mlpRatio: p.mlpRatio,
        seed,
      });
    case 'ssm':
      return validateModelConfig({
        type: 'ssm-lm',
        vocabSize: V + 1,
        dModel: p.dModel,
        nLayers: p.nLayers,
        dState: 8,
        seed,
      });
    case 'masked-diffusion':
    case 'd3pm':
      return validateModelConfig({
        type: 'diffusion-transformer',
        vocabSize: V,
        maxLen: N,
        dModel: p.dModel,
        nLayers: p.nLayers,
        nHeads: p.nHeads,
        mlpRatio: p.mlpRatio,
        seed,
      });
    case 'gaussian-image':
      return imageModelConfig(size, seed);
    case 'gaussian':
      // An MLP v-predictor on 2-D points (Salimans & Ho 2022) over random Fourier features of z_t
      // (Tancik et al. 2020), hidden width 2·dModel (64 for tiny), 2 blocks: see GAUSSIAN_FOURIER.
      // ε-prediction at width 64 stayed a diffuse disc after 1,500 steps: near t = 0 ε̂ must resolve
      // components of std 0.08 through x̂0 = (z − σ ε̂)/α, and near t = 1 it says nothing about x0.
      return validateModelConfig({
        type: 'mlp-denoiser',
        dim: 2,
        hidden: GAUSSIAN_WIDTH * p.dModel,
        nLayers: GAUSSIAN_LAYERS,
        prediction: GAUSSIAN_PREDICTION,
        fourierFeatures: GAUSSIAN_FOURIER.features,
        fourierScale: GAUSSIAN_FOURIER.scale,
        seed,
      });
  }
}

export function familyOfModel(model: AnyModel, hint?: string): Family {
  const type = model.config.type;
  if (type === 'ar-transformer') return 'ar';
  if (type === 'ssm-lm') return 'ssm';
  if (type === 'diffusion-transformer') return hint === 'd3pm' ? 'd3pm' : 'masked-diffusion';
  throw new AltarError('BAD_CHECKPOINT', `the playground samples token models; a '${type}' checkpoint is not one`);
}

export function newModel(family: Family, size: Size, source: HmmSource, seed: number): AnyModel {
  return createModel(modelConfigFor(family, size, source.vocabSize, source.seqLen, seed));
}

/** VP cosine process (Nichol & Dhariwal 2021) for the Gaussian family. */
export const GAUSSIAN_PROCESS = 'vp-cosine' as const;

/**
 * The Gaussian family's recipe (all of it in one place so the unit test trains exactly what the app does):
 * - v-prediction (Salimans & Ho 2022, v = α ε − σ x0) trained on the plain v-MSE, which weights the x0
 *   error by (1 + SNR) — bounded at t → 1 where ε-MSE's x̂0 error explodes (Salimans & Ho §4);
 * - data standardised to unit variance per dimension (the VP prior's scale), undone after sampling;
 * - the network sees random Fourier features γ(z) = [z, sin 2πzB, cos 2πzB] of its input (Tancik et al.
 *   2020), B (2, 64) ~ N(0, 0.5²) in standardised units: the x̂0 map near t = 0 is piecewise constant
 *   over cells ~0.7 wide ('grid'), a high-frequency function that a plain MLP on (x, y) only blurs
 *   (spectral bias). On 'grid' (600 steps, lr 0.01, wasm) 3σ coverage was 0.24 for the former plain
 *   128-wide × 4-block MLP and 0.68 for 64 × 2 with features (t still uniform);
 *   scales 0.5–0.7 and 64–128 features did equally well, scale 2 or 16 features clearly worse;
 * - hidden width = GAUSSIAN_WIDTH · dModel, GAUSSIAN_LAYERS adaLN residual blocks: with the features, 64
 *   wide × 2 blocks (tiny; ~11 ms/step at batch 128 on wasm, vs 35 ms for the former 128 × 4) is about as
 *   good as 64 × 3 (coverage 0.76 vs 0.79 at 1,000 steps, 15 ms/step) or 128 × 2 (small; 22 ms/step);
 * - training times t = tMin + (1 − tMin) u^GAUSSIAN_TIME_POWER, u ~ U(0, 1) (density ∝ t^{−1/2} for
 *   power 2): more samples at low noise, where the components are told apart — the aim of EDM's
 *   log-normal σ (Karras et al. 2022, §5) and SD3's logit-normal t (Esser et al. 2024, §3.1); it lifted
 *   'grid' coverage 0.68 → 0.76 and cut MMD² 4.9e-3 → 3.9e-3 (600 steps);
 * - a long lr warmup and EMA weights for sampling (Ho et al. 2020 §4; `@altar/train`'s Ema, whose decay
 *   warms up as (1 + n)/(10 + n), so it stays below 0.995 for the first ~1,800 updates);
 * - deterministic DDIM (Song et al. 2021, η = 0): one model call per step, like DDPM, but no
 *   injected noise to blur the tight (std 0.08) components at a small step count.
 */
export const GAUSSIAN_WIDTH = 2;
export const GAUSSIAN_LAYERS = 2;
/** Random Fourier features of the denoiser's input: count m and the std of B's entries (standardised units). */
export const GAUSSIAN_FOURIER = { features: 64, scale: 0.5 } as const;
/** Training times t = tMin + (1 − tMin)·u^p, u ~ U(0, 1): p = 2 favours low noise (p = 1 is uniform). */
export const GAUSSIAN_TIME_POWER = 2;
export const GAUSSIAN_PREDICTION = 'v' as const;
export const GAUSSIAN_SAMPLER = 'ddim' as const;
export const GAUSSIAN_TRAIN = { warmupSteps: 100, emaDecay: 0.995 } as const;

/**
 * The Trainer config of an interactive run: constant lr after a short warmup (an interactive run has no
 * planned end for a cosine to aim at); the Gaussian family adds GAUSSIAN_TRAIN (longer warmup, EMA).
 */
export function interactiveTrainConfig(family: Family, lr: number, seed: number): Partial<TrainConfig> {
  const base: Partial<TrainConfig> = { lr, warmupSteps: 5, lrDecay: 'constant', steps: 1_000_000, gradClip: 1, seed };
  return family === 'gaussian' ? { ...base, ...GAUSSIAN_TRAIN } : base;
}

/** The mixture's per-dimension scale (the model sees x / scale): @altar/recipes' mixtureScale. */
export { mixtureScale };

/**
 * Gaussian diffusion on 2-D mixture points: MlpDenoiser trained on the MSE of its own parametrisation
 * (v for the playground's models: Salimans & Ho 2022; ε gives L_simple, Ho et al. 2020 eq. 14), on data
 * divided by the mixture's scale; DDIM sampling (Song et al. 2021), rescaled back (continuous.ts).
 */
export function buildGaussianRuntime(
  model: AnyModel,
  gmm: GaussianMixtureSource,
  scale = mixtureScale(gmm),
  preset?: 'rings' | 'grid' | 'moons',
): FamilyRuntime {
  // The prediction MSE at t = tMin + (1 − tMin) u^p (GAUSSIAN_TIME_POWER), on x / scale: loss 'mse' of the recipe.
  return buildContinuousRuntime(
    'gaussian',
    model,
    { kind: 'points', gmm, scale, ...(preset ? { preset } : {}) },
    { process: GAUSSIAN_PROCESS, sampler: GAUSSIAN_SAMPLER, timePower: GAUSSIAN_TIME_POWER },
  );
}

/** Gaussian diffusion on the playground's 16×16 grey shapes: a U-Net on the default v-MSE, DDIM (continuous.ts). */
export function buildImageRuntime(model: AnyModel, process: GaussianScheduleKind = GAUSSIAN_PROCESS): FamilyRuntime {
  return buildContinuousRuntime(
    'gaussian-image',
    model,
    { kind: 'images', images: imageSource() },
    { process, sampler: GAUSSIAN_SAMPLER },
  );
}

/** A loaded Gaussian checkpoint's runtime: points on the playground's own schedule train on with its recipe (time weighting included). */
export function loadedContinuousRuntime(
  model: AnyModel,
  source: PointSourceName | 'shapes',
  process: GaussianScheduleKind,
  gmm: GaussianMixtureSource | null,
  scale: number,
): FamilyRuntime {
  if (source === 'shapes' || !gmm) return buildImageRuntime(model, process);
  if (process === GAUSSIAN_PROCESS) return buildGaussianRuntime(model, gmm, scale, source);
  return buildContinuousRuntime(
    'gaussian',
    model,
    { kind: 'points', gmm, scale, preset: source },
    { process, sampler: GAUSSIAN_SAMPLER },
  );
}
