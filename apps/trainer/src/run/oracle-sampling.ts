/**
 * Sampling a known-likelihood source's exact oracle (no model, no IO): the HMM's exact denoisers and its
 * exact AR conditionals (@altar/data's hmmOracleCausalLM), the mixture's exact Gaussian denoiser; any
 * sampler of @altar/samplers; the samples scored against the source (@altar/recipes' scoring).
 */
import { Rng } from '@altar/backend';
import {
  GMM_PRESETS,
  HmmSource,
  gmmOracleDenoiser,
  gmmPreset,
  hmmOracleCausalLM,
  hmmOracleDenoiser,
  type GmmPresetName,
} from '@altar/data';
import {
  D3PM_KINDS,
  D3PMProcess,
  GAUSSIAN_SCHEDULES,
  GaussianProcess,
  MaskedProcess,
  gaussianSchedule,
  type PredictionKind,
} from '@altar/noise';
import { hmmSampleBits, mixtureSampleBits } from '@altar/recipes';
import {
  GAUSSIAN_SAMPLERS,
  sampleAr,
  sampleBlocks,
  sampleD3pm,
  sampleGaussian,
  sampleMasked,
  type CostRecord,
  type GaussianSamplerName,
} from '@altar/samplers';
import { UsageError } from '../io.js';

export const SAMPLER_NAMES = [
  'ar',
  'd3pm',
  'masked',
  'masked-cached',
  'block',
  'ddpm',
  'ddim',
  'ode-euler',
  'ode-heun',
  'sde',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];
export const TOKEN_SAMPLERS: readonly SamplerName[] = ['ar', 'd3pm', 'masked', 'masked-cached', 'block'];
export const ORACLES = ['hmm', 'gmm'] as const;
export { D3PM_KINDS, GAUSSIAN_SCHEDULES, GMM_PRESETS };

function isGaussianSampler(s: SamplerName): s is GaussianSamplerName {
  return GAUSSIAN_SAMPLERS.some((g) => g === s);
}

export interface OracleSampleSpec {
  oracle: (typeof ORACLES)[number];
  sampler: SamplerName;
  /** Diffusion steps T (per block for `block`); ignored by `ar` (which takes seqLen steps). */
  steps: number;
  /** Sequences (hmm) or points (gmm). */
  n: number;
  seed: number;
  /** HMM sequence length (default: the default source's 32). */
  seqLen?: number;
  /** d3pm: which discrete process, and the T it is defined at (default steps; larger = step skipping). */
  process?: (typeof D3PM_KINDS)[number];
  processT?: number;
  blockSize?: number;
  /** gmm: Gaussian schedule, prediction type, DDIM η, preset. */
  schedule?: (typeof GAUSSIAN_SCHEDULES)[number];
  prediction?: PredictionKind;
  eta?: number;
  preset?: GmmPresetName;
  /** Hypothetical parameter bytes per network call (oracles have none: default 0). */
  paramBytes?: number;
}

export interface OracleSampleResult {
  sampler: SamplerName;
  steps: number;
  n: number;
  nfe: number;
  weightBytesLoaded: number;
  wallMs: number;
  tokensPerSec: number;
  /** Mean −log2 p(sample) under the true source, per token (hmm) or per dimension (gmm, differential). */
  samplesNllBitsPerToken: number;
  /** The source's entropy rate in the same unit (Monte Carlo estimate, 2000 samples). */
  sourceEntropyBitsPerToken: number;
  cost: CostRecord;
  /** hmm: tokens (n × seqLen), vocabSize; gmm: vectors (n × dim). */
  tokens?: Int32Array;
  vocabSize?: number;
  seqLen?: number;
  vectors?: Float32Array;
  dim?: number;
}

/** Run one oracle sampling job (no printing). The caller owns the backend. */
export async function runOracleSampling(spec: OracleSampleSpec): Promise<OracleSampleResult> {
  const rng = new Rng(spec.seed);
  const paramBytes = spec.paramBytes ?? 0;
  if (spec.oracle === 'hmm') {
    if (!TOKEN_SAMPLERS.includes(spec.sampler))
      throw new UsageError(
        `--sampler: '${spec.sampler}' samples vectors; the hmm oracle takes one of ${TOKEN_SAMPLERS.join(', ')}`,
      );
    const source = new HmmSource(spec.seqLen !== undefined ? { seqLen: spec.seqLen } : {});
    const N = source.seqLen;
    const V = source.vocabSize;
    let tokens: Int32Array;
    let cost: CostRecord;
    let steps = spec.steps;
    switch (spec.sampler) {
      case 'ar': {
        const r = await sampleAr(hmmOracleCausalLM(source), {
          prompt: Array.from({ length: spec.n }, () => [V]),
          length: N,
          rng,
          paramBytes,
        });
        tokens = r.samples;
        cost = r.cost;
        steps = N;
        break;
      }
      case 'd3pm': {
        const T = spec.processT ?? spec.steps;
        if (T < spec.steps)
          throw new UsageError(
            `--process-T: ${T} is below --steps ${spec.steps}; sampling skips steps of a process, never adds them`,
          );
        const proc = new D3PMProcess({ kind: spec.process ?? 'absorbing', vocabSize: V, T });
        const oracle = hmmOracleDenoiser(source, (u) => proc.marginalMatrix(Math.round(u * proc.T)));
        const r = await sampleD3pm(oracle, proc, { batch: spec.n, seqLen: N, steps: spec.steps, rng, paramBytes });
        tokens = r.samples;
        cost = r.cost;
        break;
      }
      default: {
        const proc = new MaskedProcess({ vocabSize: V, schedule: 'log-linear' });
        const oracle = hmmOracleDenoiser(source, (u) => proc.marginalMatrix(u));
        const o = { batch: spec.n, seqLen: N, steps: spec.steps, rng, paramBytes, cached: spec.sampler !== 'masked' };
        const r =
          spec.sampler === 'block'
            ? await sampleBlocks(oracle, proc, { ...o, blockSize: spec.blockSize ?? 8 })
            : await sampleMasked(oracle, proc, o);
        tokens = r.samples;
        cost = r.cost;
      }
    }
    return {
      sampler: spec.sampler,
      steps,
      n: spec.n,
      nfe: cost.nfe,
      weightBytesLoaded: cost.weightBytesLoaded,
      wallMs: cost.wallMs,
      tokensPerSec: cost.tokensPerSec,
      samplesNllBitsPerToken: hmmSampleBits(source, tokens, spec.n),
      sourceEntropyBitsPerToken: source.entropyReport(new Rng(0x51ed), 2000).entropyBitsPerToken,
      cost,
      tokens,
      vocabSize: V,
      seqLen: N,
    };
  }
  const sampler = spec.sampler;
  if (!isGaussianSampler(sampler))
    throw new UsageError(
      `--sampler: '${spec.sampler}' samples tokens; the gmm oracle takes one of ${GAUSSIAN_SAMPLERS.join(', ')}`,
    );
  const source = gmmPreset(spec.preset ?? 'rings');
  const proc = new GaussianProcess(gaussianSchedule(spec.schedule ?? 'vp-cosine'));
  const oracle = gmmOracleDenoiser(source, proc, spec.prediction ?? 'eps');
  const r = await sampleGaussian(oracle, proc, {
    sampler,
    shape: [spec.n, source.dim],
    steps: spec.steps,
    rng,
    paramBytes,
    ...(spec.eta !== undefined ? { eta: spec.eta } : {}),
  });
  const vectors = Float32Array.from(await r.samples.data());
  r.samples.dispose();
  const d = source.dim;
  return {
    sampler: spec.sampler,
    steps: spec.steps,
    n: spec.n,
    nfe: r.cost.nfe,
    weightBytesLoaded: r.cost.weightBytesLoaded,
    wallMs: r.cost.wallMs,
    tokensPerSec: r.cost.tokensPerSec,
    samplesNllBitsPerToken: mixtureSampleBits(source, vectors, spec.n),
    sourceEntropyBitsPerToken: source.entropyReport(new Rng(0x51ed), 2000).entropyBitsPerDim,
    cost: r.cost,
    vectors,
    dim: d,
  };
}
