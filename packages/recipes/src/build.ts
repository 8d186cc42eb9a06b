/** One entry point: the runtime of any validated run config. */
import type { RunConfig } from './config/schema.js';
import type { FamilyRuntime } from './runtime.js';
import { buildD3pmRuntime, buildMaskedRuntime } from './families/discrete.js';
import { buildGaussianRuntime } from './families/gaussian.js';
import { buildLmRuntime } from './families/lm.js';
import type { TokenRecipeOptions } from './families/token-common.js';

/**
 * Build the family's runtime (model, loss, evaluation, sampling, scoring). Token options apply to token families.
 *
 * @example
 * ```ts
 * await initBackend('cpu');
 * const rt = buildRuntime(parseRunConfig({ family: 'd3pm', diffusion: { T: 32 } }));
 * const e = await rt.evaluate(new Rng(2), { batches: 1, batchSize: 16 });
 * rt.dispose();
 * ```
 */
export function buildRuntime(config: RunConfig, opts: TokenRecipeOptions = {}): FamilyRuntime {
  // (the Gaussian family's own options: buildGaussianRuntime(config, { model, gmm, images, scale }))
  switch (config.family) {
    case 'ar':
    case 'ssm':
      return buildLmRuntime(config, opts);
    case 'masked-diffusion':
      return buildMaskedRuntime(config, opts);
    case 'd3pm':
      return buildD3pmRuntime(config, opts);
    case 'gaussian':
      return buildGaussianRuntime(config);
  }
}
