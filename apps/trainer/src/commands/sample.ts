/**
 * `altar sample --oracle hmm|gmm --sampler <name> ...` and `altar sample DIR`: flag parsing and printing.
 * The oracle job is run/oracle-sampling.ts (no IO); a checkpoint is run/sample-checkpoint.ts.
 */
import { writeFileSync } from 'node:fs';
import { BACKEND_CHOICES, initBackend, type BackendChoice } from '@altar/backend';
import { choiceFlag, intFlag, numberFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, type CommandIO } from '../io.js';
import {
  D3PM_KINDS,
  GAUSSIAN_SCHEDULES,
  GMM_PRESETS,
  ORACLES,
  SAMPLER_NAMES,
  runOracleSampling,
  type OracleSampleResult,
  type OracleSampleSpec,
} from '../run/oracle-sampling.js';
import { sampleCheckpoint } from '../run/sample-checkpoint.js';
import { scatterSvg } from '../run/scatter.js';

/** Prediction kinds of the gmm oracle (@altar/noise's PredictionKind). */
const PREDICTIONS = ['eps', 'x0', 'v'] as const;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Tokens as text: one letter per token when the vocabulary fits the alphabet, else space-separated ids. */
export function decodeTokens(tokens: ArrayLike<number>, vocabSize: number): string {
  if (vocabSize <= ALPHABET.length) return Array.from(tokens, (t) => ALPHABET[t] ?? '?').join('');
  return Array.from(tokens).join(' ');
}

function formatBytes(b: number): string {
  if (b === 0) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  const i = Math.min(u.length - 1, Math.floor(Math.log10(b) / 3));
  return `${(b / 10 ** (3 * i)).toPrecision(4)} ${u[i]}`;
}

export function parseSampleArgs(argv: string[]): {
  spec: OracleSampleSpec;
  json: boolean;
  out: string;
  outGiven: boolean;
  backend: BackendChoice;
  show: number;
  checkpoint?: string;
  prompt?: string;
  infill?: string;
  ref?: string;
} {
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
      prompt: { type: 'string' },
      infill: { type: 'string' },
      ref: { type: 'string' },
    },
    true,
  );
  if (positionals.length > 1)
    throw new UsageError(`expected at most one checkpoint directory, got ${positionals.length} positionals`);
  const checkpoint = positionals[0];
  if (checkpoint === undefined && values.oracle === undefined) throw new UsageError('--oracle: required (hmm or gmm)');
  for (const k of ['prompt', 'infill', 'ref'] as const)
    if (checkpoint === undefined && values[k] !== undefined)
      throw new UsageError(`--${k}: applies to a text checkpoint (altar sample DIR --${k} …), not to an oracle`);
  const oracle = choiceFlag('oracle', values.oracle, ORACLES, 'hmm');
  const sampler = choiceFlag('sampler', values.sampler, SAMPLER_NAMES, oracle === 'hmm' ? 'masked' : 'ddim');
  const eta = values.eta === undefined ? undefined : numberFlag('eta', values.eta, 0);
  if (eta !== undefined && !(eta >= 0 && eta <= 1))
    throw new UsageError(`--eta: expected a number in [0, 1], got '${values.eta}'`);
  const params = values.params === undefined ? undefined : numberFlag('params', values.params, 0);
  if (params !== undefined && !(params >= 0))
    throw new UsageError(`--params: expected a number ≥ 0, got '${values.params}'`);
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
    schedule: choiceFlag('schedule', values.schedule, GAUSSIAN_SCHEDULES, 'vp-cosine'),
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
    ...(values.prompt !== undefined ? { prompt: values.prompt } : {}),
    ...(values.infill !== undefined ? { infill: values.infill } : {}),
    ...(values.ref !== undefined ? { ref: values.ref } : {}),
  };
}

function printResult(
  r: OracleSampleResult,
  spec: OracleSampleSpec,
  io: CommandIO,
  out: string,
  show: number,
  paramsGiven: boolean,
): void {
  if (r.tokens && r.vocabSize !== undefined && r.seqLen !== undefined) {
    io.out(
      `samples (${r.n} × ${r.seqLen} tokens, ${r.vocabSize <= ALPHABET.length ? `ids 0..${r.vocabSize - 1} as ${ALPHABET.slice(0, 3)}…` : 'ids'}):\n`,
    );
    for (let b = 0; b < Math.min(show, r.n); b++)
      io.out(`  ${decodeTokens(r.tokens.subarray(b * r.seqLen, (b + 1) * r.seqLen), r.vocabSize)}\n`);
    io.out(
      `true NLL of the samples: ${r.samplesNllBitsPerToken.toFixed(4)} bits/token (source entropy ${r.sourceEntropyBitsPerToken.toFixed(4)})\n`,
    );
  } else if (r.vectors && r.dim !== undefined) {
    writeFileSync(
      out,
      scatterSvg(
        r.vectors,
        r.dim,
        `${spec.sampler} ${spec.steps} steps, ${r.n} samples (gmm ${spec.preset ?? 'rings'})`,
      ),
    );
    io.out(`wrote ${r.n} samples (dim ${r.dim}) to ${out}\n`);
    for (let b = 0; b < Math.min(show, r.n); b++)
      io.out(`  [${Array.from(r.vectors.subarray(b * r.dim, (b + 1) * r.dim), (v) => v.toFixed(3)).join(', ')}]\n`);
    io.out(
      `true NLL of the samples: ${r.samplesNllBitsPerToken.toFixed(4)} bits/dim (source differential entropy ${r.sourceEntropyBitsPerToken.toFixed(4)})\n`,
    );
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
  summary: "sample a known-likelihood source's exact oracle with any sampler; print samples, true NLL and cost",
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

Text checkpoints (data.source 'text') print their samples as text (--json: "samples", an array of strings)
with the samples' unigram entropy and share of repeated 4-grams, and take:
  --prompt TEXT      continue TEXT (every family: AR and SSM decode after it, diffusion keeps it as a prefix)
  --infill TEMPLATE  fill the gaps of TEMPLATE, keeping every other character exactly; each '_' is one token
                     to generate (one character with the char tokenizer, one byte with the byte tokenizer),
                     '\\_' is a literal underscore. Diffusion families only, with any of their samplers and
                     --steps: AR and SSM generate left to right and cannot fill a gap before given text.
  --ref DIR          an AR checkpoint on the same corpus: report the samples' generative perplexity under it

Examples:
  altar sample --oracle hmm --sampler masked-cached --steps 256 --n 16
  altar sample altar-demo/models/masked-diffusion --sampler masked-cached --steps 64 --n 16
  altar sample runs/shakespeare-mdm --infill "To be, or ___ to be" --steps 32 --n 4
  altar sample runs/shakespeare-ar --prompt "ROMEO:" --n 2
  altar sample --oracle hmm --sampler ar --n 4
  altar sample --oracle gmm --sampler ode-heun --steps 30 --out rings.svg`,
  async run(argv, io) {
    const a = parseSampleArgs(argv);
    if (a.checkpoint !== undefined) {
      // A trained checkpoint (altar train / altar demo): see run/sample-checkpoint.ts.
      const given = (flag: string) => argv.some((x) => x === flag || x.startsWith(`${flag}=`));
      return sampleCheckpoint(
        a.checkpoint,
        {
          ...(given('--sampler') ? { sampler: a.spec.sampler } : {}),
          steps: a.spec.steps,
          stepsGiven: given('--steps'),
          n: a.spec.n,
          seed: a.spec.seed,
          json: a.json,
          show: a.show,
          backend: a.backend,
          ...(a.prompt !== undefined ? { prompt: a.prompt } : {}),
          ...(a.infill !== undefined ? { infill: a.infill } : {}),
          ...(a.ref !== undefined ? { ref: a.ref } : {}),
        },
        io,
      );
    }
    await initBackend(a.backend, { logger: { info: () => {}, warn: (m) => io.err(m + '\n') } });
    const r = await runOracleSampling(a.spec);
    if (a.json) {
      if (a.outGiven && r.vectors && r.dim !== undefined)
        writeFileSync(a.out, scatterSvg(r.vectors, r.dim, `${r.sampler} ${r.steps} steps`));
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
