// @altar/samplers: masked-diffusion ancestral sampling with the exact HMM oracle denoiser; every
// sample must be a sequence the HMM can produce, with one model call per step at most. The test
// statistics come from the `./testing` subpath.
import { initBackend, Rng } from '@altar/backend';
import { HmmSource, hmmOracleDenoiser } from '@altar/data';
import { MaskedProcess } from '@altar/noise';
import { sampleMasked } from '@altar/samplers';
import { chiSquareTest } from '@altar/samplers/testing';
import { close, ok } from './check.mjs';

await initBackend('cpu');
const src = new HmmSource({ seqLen: 8 });
const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'log-linear' });
const oracle = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t));
const { samples, cost } = await sampleMasked(oracle, proc, {
  batch: 4,
  seqLen: 8,
  steps: 16,
  rng: new Rng(1),
  cached: true,
});
ok(
  samples.length === 32 && samples.every((t) => t >= 0 && t < src.vocabSize),
  'samples are 4×8 data tokens (no mask left)',
);
const lp = src.logProbBatch(samples);
ok(
  lp.every((v) => Number.isFinite(v)),
  `oracle samples are possible under the HMM: ${Array.from(lp)}`,
);
ok(cost.nfe >= 1 && cost.nfe <= 16, `NFE ${cost.nfe} within 1..16 steps`);
const chi = chiSquareTest([50, 50], [0.5, 0.5]);
close(chi.statistic, 0, 1e-12, 'χ² of a perfect fit');
close(chi.pValue, 1, 1e-9, 'p-value of a perfect fit');
console.log(
  `samplers ok: 4 oracle samples, NFE ${cost.nfe}, mean log p ${(lp.reduce((s, v) => s + v, 0) / 4).toFixed(3)} nats`,
);
