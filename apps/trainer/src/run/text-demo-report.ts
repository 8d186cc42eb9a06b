/** The text demo's report: JSON shape, report.md and the SVG plots. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo } from '@altar/backend';
import { fmt, mb } from './demo-report.js';
import { renderChart, type Series } from './svg.js';

export interface TextSamplingEntry {
  sampler: string;
  steps: number;
  nfe: number;
  weightBytesLoaded: number;
  wallMs: number;
  tokensPerSec: number;
  /** 2^(bits per char of the samples under the demo's AR model). */
  generativePerplexity: number;
  unigramEntropyBits: number;
  repeated4gramShare: number;
  /** The first samples, as text. */
  samples: string[];
}

export interface TextModelEntry {
  name: string;
  family: string;
  params: number;
  trainSteps: number;
  trainSeconds: number;
  /** Validation bits per character: exact NLL (AR, SSM) or the NELBO (diffusion, full bound). */
  bitsPerChar: number;
  stdErr: number;
  boundKind: 'nll' | 'nelbo';
  /** Masked diffusion: the T-step bound of the same network. */
  boundVsT?: { T: number; bitsPerChar: number; stdErr: number }[];
  sampling: TextSamplingEntry[];
}

export interface TextReport {
  backend: string;
  corpus: {
    name: string;
    tokenizer: string;
    vocabSize: number;
    trainTokens: number;
    valTokens: number;
    unigramEntropyBitsPerChar: number;
  };
  budget: { steps: number; batchSize: number; seqLen: number };
  models: TextModelEntry[];
  wallSeconds: number;
  interrupted: boolean;
}

export function renderTextReportMd(r: TextReport, backend: BackendInfo): string {
  const c = r.corpus;
  const lines = [
    `# altar demo --data shakespeare`,
    '',
    `Backend ${backend.name} (${backend.adapter}). Corpus ${c.name}: ${c.tokenizer} tokens, V = ${c.vocabSize}, ` +
      `${c.trainTokens.toLocaleString('en-US')} train / ${c.valTokens.toLocaleString('en-US')} validation tokens (the last 10 %). ` +
      `Every model: ${r.budget.steps} steps of ${r.budget.batchSize} windows × ${r.budget.seqLen} characters. ` +
      `Wall time ${fmt(r.wallSeconds, 0)} s${r.interrupted ? ' (interrupted: partial report)' : ''}.`,
    '',
    '## Validation bits per character',
    '',
    `The corpus's unigram entropy is ${fmt(c.unigramEntropyBitsPerChar, 3)} bits/char: a model that learned nothing about context scores that.`,
    '',
    '| model | family | params | bits/char | ± | bound | train s |',
    '|---|---|---:|---:|---:|---|---:|',
    ...r.models.map(
      (m) =>
        `| ${m.name} | ${m.family} | ${m.params.toLocaleString('en-US')} | ${fmt(m.bitsPerChar, 4)} | ${fmt(m.stdErr, 4)} | ${m.boundKind === 'nll' ? 'exact NLL' : 'NELBO (upper bound)'} | ${fmt(m.trainSeconds, 0)} |`,
    ),
    '',
  ];
  const bound = r.models.find((m) => m.boundVsT);
  if (bound) {
    lines.push(
      `## The bound against T (${bound.name})`,
      '',
      'The same network scored by the T-step discrete-time bound: sampling in T steps costs this many bits over the continuous-time NELBO.',
      '',
      '| T | bits/char | ± |',
      '|---:|---:|---:|',
      ...bound.boundVsT!.map((b) => `| ${b.T} | ${fmt(b.bitsPerChar, 4)} | ${fmt(b.stdErr, 4)} |`),
      `| ∞ (continuous) | ${fmt(bound.bitsPerChar, 4)} | ${fmt(bound.stdErr, 4)} |`,
      '',
    );
  }
  lines.push(
    '## Samples and sampling cost',
    '',
    'Text has no true likelihood to score samples by. Generative perplexity is 2^(bits per char of the samples under the AR model above); ' +
      "a low value alone can mean dull, repetitive text, so the samples' unigram entropy (compare the corpus's) and their share of repeated 4-grams stand beside it.",
    '',
    '| model | sampler | steps | NFE | weights loaded | wall ms | tokens/s | gen. perplexity | unigram entropy | repeated 4-grams |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const m of r.models)
    for (const s of m.sampling)
      lines.push(
        `| ${m.name} | ${s.sampler} | ${s.steps} | ${s.nfe} | ${mb(s.weightBytesLoaded)} | ${fmt(s.wallMs, 0)} | ${fmt(s.tokensPerSec, 0)} | ${fmt(s.generativePerplexity, 2)} | ${fmt(s.unigramEntropyBits, 3)} | ${fmt(100 * s.repeated4gramShare, 1)} % |`,
      );
  lines.push('', '## Sample text', '');
  for (const m of r.models)
    for (const s of m.sampling) {
      lines.push(`**${m.name}, ${s.sampler}, ${s.steps} steps**`, '', '```text', ...s.samples.map((t) => t), '```', '');
    }
  lines.push(
    '## Reading it',
    '',
    'AR and SSM bits are exact; diffusion bits are upper bounds (NELBO), so the gap to AR is at most what it shows. ' +
      'AR decodes one network call per character; diffusion samples all 64 positions in T calls: fewer weights streamed at small T, ' +
      'at the price of the bound (and sample quality) the T-step table shows.',
    '',
  );
  return lines.join('\n');
}

/** gen-perplexity-vs-steps.svg and entropy-vs-steps.svg (diffusion samplers over T, AR/SSM as points). */
export function writeTextPlots(out: string, r: TextReport): string[] {
  const series = (pick: (s: TextSamplingEntry) => number): Series[] =>
    r.models.map((m) => ({
      name: m.name,
      points: m.sampling.map((s) => [s.nfe, pick(s)] as [number, number]),
      ...(m.sampling.length === 1 ? { markersOnly: true } : {}),
    }));
  const files = [
    [
      'gen-perplexity-vs-nfe.svg',
      renderChart({
        title: 'Generative perplexity of samples (under the AR model)',
        xLabel: 'network calls (NFE)',
        yLabel: 'perplexity per char',
        series: series((s) => s.generativePerplexity),
        logX: true,
      }),
    ],
    [
      'entropy-vs-nfe.svg',
      renderChart({
        title: 'Unigram entropy of samples',
        xLabel: 'network calls (NFE)',
        yLabel: 'bits per char',
        series: series((s) => s.unigramEntropyBits),
        logX: true,
        hlines: [{ y: r.corpus.unigramEntropyBitsPerChar, label: 'corpus' }],
      }),
    ],
  ] as const;
  for (const [name, svg] of files) writeFileSync(join(out, name), svg);
  return files.map(([n]) => n);
}
