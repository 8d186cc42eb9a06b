/**
 * Sampling text checkpoints: turn `--prompt` / `--infill` into the tokens a sampler keeps, and measure
 * what text samples can be measured by — their unigram entropy and share of repeated 4-grams (a dull,
 * repetitive sampler scores a low perplexity too), and, given a reference AR checkpoint on the same
 * corpus, their generative perplexity.
 */
import { AltarError } from '@altar/backend';
import {
  givenPrefixes,
  parseInfill,
  promptTokens,
  type FamilyRuntime,
  type GivenTokens,
  type SampleOutput,
} from '@altar/recipes';
import { perplexityFromBits, repeatedNgramShare, unigramEntropyBits } from '@altar/samplers';
import { UsageError } from '../io.js';
import { loadRun } from './checkpoint-runtime.js';

/** What `altar sample` reports for text samples. */
export interface TextQuality {
  /** Plug-in entropy of the samples' token frequencies, bits per token. */
  sampleUnigramEntropyBits: number;
  /** The same for the corpus's train split: the level samples should reach. */
  corpusUnigramEntropyBits: number;
  /** Share of 4-grams that repeat an earlier 4-gram of the same sample. */
  repeated4gramShare: number;
  /** 2^(bits per token of the samples under the reference AR model), with --ref. */
  generativePerplexity?: number;
  generativeBitsPerToken?: number;
}

/** The given tokens of `--prompt` or `--infill` (undefined without either). */
export function givenFor(
  rt: FamilyRuntime,
  family: string,
  a: { prompt?: string; infill?: string; n: number },
): GivenTokens | undefined {
  if (a.prompt === undefined && a.infill === undefined) return undefined;
  if (a.prompt !== undefined && a.infill !== undefined)
    throw new UsageError('--prompt and --infill: give one (a prompt is an infill template without gaps)');
  if (!rt.text)
    throw new UsageError(
      `--${a.prompt !== undefined ? 'prompt' : 'infill'}: needs a checkpoint trained on text (data.source 'text'); this one is '${family}' on synthetic data`,
    );
  const tok = rt.text.corpus.tokenizer;
  try {
    const given =
      a.prompt !== undefined
        ? promptTokens(a.prompt, tok, rt.seqLen, a.n)
        : parseInfill(a.infill!, tok, rt.seqLen, a.n);
    if (family === 'ar' || family === 'ssm') givenPrefixes(family, given, a.n, rt.seqLen); // AR cannot infill: say so now
    return given;
  } catch (e) {
    if (e instanceof AltarError)
      throw new UsageError(`--${a.prompt !== undefined ? 'prompt' : 'infill'}: ${e.message}`);
    throw e;
  }
}

/** Entropy, repetition and (with a reference AR checkpoint) generative perplexity of text samples. */
export async function textQuality(rt: FamilyRuntime, r: SampleOutput, refDir?: string): Promise<TextQuality> {
  const tokens = r.tokens as Int32Array;
  const q: TextQuality = {
    sampleUnigramEntropyBits: unigramEntropyBits(tokens, rt.vocabSize),
    corpusUnigramEntropyBits: rt.text!.unigramEntropyBits,
    repeated4gramShare: repeatedNgramShare(tokens, r.batch, r.seqLen, 4),
  };
  if (refDir === undefined) return q;
  const ref = await loadRun(refDir);
  try {
    const score = ref.runtime.scoreTokens?.bind(ref.runtime);
    if (!score) throw new UsageError(`--ref ${refDir}: a '${ref.config.family}' checkpoint; expected ar or ssm`);
    const a = rt.text!.corpus;
    const b = ref.runtime.text?.corpus;
    if (
      !b ||
      a.contentHash !== b.contentHash ||
      JSON.stringify(a.tokenizerSpec()) !== JSON.stringify(b.tokenizerSpec())
    )
      throw new UsageError(`--ref ${refDir}: trained on another corpus or tokenizer than the sampled checkpoint`);
    if (ref.runtime.seqLen !== r.seqLen)
      throw new UsageError(
        `--ref ${refDir}: its window is ${ref.runtime.seqLen} tokens, the samples have ${r.seqLen}; use a reference with the same data.text.seqLen`,
      );
    const bits = await score(tokens, r.batch);
    const mean = bits.reduce((s, v) => s + v, 0) / bits.length;
    q.generativeBitsPerToken = mean;
    q.generativePerplexity = perplexityFromBits(mean);
    return q;
  } finally {
    ref.runtime.dispose();
  }
}
