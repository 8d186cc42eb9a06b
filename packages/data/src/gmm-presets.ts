/** Named 2-D (and random d-dimensional) Gaussian mixtures: rings, grid, moons, random. */
import { ConfigError, Rng } from '@altar/backend';
import { GaussianMixtureSource } from './gmm.js';
import { rejectUnknownKeys, requireInt, requireNumber } from './validate.js';

/**
 * The built-in mixtures: three 2-D ones for plots ('rings', 'grid', 'moons') and 'random' in any dimension.
 *
 * @example
 * ```ts
 * const preset: GmmPresetName = 'grid';
 * gmmPreset(preset);
 * ```
 */
export type GmmPresetName = 'rings' | 'grid' | 'moons' | 'random';
/**
 * Every preset name, for validating configs at the boundary.
 *
 * @example
 * ```ts
 * GMM_PRESETS.includes('moons'); // true
 * ```
 */
export const GMM_PRESETS: readonly GmmPresetName[] = ['rings', 'grid', 'moons', 'random'];

/**
 * Options of {@link gmmPreset}: the component std of the 2-D presets, and dimension, size and seed of 'random'.
 *
 * @example
 * ```ts
 * gmmPreset('random', { dim: 16, numComponents: 4, seed: 2 });
 * gmmPreset('rings', { std: 0.05 });
 * ```
 */
export interface GmmPresetOptions {
  /** Component standard deviation for the 2-D presets (default 0.08). */
  std?: number;
  /** 'random' only: dimension (default 8). */
  dim?: number;
  /** 'random' only: number of components (default 8). */
  numComponents?: number;
  /** 'random' only: seed (default 0). */
  seed?: number;
}

/**
 * 2-D presets (data roughly in [-2, 2]², for plots): 'rings' (8 + 16 components on circles of
 * radius 0.75 and 1.5), 'grid' (5×5 components spaced 0.8), 'moons' (two interleaved half circles of
 * 12 components each, a mixture approximation of sklearn's make_moons); and 'random' in d dims
 * (means ~ N(0, 1.5² I), per-dimension std in [0.15, 0.5], weights ∝ exp(0.5 g)).
 *
 * @example
 * ```ts
 * const rings = gmmPreset('rings');            // 24 components in 2-D
 * const wide = gmmPreset('random', { dim: 32 }); // 8 components in 32-D
 * ```
 */
export function gmmPreset(name: GmmPresetName, options: GmmPresetOptions = {}): GaussianMixtureSource {
  rejectUnknownKeys('gmmPreset', options, ['std', 'dim', 'numComponents', 'seed']);
  const std = requireNumber('gmmPreset.std', options.std ?? 0.08, 1e-6, 10);
  const v = std * std;
  const means: number[][] = [];
  switch (name) {
    case 'rings': {
      for (const [radius, count] of [
        [0.75, 8],
        [1.5, 16],
      ] as const) {
        for (let i = 0; i < count; i++) {
          const a = (2 * Math.PI * i) / count;
          means.push([radius * Math.cos(a), radius * Math.sin(a)]);
        }
      }
      break;
    }
    case 'grid': {
      for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) means.push([(i - 2) * 0.8, (j - 2) * 0.8]);
      break;
    }
    case 'moons': {
      const m = 12;
      for (let i = 0; i < m; i++) {
        const a = (Math.PI * i) / (m - 1);
        means.push([Math.cos(a) - 0.5, Math.sin(a) - 0.25]); // upper moon, centred
        means.push([1 - Math.cos(a) - 0.5, 0.5 - Math.sin(a) - 0.25]); // lower moon
      }
      break;
    }
    case 'random': {
      const d = requireInt('gmmPreset.dim', options.dim ?? 8, 1, 4096);
      const K = requireInt('gmmPreset.numComponents', options.numComponents ?? 8, 1, 4096);
      const rng = new Rng(requireNumber('gmmPreset.seed', options.seed ?? 0));
      const weights: number[] = [];
      const variances: number[][] = [];
      for (let k = 0; k < K; k++) {
        means.push(Array.from({ length: d }, () => 1.5 * rng.nextNormal()));
        variances.push(Array.from({ length: d }, () => (0.15 + 0.35 * rng.nextDouble()) ** 2));
        weights.push(Math.exp(0.5 * rng.nextNormal()));
      }
      return new GaussianMixtureSource({
        weights,
        means,
        variances,
        name: `gmm-random(d=${d}, K=${K}, seed=${options.seed ?? 0})`,
      });
    }
    default:
      throw new ConfigError(
        'gmmPreset.name',
        `unknown preset ${JSON.stringify(name)}; expected rings, grid, moons or random`,
      );
  }
  return new GaussianMixtureSource({
    weights: means.map(() => 1),
    means,
    variances: means.map(() => v),
    name: `gmm-${name}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Tensor oracle (continuous Denoiser contract)
