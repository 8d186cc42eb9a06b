/**
 * `@altar/samplers/testing`: the statistics the sampler tests use to check that samples follow a
 * known distribution (Pearson's χ² goodness of fit with its exact p-value, and an RBF-kernel MMD
 * between two sample sets). They are published for tests of downstream code, not for the runtime
 * API, so they live under their own subpath instead of the main entry.
 *
 * @example
 * ```ts
 * import { chiSquareTest } from '@altar/samplers/testing';
 * const { pValue } = chiSquareTest([48, 52], [0.5, 0.5]);
 * ```
 * @module @altar/samplers/testing
 */
export { chiSquareTest, gammaQ, mmdRbf, type ChiSquareResult } from './stats.js';
