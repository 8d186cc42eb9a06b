/**
 * Host Float64 twins of the Gaussian bounds in gaussian.ts, for exact oracles (continuous data, Gaussian decoder):
 * the discrete-time NELBO with all T diffusion terms and the continuous-time VDM NELBO in log-SNR space, of one
 * vector at a time, with the denoiser replaced by a {@link HostGaussianOracle}'s posterior mean.
 */
import type { Rng } from '@altar/backend';
import type { GaussianProcess } from '@altar/noise';
import { gridTime, timeAtLogSnr } from './gaussian.js';
import { sampleUnitTimes } from './timesteps.js';
import type { HostGaussianOracle } from './types.js';

function priorKLHost(process: GaussianProcess, x: Float64Array): number {
  const a = process.alpha(1);
  const s2 = process.sigma(1) ** 2;
  const p2 = process.priorStd ** 2;
  let sq = 0;
  for (const v of x) sq += v * v;
  return 0.5 * (x.length * (s2 / p2 - 1 - Math.log(s2 / p2)) + (a * a * sq) / p2);
}

function noisy(
  process: GaussianProcess,
  x: Float64Array,
  t: number,
  rng: Rng,
): { z: Float64Array; a: number; s: number } {
  const a = process.alpha(t);
  const s = process.sigma(t);
  const z = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) z[k] = a * x[k]! + s * rng.nextNormal();
  return { z, a, s };
}

function gaussianDecoderNllHost(
  process: GaussianProcess,
  oracle: HostGaussianOracle,
  x: Float64Array,
  t: number,
  rng: Rng,
): number {
  const { z, a, s } = noisy(process, x, t, rng);
  const xh = oracle.meanX0(z, a, s);
  const v = Math.exp(-process.logSnr(t));
  let nll = 0;
  for (let k = 0; k < x.length; k++) nll += 0.5 * ((x[k]! - xh[k]!) ** 2 / v + Math.log(2 * Math.PI * v));
  return nll;
}

function sqErrHost(process: GaussianProcess, oracle: HostGaussianOracle, x: Float64Array, t: number, rng: Rng): number {
  const { z, a, s } = noisy(process, x, t, rng);
  const xh = oracle.meanX0(z, a, s);
  let e = 0;
  for (let k = 0; k < x.length; k++) e += (x[k]! - xh[k]!) ** 2;
  return e;
}

/**
 * Discrete-time Gaussian NELBO of one vector, all T diffusion terms (one noise draw each): nats.
 *
 * @example
 * ```ts
 * const mix = gmmPreset('rings');
 * const oracle = { dim: 2, meanX0: (z: Float64Array, a: number, s: number) => gmmPosterior(mix, z, a, s).meanX0 };
 * const { total } = ddpmNelboHost(proc, oracle, Float64Array.from([0.5, -0.2]), 1000, rng); // ≥ −log p(x) in expectation
 * ```
 */
export function ddpmNelboHost(
  process: GaussianProcess,
  oracle: HostGaussianOracle,
  x: Float64Array,
  T: number,
  rng: Rng,
  tMin = 1e-3,
): { total: number; prior: number; recon: number } {
  const prior = priorKLHost(process, x);
  const recon = gaussianDecoderNllHost(process, oracle, x, tMin, rng);
  let total = prior + recon;
  for (let i = 1; i <= T; i++) {
    const t = gridTime(i, T, tMin);
    const lt = process.logSnr(t);
    // ½ (SNR(s) − SNR(t)) = ½ SNR(t) (e^{λ_s − λ_t} − 1)
    const c = 0.5 * Math.exp(lt) * Math.expm1(process.logSnr(gridTime(i - 1, T, tMin)) - lt);
    total += c * sqErrHost(process, oracle, x, t, rng);
  }
  return { total, prior, recon };
}

/**
 * Continuous-time VDM NELBO of one vector (nats), the diffusion integral taken in log-SNR space
 * (VDM eq. 17 after the change of variables λ = λ(t), which VDM §4 shows is schedule-invariant):
 *   ½ ∫_{λ(1)}^{λ(t_min)} e^λ ‖x − x̂(z_λ)‖² dλ,
 * with `numSamples` stratified λ (the integrand is ≈ d·e^λ Var(x | z_λ) = O(d): low variance).
 *
 * @example
 * ```ts
 * const { total, prior, recon } = vdmNelboHost(proc, oracle, x, rng, 64); // nats; compare with −mix.logDensity(x)
 * ```
 */
export function vdmNelboHost(
  process: GaussianProcess,
  oracle: HostGaussianOracle,
  x: Float64Array,
  rng: Rng,
  numSamples = 16,
  tMin = 1e-3,
): { total: number; prior: number; recon: number } {
  const prior = priorKLHost(process, x);
  const recon = gaussianDecoderNllHost(process, oracle, x, tMin, rng);
  const lmax = process.logSnr(tMin);
  const lmin = process.logSnr(1);
  const us = sampleUnitTimes('stratified', numSamples, rng);
  let acc = 0;
  for (const u of us) {
    const lam = lmax - u * (lmax - lmin);
    const t = timeAtLogSnr(process, lam, tMin, 1);
    acc += 0.5 * Math.exp(process.logSnr(t)) * sqErrHost(process, oracle, x, t, rng);
  }
  return { total: prior + recon + ((lmax - lmin) * acc) / numSamples, prior, recon };
}
