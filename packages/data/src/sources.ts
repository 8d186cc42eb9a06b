/** Config-driven factories (typed `type` field, unknown types rejected) for the trainer and playground. */
import { ConfigError } from '@altar/backend';
import { GaussianMixtureSource, type VectorSource } from './gmm.js';
import { gmmPreset, type GmmPresetName, type GmmPresetOptions } from './gmm-presets.js';
import { HmmSource } from './hmm.js';
import type { HmmConfig } from './hmm-config.js';
import { ShapeImageSource, type ShapeImageConfig } from './images.js';
import type { TokenSource } from './token-source.js';

/**
 * A token source as a config names it: `{ type: 'hmm', ...HmmConfig }`.
 *
 * @example
 * ```ts
 * const spec: TokenSourceSpec = { type: 'hmm', seqLen: 64, numStates: 16 };
 * createTokenSource(spec);
 * ```
 */
export type TokenSourceSpec = { type: 'hmm' } & Partial<HmmConfig>;

/**
 * A vector source as a config names it: a mixture preset or procedural shape images.
 *
 * @example
 * ```ts
 * const a: VectorSourceSpec = { type: 'gmm', preset: 'rings' };
 * const b: VectorSourceSpec = { type: 'shapes', size: 16, channels: 1 };
 * ```
 */
export type VectorSourceSpec =
  ({ type: 'gmm'; preset: GmmPresetName } & GmmPresetOptions) | ({ type: 'shapes' } & ShapeImageConfig);

/**
 * `{ type: 'hmm', ...HmmConfig }` → HmmSource (missing keys take defaultHmmConfig's values).
 *
 * @example
 * ```ts
 * const src = createTokenSource({ type: 'hmm', seqLen: 32 }); // an HmmSource
 * ```
 */
export function createTokenSource(spec: TokenSourceSpec): TokenSource & HmmSource {
  if (typeof spec !== 'object' || spec === null)
    throw new ConfigError('source', 'expected an object with a "type" field');
  const { type, ...rest } = spec;
  if (type === 'hmm') return new HmmSource(rest);
  throw new ConfigError(
    'source.type',
    `unknown token source ${JSON.stringify(type)}; expected "hmm" (text files: TextFileTokenStream from @altar/data/node)`,
  );
}

/**
 * `{ type: 'gmm', preset, ... }` or `{ type: 'shapes', size, channels }`.
 *
 * @example
 * ```ts
 * const src = createVectorSource({ type: 'gmm', preset: 'moons' }); // a GaussianMixtureSource
 * ```
 */
export function createVectorSource(spec: VectorSourceSpec): VectorSource & (GaussianMixtureSource | ShapeImageSource) {
  if (typeof spec !== 'object' || spec === null)
    throw new ConfigError('source', 'expected an object with a "type" field');
  if (spec.type === 'gmm') {
    const { type: _t, preset, ...opts } = spec;
    void _t;
    return gmmPreset(preset, opts);
  }
  if (spec.type === 'shapes') {
    const { type: _t, ...cfg } = spec;
    void _t;
    return new ShapeImageSource(cfg);
  }
  throw new ConfigError(
    'source.type',
    `unknown vector source ${JSON.stringify((spec as { type?: unknown }).type)}; expected "gmm" or "shapes"`,
  );
}
