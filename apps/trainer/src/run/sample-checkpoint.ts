/**
 * `altar sample DIR ...`: sample a trained checkpoint (written by altar train / altar demo) with its
 * family's samplers, reporting the samples, their true NLL under the source and the cost record.
 * Called from commands/sample.ts when a checkpoint directory is given as the positional argument.
 */
import { initBackend, Rng, type BackendChoice } from '@altar/backend';
import { UsageError, type CommandIO } from '../io.js';
import { checkRunPath, loadRun } from './checkpoint-runtime.js';
import type { SamplerName } from '@altar/recipes';
import { givenFor, textQuality, type TextQuality } from './text-sampling.js';

export interface CheckpointSampleArgs {
  sampler?: string;
  steps: number;
  stepsGiven: boolean;
  n: number;
  seed: number;
  json: boolean;
  show: number;
  backend: BackendChoice;
  /** Text checkpoints: continue this text. */
  prompt?: string;
  /** Text checkpoints: fill the `_` gaps of this template (diffusion families). */
  infill?: string;
  /** Text checkpoints: an AR checkpoint (same corpus) that scores the samples: generative perplexity. */
  ref?: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const decode = (row: ArrayLike<number>, V: number) =>
  V <= ALPHABET.length ? Array.from(row, (t) => ALPHABET[t] ?? '?').join('') : Array.from(row).join(' ');

export async function sampleCheckpoint(dir: string, a: CheckpointSampleArgs, io: CommandIO): Promise<number> {
  checkRunPath(dir); // before the backend: no backend noise on a typo
  await initBackend(a.backend, { logger: { info: () => {}, warn: (m) => io.err(m + '\n') } });
  const run = await loadRun(dir);
  try {
    const rt = run.runtime;
    const sampler: SamplerName | undefined =
      a.sampler === undefined ? rt.samplers[0] : rt.samplers.find((s) => s === a.sampler);
    if (sampler === undefined) {
      throw new UsageError(
        `--sampler: '${a.sampler}' does not apply to the ${run.config.family} checkpoint in ${run.dir}; expected one of ${rt.samplers.join(', ')}`,
      );
    }
    const ev = run.config.eval;
    const steps =
      sampler === 'ar' ? rt.seqLen : a.stepsGiven ? a.steps : 'sampleSteps' in ev ? ev.sampleSteps : rt.seqLen;
    const u = rt.unit;
    const given = givenFor(rt, run.config.family, a);
    const r = await rt.sample(new Rng(a.seed), { sampler, n: a.n, steps, ...(given ? { given } : {}) });
    const quality: TextQuality | null = rt.text ? await textQuality(rt, r, a.ref) : null;
    const ent = rt.sourceEntropy(new Rng(a.seed).fork('entropy'), 2000)?.bits ?? NaN;
    const c = r.cost;
    if (a.json) {
      io.out(
        JSON.stringify({
          dir: run.dir,
          step: run.step,
          family: run.config.family,
          sampler,
          steps,
          n: a.n,
          nfe: c.nfe,
          weightBytesLoaded: c.weightBytesLoaded,
          wallMs: c.wallMs,
          tokensPerSec: c.tokensPerSec,
          samplesNllBitsPerToken: r.samplesNllBitsPerToken,
          sourceEntropyBitsPerToken: ent,
          ...(quality ? { samples: rt.formatRows(r), ...quality } : {}),
        }) + '\n',
      );
    } else {
      io.out(
        `${run.dir} (step ${run.step}, ${run.config.family}): ${a.n} samples × ${rt.seqLen} ${u === 'token' ? 'tokens' : 'dims'}, sampler ${sampler}, ${steps} steps\n`,
      );
      const rows = rt.text
        ? rt.formatRows(r).map((t) => JSON.stringify(t))
        : u === 'token'
          ? Array.from({ length: a.n }, (_, b) =>
              decode(r.tokens.subarray(b * rt.seqLen, (b + 1) * rt.seqLen), rt.vocabSize),
            )
          : rt.formatRows(r);
      for (let b = 0; b < Math.min(a.show, a.n); b++) io.out(`  ${rows[b]}\n`);
      if (quality) {
        io.out(
          `sample unigram entropy ${quality.sampleUnigramEntropyBits.toFixed(3)} bits/token (corpus ${quality.corpusUnigramEntropyBits.toFixed(3)}), ` +
            `repeated 4-grams ${(100 * quality.repeated4gramShare).toFixed(1)} %` +
            (quality.generativePerplexity !== undefined
              ? `, generative perplexity ${quality.generativePerplexity.toFixed(3)} under ${a.ref}`
              : '') +
            '\n',
        );
      } else
        io.out(
          `true NLL of the samples: ${r.samplesNllBitsPerToken.toFixed(4)} bits/${u} (source entropy ${ent.toFixed(4)})\n`,
        );
      io.out(
        `cost: NFE ${c.nfe}, weight bytes loaded ${(c.weightBytesLoaded / 1e6).toFixed(2)} MB, wall ${c.wallMs.toFixed(1)} ms, ${c.tokensPerSec.toFixed(1)} tokens/s\n`,
      );
    }
    return 0;
  } finally {
    run.runtime.dispose();
  }
}
