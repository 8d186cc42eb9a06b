/**
 * `altar bound`: how much bound slack does a noise process and its number of steps T cost, before any
 * training? Evaluates the NELBO of the exact oracle denoiser of a known-likelihood source (HMM tokens:
 * forward–backward posterior; Gaussian mixture: closed-form posterior) next to the source's true NLL.
 * All math runs on the host in Float64 (no tensors), so it is exact up to Monte-Carlo noise over z_t.
 */
import { Rng } from '@altar/backend';
import { HmmSource, gmmPosterior, gmmPreset, hmmPosterior } from '@altar/data';
import {
  d3pmNelboHost,
  ddpmNelboHost,
  emissionOracle,
  estimateStats,
  maskedNelboHost,
  vdmNelboHost,
  type HostGaussianOracle,
} from '@altar/elbo';
import {
  D3PM_KINDS,
  D3PM_SCHEDULES,
  D3PMProcess,
  GAUSSIAN_SCHEDULES,
  MASK_SCHEDULES,
  MaskedProcess,
  GaussianProcess,
} from '@altar/noise';
import { choiceFlag, intFlag, intListFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../io.js';

const SOURCES = ['hmm', 'gmm'] as const;
const PROCESSES = ['absorbing', 'uniform', 'masked', 'vp-linear', 'vp-cosine', 've', 'flow'] as const;
const DISCRETE = ['absorbing', 'uniform', 'masked'];
type ProcessName = (typeof PROCESSES)[number];

export interface BoundRow {
  /** Diffusion steps; null for a continuous-time bound (masked, or the VDM limit row of gmm). */
  T: number | null;
  nelboBitsPerToken: number;
  /** Standard error of the mean NELBO over the n evaluated examples. */
  stdErr: number;
  /** NELBO − true NLL, paired per example, and its standard error. */
  slackBitsPerToken: number;
  slackStdErr: number;
}

export interface BoundReport {
  source: string;
  process: string;
  /** 'bits/token' for hmm, 'bits/dim' for gmm (the *BitsPerToken fields then hold bits per dimension). */
  unit: 'bits/token' | 'bits/dim';
  n: number;
  seed: number;
  trueNllBitsPerToken: number;
  rows: BoundRow[];
}

function summarise(T: number | null, nelbo: Float64Array, nll: Float64Array, per: number): BoundRow {
  const s = estimateStats(nelbo);
  const d = estimateStats(nelbo.map((v, i) => v - nll[i]!));
  const k = per * Math.LN2;
  return {
    T,
    nelboBitsPerToken: s.mean / k,
    stdErr: s.stdErr / k,
    slackBitsPerToken: d.mean / k,
    slackStdErr: d.stdErr / k,
  };
}

/** The computation behind the command (exported for tests and the playground). */
export function computeBound(opts: {
  source: 'hmm' | 'gmm';
  process: ProcessName;
  Ts: number[];
  seed: number;
  n: number;
  schedule?: string;
  samples: number;
}): BoundReport {
  const rng = new Rng(opts.seed);
  const dataRng = rng.fork('data');
  if (opts.source === 'hmm') {
    if (!DISCRETE.includes(opts.process))
      throw new UsageError(`--process: source hmm takes ${DISCRETE.join(', ')}, got '${opts.process}'`);
    const src = new HmmSource();
    const N = src.seqLen;
    const V = src.vocabSize;
    const flat = src.sample(opts.n, dataRng);
    const seqs = Array.from({ length: opts.n }, (_, b) => flat.subarray(b * N, (b + 1) * N));
    const nll = Float64Array.from(seqs, (x) => -src.logProb(x));
    const posterior = (L: Float64Array) => hmmPosterior(src, L).marginals;
    const rows: BoundRow[] = [];
    if (opts.process === 'masked') {
      const p = new MaskedProcess({
        vocabSize: V,
        schedule: MASK_SCHEDULES.find((k) => k === opts.schedule) ?? 'log-linear',
      });
      const oracle = emissionOracle(p, posterior);
      const r = rng.fork('masked');
      rows.push(
        summarise(
          null,
          Float64Array.from(seqs, (x) => maskedNelboHost(p, oracle, x, r, Math.max(1, opts.samples) * 128).total),
          nll,
          N,
        ),
      );
    } else {
      const kind = D3PM_KINDS.find((k) => k === opts.process);
      if (kind === undefined)
        throw new UsageError(`--process: source hmm takes ${DISCRETE.join(', ')}, got '${opts.process}'`);
      const schedule = D3PM_SCHEDULES.find((k) => k === opts.schedule);
      for (const T of opts.Ts) {
        const p = new D3PMProcess({ kind, vocabSize: V, T, ...(schedule ? { schedule } : {}) });
        const oracle = emissionOracle(p, posterior);
        const r = rng.fork(`T${T}`);
        rows.push(
          summarise(
            T,
            Float64Array.from(seqs, (x) => d3pmNelboHost(p, oracle, x, r, 'full', { numSamples: opts.samples }).total),
            nll,
            N,
          ),
        );
      }
    }
    return {
      source: src.name,
      process: opts.process,
      unit: 'bits/token',
      n: opts.n,
      seed: opts.seed,
      trueNllBitsPerToken: estimateStats(nll).mean / (N * Math.LN2),
      rows,
    };
  }
  if (DISCRETE.includes(opts.process))
    throw new UsageError(`--process: source gmm takes vp-linear, vp-cosine, ve, flow, got '${opts.process}'`);
  const gmm = gmmPreset('random', { dim: 8, numComponents: 8, seed: 0 });
  const d = gmm.dim;
  const xs = gmm.sample(opts.n, dataRng);
  const points = Array.from({ length: opts.n }, (_, b) => Float64Array.from(xs.subarray(b * d, (b + 1) * d)));
  const nll = Float64Array.from(points, (x) => -gmm.logDensity(x));
  const oracle: HostGaussianOracle = { dim: d, meanX0: (z, a, s) => gmmPosterior(gmm, z, a, s).meanX0 };
  const kind = GAUSSIAN_SCHEDULES.find((k) => k === opts.process);
  if (kind === undefined)
    throw new UsageError(`--process: source gmm takes ${GAUSSIAN_SCHEDULES.join(', ')}, got '${opts.process}'`);
  const proc = new GaussianProcess(kind);
  const rows: BoundRow[] = [];
  for (const T of opts.Ts) {
    const r = rng.fork(`T${T}`);
    const nelbo = Float64Array.from(points, (x) => {
      let acc = 0;
      for (let k = 0; k < opts.samples; k++) acc += ddpmNelboHost(proc, oracle, x, T, r).total;
      return acc / opts.samples;
    });
    rows.push(summarise(T, nelbo, nll, d));
  }
  const r = rng.fork('vdm');
  rows.push(
    summarise(
      null,
      Float64Array.from(points, (x) => vdmNelboHost(proc, oracle, x, r, 64 * opts.samples).total),
      nll,
      d,
    ),
  );
  return {
    source: gmm.name,
    process: opts.process,
    unit: 'bits/dim',
    n: opts.n,
    seed: opts.seed,
    trueNllBitsPerToken: estimateStats(nll).mean / (d * Math.LN2),
    rows,
  };
}

function fmt(v: number, digits = 4): string {
  return (v >= 0 ? ' ' : '') + v.toFixed(digits);
}

export function formatBoundTable(r: BoundReport): string {
  const u = r.unit;
  const lines = [
    `source ${r.source}, process ${r.process}, n = ${r.n} examples, seed ${r.seed}`,
    `true NLL: ${r.trueNllBitsPerToken.toFixed(4)} ${u}` +
      (u === 'bits/dim' ? ' (negative log density; continuous data)' : ''),
    '',
    `${'T'.padStart(8)}  ${('NELBO ' + u).padStart(17)}  ${'± s.e.'.padStart(8)}  ${'slack'.padStart(9)}  ${'± s.e.'.padStart(8)}`,
  ];
  for (const row of r.rows) {
    const T = row.T === null ? 'cont.' : String(row.T);
    lines.push(
      `${T.padStart(8)}  ${fmt(row.nelboBitsPerToken).padStart(17)}  ${row.stdErr.toFixed(4).padStart(8)}  ${fmt(row.slackBitsPerToken).padStart(9)}  ${row.slackStdErr.toFixed(4).padStart(8)}`,
    );
  }
  lines.push('', `slack = NELBO − true NLL per example (paired). 'cont.' = continuous time (T → ∞).`);
  return lines.join('\n') + '\n';
}

export const boundCommand: Command = {
  name: 'bound',
  summary: 'NELBO of the exact oracle denoiser vs the true NLL of a known source, per process and T',
  help: `altar bound --source hmm|gmm --process ${PROCESSES.join('|')} [--T 2,8,32,128,512] [--schedule S]
            [--seed S] [--n N] [--samples M] [--json]

Evaluates the negative ELBO of the exact oracle denoiser (no training) next to the source's true
negative log-likelihood: the bound slack a noise process and its number of steps T cost.

  --source hmm   the default HMM token source (32 tokens × 32 positions); bits per token.
                 processes: absorbing (D3PM, default schedule jsd), uniform (D3PM, default cosine),
                 masked (continuous time, MDLM; default log-linear; one row, T = cont.)
  --source gmm   an 8-dimensional Gaussian mixture (gmmPreset 'random'); bits per DIMENSION (the
                 *BitsPerToken JSON fields then hold bits/dim; the true NLL is a negative log density).
                 processes: vp-linear, vp-cosine, ve, flow (discrete T plus the continuous VDM row).
  --schedule     D3PM: linear|cosine|jsd; masked: log-linear|linear|cosine
  --n            examples evaluated (default 32); --samples M: z_t draws per term (default 1)
  --json         {"source","process","unit","n","seed","trueNllBitsPerToken",
                  "rows":[{"T","nelboBitsPerToken","stdErr","slackBitsPerToken","slackStdErr"}]}

Examples:
  altar bound --source hmm --process absorbing --T 2,8,32,128,512
  altar bound --source gmm --process vp-cosine --json`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      source: { type: 'string' },
      process: { type: 'string' },
      T: { type: 'string' },
      schedule: { type: 'string' },
      seed: { type: 'string' },
      n: { type: 'string' },
      samples: { type: 'string' },
      json: { type: 'boolean' },
    });
    const source = choiceFlag('source', values.source, SOURCES, 'hmm');
    const process = choiceFlag('process', values.process, PROCESSES, source === 'hmm' ? 'absorbing' : 'vp-cosine');
    const Ts = intListFlag('T', values.T, [2, 8, 32, 128, 512]);
    for (const T of Ts)
      if (T > 100000) throw new UsageError(`--T: ${T} steps is too many for an exact evaluation (max 100000)`);
    const schedule = values.schedule;
    if (schedule !== undefined) {
      const ok = process === 'masked' ? ['log-linear', 'linear', 'cosine'] : ['linear', 'cosine', 'jsd'];
      if (!DISCRETE.includes(process))
        throw new UsageError(`--schedule applies to absorbing, uniform and masked only, not '${process}'`);
      if (!ok.includes(schedule))
        throw new UsageError(`--schedule: expected one of ${ok.join(', ')} for ${process}, got '${schedule}'`);
    }
    const report = computeBound({
      source,
      process,
      Ts,
      seed: intFlag('seed', values.seed, 0),
      n: intFlag('n', values.n, 32, 2),
      samples: intFlag('samples', values.samples, 1, 1),
      ...(schedule !== undefined ? { schedule } : {}),
    });
    io.out(values.json ? JSON.stringify(report) + '\n' : formatBoundTable(report));
    return 0;
  },
};
