/**
 * Text samples from a recipe runtime over a corpus: unconditional rows, or an infill of a template whose
 * gaps are runs of '_' (@altar/recipes' parseInfill: one token per underscore; the given tokens are kept
 * exactly). Every displayed step is rendered as text, positions not yet written as '█': AR writes left to
 * right, masked diffusion and D3PM (absorbing) reveal characters anywhere.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, Rng } from '@altar/backend';
import type { TokenCorpus } from '@altar/data';
import { parseInfill, type FamilyRuntime } from '@altar/recipes';
import type { TextSampleReq, TextSampleResult } from '../protocol.js';
import { SAMPLERS_BY_FAMILY, samplerFor, type Family } from '../state.js';
import { renderRow } from './text-corpus.js';
import { D3PM_T } from './token-runtime.js';

/** Rows of the Text view's sampler: enough to compare, few enough to read. */
export const TEXT_ROWS = 4;

export async function sampleText(
  rt: FamilyRuntime,
  corpus: TokenCorpus,
  req: TextSampleReq,
  N: number,
): Promise<TextSampleResult> {
  const family = req.family;
  const list = SAMPLERS_BY_FAMILY[family];
  if (req.sampler !== 'auto' && !list.includes(req.sampler))
    throw new AltarError(
      'BAD_ARG',
      `text: sampler '${req.sampler}' does not apply to ${family} (use ${list.join(', ')})`,
    );
  const choice = samplerFor(family, req.sampler);
  const cached = choice !== 'uncached';
  const n = Math.max(1, Math.min(16, Math.floor(req.n) || TEXT_ROWS));
  const template = req.template ?? '';
  const given = template ? parseInfill(template, corpus.tokenizer, N, n) : undefined;
  const rng = new Rng(req.seed).fork(`text-sample:${family}:${req.T}`);
  const frames: Int32Array[][] = [];
  const record = (zt: tf.Tensor2D): void => {
    const z = zt.dataSync();
    frames.push(Array.from({ length: n }, (_, b) => Int32Array.from(z.subarray(b * N, b * N + N))));
  };
  const opts = { n, ...(given ? { given } : {}) };
  let out;
  let label: string;
  let steps: number;
  if (family === 'ar' || family === 'ssm') {
    out = await rt.sample(rng, { sampler: 'ar', cached, ...opts });
    steps = N;
    label = `${family} (${cached ? (family === 'ar' ? 'KV cache' : 'recurrent state') : 'no cache'})`;
    // AR writes left to right: frame k shows the given tokens and the first k + 1 positions.
    const tok = Int32Array.from(out.tokens);
    for (let k = 0; k < N; k++)
      frames.push(
        Array.from({ length: n }, (_, b) =>
          Int32Array.from(tok.subarray(b * N, b * N + N), (v, i) => (i <= k || given?.keep[b * N + i] ? v : -1)),
        ),
      );
  } else if (family === 'masked-diffusion') {
    steps = req.T;
    out = await rt.sample(rng, { sampler: cached ? 'masked-cached' : 'masked', steps, onModelInput: record, ...opts });
    label = cached ? 'masked (cached)' : 'masked (uncached)';
  } else if (family === 'd3pm') {
    steps = Math.min(D3PM_T, req.T);
    out = await rt.sample(rng, { sampler: 'd3pm', steps, onModelInput: record, ...opts });
    label = `d3pm absorbing (T = ${D3PM_T})`;
  } else {
    throw new AltarError('BAD_ARG', `text: family '${family as Family}' is not a token family`);
  }
  const final = Int32Array.from(out.tokens);
  frames.push(Array.from({ length: n }, (_, b) => final.slice(b * N, b * N + N)));
  const tokenizer = corpus.tokenizer;
  return {
    family,
    sampler: label,
    steps,
    rows: rt.formatRows(out),
    frames: frames.map((fr) => fr.map((row) => renderRow(row, tokenizer))),
    nfe: out.cost.nfe,
    wallMs: out.cost.wallMs,
    template,
  };
}
