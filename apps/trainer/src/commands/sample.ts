/**
 * `altar sample --oracle hmm|gmm --sampler <name> ...`: sample a known-likelihood source's exact oracle
 * with any sampler of @altar/samplers and report the samples, their true NLL and the cost record.
 *
 * Structure: flag parsing (`parseSampleArgs`) → a plain run spec → `runOracleSampling(spec)` (exported,
 * no IO) → printing. A later `altar sample <checkpoint-dir>` plugs in as a positional argument that
 * builds the model instead of the oracle and calls the same samplers (see `runOracleSampling`).
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_CHOICES, Rng, initBackend, type BackendChoice } from '@altar/backend';
import { GaussianMixtureSource, HmmSource, gmmOracleDenoiser, gmmPreset, hmmOracleDenoiser, type GmmPresetName } from '@altar/data';
import { D3PMProcess, GaussianProcess, MaskedProcess, gaussianSchedule } from '@altar/noise';
import {
  sampleAr,
  sampleBlocks,
  sampleD3pm,
  sampleGaussian,
  sampleMasked,
  type CausalLm,
  type CostRecord,
  type GaussianSamplerName,
} from '@altar/samplers';
import { choiceFlag, intFlag, numberFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, type CommandIO } from '../io.js';
import { sampleCheckpoint } from '../run/sample-checkpoint.js';

export const SAMPLER_NAMES = ['ar', 'd3pm', 'masked', 'masked-cached', 'block', 'ddpm', 'ddim', 'ode-euler', 'ode-heun', 'sde'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];
const TOKEN_SAMPLERS: readonly SamplerName[] = ['ar', 'd3pm', 'masked', 'masked-cached', 'block'];
const VECTOR_SAMPLERS: readonly SamplerName[] = ['ddpm', 'ddim', 'ode-euler', 'ode-heun', 'sde'];
export const ORACLES = ['hmm', 'gmm'] as const;
const D3PM_KINDS = ['absorbing', 'uniform'] as const;
const SCHEDULES = ['vp-cosine', 'vp-linear', 've', 'flow'] as const;
const PREDICTIONS = ['eps', 'x0', 'v'] as const;
const GMM_PRESETS = ['rings', 'grid', 'moons', 'random'] as const;

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
  schedule?: (typeof SCHEDULES)[number];
  prediction?: (typeof PREDICTIONS)[number];
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

/**
 * The exact HMM as a causal LM: state = the forward belief p(s_k | x_<k) per row (host arrays), BOS id = V
 * (an extra id the source never emits; step(BOS) returns p(x_0)). Reads its inputs with dataSync (cpu/wasm).
 */
export function hmmCausalLm(source: HmmSource): CausalLm<Float64Array[]> {
  const V = source.vocabSize;
  const logits = (belief: Float64Array) => Array.from(source.tokenProbsFromBelief(belief), (p) => Math.log(Math.max(p, 1e-30)));
  const advance = (belief: Float64Array, tok: number) => (tok === V ? source.initialBelief() : source.updateBelief(belief, tok).belief);
  return {
    vocabSize: V,
    initState: (batch) => Array.from({ length: batch }, () => source.initialBelief()),
    disposeState: () => {},
    step(tokens, state) {
      const toks = tokens.dataSync();
      const next = state.map((b, i) => advance(b, toks[i]!));
      return { logits: tf.tensor2d(next.map(logits), [next.length, V]), state: next };
    },
    forward(tokens) {
      const [B, N] = tokens.shape;
      const toks = tokens.dataSync();
      const out = new Float32Array(B * N * V);
      for (let b = 0; b < B; b++) {
        let belief = source.initialBelief();
        for (let i = 0; i < N; i++) {
          belief = advance(belief, toks[b * N + i]!);
          out.set(logits(belief), (b * N + i) * V);
        }
      }
      return tf.tensor3d(out, [B, N, V]);
    },
  };
}

function gmmSource(preset: GmmPresetName): GaussianMixtureSource {
  return gmmPreset(preset);
}

/** Run one oracle sampling job (no printing). The caller owns the backend. */
export async function runOracleSampling(spec: OracleSampleSpec): Promise<OracleSampleResult> {
  const rng = new Rng(spec.seed);
  const paramBytes = spec.paramBytes ?? 0;
  if (spec.oracle === 'hmm') {
    if (!TOKEN_SAMPLERS.includes(spec.sampler)) throw new UsageError(`--sampler: '${spec.sampler}' samples vectors; the hmm oracle takes one of ${TOKEN_SAMPLERS.join(', ')}`);
    const source = new HmmSource(spec.seqLen !== undefined ? { seqLen: spec.seqLen } : {});
    const N = source.seqLen;
    const V = source.vocabSize;
    let tokens: Int32Array;
    let cost: CostRecord;
    let steps = spec.steps;
    switch (spec.sampler) {
      case 'ar': {
        const r = await sampleAr(hmmCausalLm(source), { prompt: Array.from({ length: spec.n }, () => [V]), length: N, rng, paramBytes });
        tokens = r.samples;
        cost = r.cost;
        steps = N;
        break;
      }
      case 'd3pm': {
        const T = spec.processT ?? spec.steps;
        if (T < spec.steps) throw new UsageError(`--process-T: ${T} is below --steps ${spec.steps}; sampling skips steps of a process, never adds them`);
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
        const r = spec.sampler === 'block' ? await sampleBlocks(oracle, proc, { ...o, blockSize: spec.blockSize ?? 8 }) : await sampleMasked(oracle, proc, o);
        tokens = r.samples;
        cost = r.cost;
      }
    }
    const lp = source.logProbBatch(tokens, N);
    let nll = 0;
    for (const v of lp) nll -= v;
    return {
      sampler: spec.sampler,
      steps,
      n: spec.n,
      nfe: cost.nfe,
      weightBytesLoaded: cost.weightBytesLoaded,
      wallMs: cost.wallMs,
      tokensPerSec: cost.tokensPerSec,
      samplesNllBitsPerToken: nll / lp.length / N / Math.LN2,
      sourceEntropyBitsPerToken: source.entropyReport(new Rng(0x51ed), 2000).entropyBitsPerToken,
      cost,
      tokens,
      vocabSize: V,
      seqLen: N,
    };
  }
  if (!VECTOR_SAMPLERS.includes(spec.sampler)) throw new UsageError(`--sampler: '${spec.sampler}' samples tokens; the gmm oracle takes one of ${VECTOR_SAMPLERS.join(', ')}`);
  const source = gmmSource(spec.preset ?? 'rings');
  const proc = new GaussianProcess(gaussianSchedule(spec.schedule ?? 'vp-cosine'));
  const oracle = gmmOracleDenoiser(source, proc, spec.prediction ?? 'eps');
  const r = await sampleGaussian(oracle, proc, {
    sampler: spec.sampler as GaussianSamplerName,
    shape: [spec.n, source.dim],
    steps: spec.steps,
    rng,
    paramBytes,
    ...(spec.eta !== undefined ? { eta: spec.eta } : {}),
  });
  const vectors = (await r.samples.data()) as Float32Array;
  r.samples.dispose();
  const d = source.dim;
  const nllBits = (x: ArrayLike<number>) => {
    const lp = source.logDensityBatch(x);
    let s = 0;
    for (const v of lp) s -= v;
    return s / lp.length / d / Math.LN2;
  };
  return {
    sampler: spec.sampler,
    steps: spec.steps,
    n: spec.n,
    nfe: r.cost.nfe,
    weightBytesLoaded: r.cost.weightBytesLoaded,
    wallMs: r.cost.wallMs,
    tokensPerSec: r.cost.tokensPerSec,
    samplesNllBitsPerToken: nllBits(vectors),
    sourceEntropyBitsPerToken: nllBits(source.sample(2000, new Rng(0x51ed))),
    cost: r.cost,
    vectors,
    dim: d,
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Tokens as text: one letter per token when the vocabulary fits the alphabet, else space-separated ids. */
export function decodeTokens(tokens: ArrayLike<number>, vocabSize: number): string {
  if (vocabSize <= ALPHABET.length) return Array.from(tokens, (t) => ALPHABET[t] ?? '?').join('');
  return Array.from(tokens).join(' ');
}

/** A 2-D scatter plot of the samples (first two coordinates) as a standalone SVG. */
export function scatterSvg(vectors: ArrayLike<number>, dim: number, title: string): string {
  const n = vectors.length / dim;
  const size = 480;
  const pad = 24;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) for (let q = 0; q < Math.min(2, dim); q++) {
    const v = vectors[i * dim + q]!;
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
  const sx = (v: number) => (pad + ((v - lo) / (hi - lo)) * (size - 2 * pad)).toFixed(1);
  const sy = (v: number) => (size - pad - ((v - lo) / (hi - lo)) * (size - 2 * pad)).toFixed(1);
  const pts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = vectors[i * dim]!;
    const y = dim > 1 ? vectors[i * dim + 1]! : 0;
    if (Number.isFinite(x) && Number.isFinite(y)) pts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="1.6"/>`);
  }
  const esc = title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="16" font-family="sans-serif" font-size="12">${esc}</text>
<g fill="#1f5fbf" fill-opacity="0.6">
${pts.join('\n')}
</g>
</svg>
`;
}

function formatBytes(b: number): string {
  if (b === 0) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log10(b) / 3));
  return `${(b / 10 ** (3 * i)).toPrecision(4)} ${u[i]}`;
}

export function parseSampleArgs(argv: string[]): { spec: OracleSampleSpec; json: boolean; out: string; outGiven: boolean; backend: BackendChoice; show: number; checkpoint?: string } {
  const { values, positionals } = parseFlags(
    argv,
    {
      oracle: { type: 'string' },
      sampler: { type: 'string' },
      steps: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      'seq-len': { type: 'string' },
      process: { type: 'string' },
      'process-T': { type: 'string' },
      'block-size': { type: 'string' },
      schedule: { type: 'string' },
      prediction: { type: 'string' },
      eta: { type: 'string' },
      preset: { type: 'string' },
      params: { type: 'string' },
      bpw: { type: 'string' },
      out: { type: 'string' },
      show: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length > 1) throw new UsageError(`expected at most one checkpoint directory, got ${positionals.length} positionals`);
  const checkpoint = positionals[0];
  if (checkpoint === undefined && values.oracle === undefined) throw new UsageError('--oracle: required (hmm or gmm)');
  const oracle = choiceFlag('oracle', values.oracle, ORACLES, 'hmm');
  const sampler = choiceFlag('sampler', values.sampler, SAMPLER_NAMES, oracle === 'hmm' ? 'masked' : 'ddim');
  const eta = values.eta === undefined ? undefined : numberFlag('eta', values.eta, 0);
  if (eta !== undefined && !(eta >= 0 && eta <= 1)) throw new UsageError(`--eta: expected a number in [0, 1], got '${values.eta}'`);
  const params = values.params === undefined ? undefined : numberFlag('params', values.params, 0);
  if (params !== undefined && !(params >= 0)) throw new UsageError(`--params: expected a number ≥ 0, got '${values.params}'`);
  const bpw = numberFlag('bpw', values.bpw, 4);
  if (!(bpw > 0)) throw new UsageError(`--bpw: expected a number > 0, got '${values.bpw}'`);
  const spec: OracleSampleSpec = {
    oracle,
    sampler,
    steps: intFlag('steps', values.steps, 64, 1),
    n: intFlag('n', values.n, oracle === 'hmm' ? 8 : 500, 1),
    seed: intFlag('seed', values.seed, 0),
    process: choiceFlag('process', values.process, D3PM_KINDS, 'absorbing'),
    blockSize: intFlag('block-size', values['block-size'], 8, 1),
    schedule: choiceFlag('schedule', values.schedule, SCHEDULES, 'vp-cosine'),
    prediction: choiceFlag('prediction', values.prediction, PREDICTIONS, 'eps'),
    preset: choiceFlag('preset', values.preset, GMM_PRESETS, 'rings'),
  };
  if (values['process-T'] !== undefined) spec.processT = intFlag('process-T', values['process-T'], 1, 1);
  if (values['seq-len'] !== undefined) spec.seqLen = intFlag('seq-len', values['seq-len'], 32, 1);
  if (eta !== undefined) spec.eta = eta;
  if (params !== undefined) spec.paramBytes = params * bpw;
  return {
    spec,
    json: values.json === true,
    out: values.out ?? './altar-samples.svg',
    outGiven: values.out !== undefined,
    backend: choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto'),
    show: intFlag('show', values.show, 8, 0),
    ...(checkpoint !== undefined ? { checkpoint } : {}),
  };
}

function printResult(r: OracleSampleResult, spec: OracleSampleSpec, io: CommandIO, out: string, show: number, paramsGiven: boolean): void {
  if (r.tokens && r.vocabSize !== undefined && r.seqLen !== undefined) {
    io.out(`samples (${r.n} × ${r.seqLen} tokens, ${r.vocabSize <= ALPHABET.length ? `ids 0..${r.vocabSize - 1} as ${ALPHABET.slice(0, 3)}…` : 'ids'}):\n`);
    for (let b = 0; b < Math.min(show, r.n); b++) io.out(`  ${decodeTokens(r.tokens.subarray(b * r.seqLen, (b + 1) * r.seqLen), r.vocabSize)}\n`);
    io.out(`true NLL of the samples: ${r.samplesNllBitsPerToken.toFixed(4)} bits/token (source entropy ${r.sourceEntropyBitsPerToken.toFixed(4)})\n`);
  } else if (r.vectors && r.dim !== undefined) {
    writeFileSync(out, scatterSvg(r.vectors, r.dim, `${spec.sampler} ${spec.steps} steps, ${r.n} samples (gmm ${spec.preset ?? 'rings'})`));
    io.out(`wrote ${r.n} samples (dim ${r.dim}) to ${out}\n`);
    for (let b = 0; b < Math.min(show, r.n); b++) io.out(`  [${Array.from(r.vectors.subarray(b * r.dim, (b + 1) * r.dim), (v) => v.toFixed(3)).join(', ')}]\n`);
    io.out(`true NLL of the samples: ${r.samplesNllBitsPerToken.toFixed(4)} bits/dim (source differential entropy ${r.sourceEntropyBitsPerToken.toFixed(4)})\n`);
  }
  const c = r.cost;
  io.out(
    `cost: ${r.sampler}, steps ${r.steps}: NFE ${c.nfe}, weight bytes loaded ${formatBytes(c.weightBytesLoaded)}` +
      `${paramsGiven ? '' : ' (an oracle has no weights; pass --params P [--bpw B] to account a model of P parameters)'}` +
      `, FLOPs ${c.flopsKnown ? c.flops.toExponential(3) : 'n/a (the oracle reports none)'}, wall ${c.wallMs.toFixed(1)} ms, ` +
      `${c.tokensPerSec.toFixed(1)} ${r.tokens ? 'tokens' : 'samples'}/s, peak tensor memory ${formatBytes(c.peakTensorBytes)}\n`,
  );
}

export const sampleCommand: Command = {
  name: 'sample',
  summary: 'sample a known-likelihood source\'s exact oracle with any sampler; print samples, true NLL and cost',
  help: `altar sample --oracle hmm|gmm --sampler <name> [--steps T] [--n N] [--seed S] [--json] [options]

Samples the exact oracle denoiser (or, for --sampler ar, the exact next-token conditionals) of a
known-likelihood source, so sample quality is measured against the truth: the mean −log2 p(sample) per
token next to the source's entropy. Prints the samples (letters a–z, A–Z, 0–9 for token ids) or writes an
SVG scatter for vectors, and the cost record (NFE, weight bytes loaded, wall time, tokens/s).

Samplers:
  hmm: ar | d3pm | masked | masked-cached | block
  gmm: ddpm | ddim | ode-euler | ode-heun | sde

Options:
  --steps T          diffusion steps (per block for 'block'; ignored by 'ar', which takes seq-len steps) [64]
  --n N              sequences (hmm) or points (gmm) [8 / 500]
  --seed S           RNG seed [0]
  --seq-len L        hmm sequence length [32]
  --process K        d3pm process: absorbing | uniform [absorbing]
  --process-T M      d3pm: the process's T (a "model trained at M"); --steps < M skips steps [= --steps]
  --block-size B     block sampler block length [8]
  --schedule S       gmm noise: vp-cosine | vp-linear | ve | flow [vp-cosine]
  --prediction P     gmm oracle prediction type: eps | x0 | v [eps]
  --eta E            DDIM η in [0, 1] [0]
  --preset P         gmm preset: rings | grid | moons | random [rings]
  --params P         account a hypothetical model of P parameters (oracles have none: weight bytes are 0 without it)
  --bpw B            bytes per weight for --params [4]
  --out FILE         SVG scatter for gmm samples [./altar-samples.svg; with --json only when given]
  --show K           samples to print [8]
  --backend NAME     auto | cuda | webgpu | wasm | cpu [auto]
  --json             one JSON object: {"sampler","steps","n","nfe","weightBytesLoaded","wallMs","tokensPerSec",
                     "samplesNllBitsPerToken","sourceEntropyBitsPerToken"}

A trained checkpoint instead of an oracle (a directory from altar train or altar demo):
  altar sample DIR [--sampler ar|masked|masked-cached|d3pm] [--steps T] [--n N] [--seed S] [--json]
  samples the model (EMA weights) with its family's samplers (default: ar for AR/SSM, masked for
  masked diffusion, d3pm for D3PM; --steps defaults to the run's eval.sampleSteps) and reports the
  true NLL of the samples under the source and the cost record.

Examples:
  altar sample --oracle hmm --sampler masked-cached --steps 256 --n 16
  altar sample altar-demo/models/masked-diffusion --sampler masked-cached --steps 64 --n 16
  altar sample --oracle hmm --sampler ar --n 4
  altar sample --oracle gmm --sampler ode-heun --steps 30 --out rings.svg`,
  async run(argv, io) {
    const a = parseSampleArgs(argv);
    if (a.checkpoint !== undefined) {
      // A trained checkpoint (altar train / altar demo): see run/sample-checkpoint.ts.
      const given = (flag: string) => argv.some((x) => x === flag || x.startsWith(`${flag}=`));
      return sampleCheckpoint(a.checkpoint, { ...(given('--sampler') ? { sampler: a.spec.sampler } : {}), steps: a.spec.steps, stepsGiven: given('--steps'), n: a.spec.n, seed: a.spec.seed, json: a.json, show: a.show, backend: a.backend }, io);
    }
    await initBackend(a.backend, { logger: { info: () => {}, warn: (m) => io.err(m + '\n') } });
    const r = await runOracleSampling(a.spec);
    if (a.json) {
      if (a.outGiven && r.vectors && r.dim !== undefined) writeFileSync(a.out, scatterSvg(r.vectors, r.dim, `${r.sampler} ${r.steps} steps`));
      io.out(
        JSON.stringify({
          sampler: r.sampler,
          steps: r.steps,
          n: r.n,
          nfe: r.nfe,
          weightBytesLoaded: r.weightBytesLoaded,
          wallMs: r.wallMs,
          tokensPerSec: r.tokensPerSec,
          samplesNllBitsPerToken: r.samplesNllBitsPerToken,
          sourceEntropyBitsPerToken: r.sourceEntropyBitsPerToken,
        }) + '\n',
      );
    } else printResult(r, a.spec, io, a.out, a.show, a.spec.paramBytes !== undefined);
    return 0;
  },
};
