/**
 * Text corpora through the recipes: bits per character against a hand computation, AR learning a
 * repeating text to near zero bits, prompts and infilling that keep every given token, and the errors of
 * conditioning a family that cannot take it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { CharTokenizer, InMemoryTokenCorpus } from '@altar/data';
import { Trainer } from '@altar/train';
import { buildRuntime } from './build.js';
import { parseRunConfig, type Family } from './config/schema.js';
import type { FamilyRuntime, SamplerName } from './runtime.js';
import { keptExactly, parseInfill, promptTokens } from './text.js';

const tiny = { dModel: 16, nLayers: 1, nHeads: 2 };

function textRuntime(
  family: Family,
  corpus: InMemoryTokenCorpus,
  seqLen: number,
  extra: Record<string, unknown> = {},
): FamilyRuntime {
  const config = parseRunConfig({
    family,
    data: { source: 'text', text: { path: 'inline:test', seqLen, valFraction: corpus.valFraction }, batchSize: 16 },
    model: family === 'ssm' ? { dModel: 16, nLayers: 1 } : tiny,
    ...extra,
  });
  return buildRuntime(config, { corpus });
}

describe('text corpora in the recipes', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('bits per char = bits per token × tokens per char of the validation split (hand computation)', async () => {
    // 'aé' is 3 UTF-8 bytes for 2 characters; 100 repeats = 300 bytes, the last 10 % (30 bytes) = 20 chars.
    const corpus = new InMemoryTokenCorpus('aé'.repeat(100), { tokenizer: 'byte', valFraction: 0.1 });
    expect(corpus.splitTokens('val')).toBe(30);
    expect(corpus.splitChars('val')).toBe(20);
    const rt = textRuntime('ar', corpus, 8);
    try {
      // All-zero weights: every data logit is 0, so p is uniform over the 256 bytes: exactly 8 bits per token.
      const zeros = Object.fromEntries(Object.entries(rt.params).map(([k, v]) => [k, tf.zerosLike(v)]));
      rt.model.setWeights(zeros);
      tf.dispose(Object.values(zeros));
      const e = await rt.evaluate(new Rng(1), { batches: 2, batchSize: 4 });
      expect(e.bitsPerToken).toBeCloseTo(8, 4);
      expect(e.stdErr).toBeLessThan(1e-4);
      expect(e.bitsPerChar).toBeCloseTo((8 * 30) / 20, 4); // 12 bits per character
      expect(rt.text!.charsPerToken).toBeCloseTo(20 / 30, 9);
    } finally {
      rt.dispose();
    }
  });

  it('evaluation reads the validation split only; training windows the train split only', () => {
    // Train: 'a' × 90, val: 'b' × 10 — a window of either split shows which one it came from.
    const corpus = new InMemoryTokenCorpus('a'.repeat(90) + 'b'.repeat(10), { tokenizer: 'char', valFraction: 0.1 });
    const rt = textRuntime('masked-diffusion', corpus, 4);
    try {
      const tr = rt.nextBatch(new Rng(0), 32);
      const va = rt.evalBatch(new Rng(0), 32);
      const a = corpus.tokenizer.encode('a')[0]!;
      const b = corpus.tokenizer.encode('b')[0]!;
      expect(new Set(tr.dataSync())).toEqual(new Set([a]));
      expect(new Set(va.dataSync())).toEqual(new Set([b]));
      tf.dispose([tr, va]);
    } finally {
      rt.dispose();
    }
  });

  it('AR learns a repeating text to < 0.1 bits/char, and its prompt is continued exactly', async () => {
    // Period 6: only the phase of a window's first character is unknown, log2(6)/32 ≈ 0.08 bits/char.
    const text = 'to be '.repeat(400);
    const corpus = new InMemoryTokenCorpus(text, { tokenizer: 'char', valFraction: 0.1 });
    const rt = textRuntime('ar', corpus, 32, {
      model: { dModel: 32, nLayers: 1, nHeads: 2 },
      data: { source: 'text', text: { path: 'inline:test', seqLen: 32 }, batchSize: 8 },
      train: { steps: 80, lr: 0.01, warmupSteps: 5, emaDecay: 0, seed: 3 },
    });
    const trainer = new Trainer<tf.Tensor2D>({
      params: rt.params,
      loss: rt.loss,
      nextBatch: (rng) => rt.nextBatch(rng),
      disposeBatch: (x) => x.dispose(),
      config: rt.config.train,
    });
    try {
      await trainer.run();
      const e = await rt.evaluate(new Rng(2), { batches: 2, batchSize: 32 });
      expect(e.bitsPerChar!).toBeLessThan(0.1);
      const given = promptTokens('to be', corpus.tokenizer, 32, 2);
      const s = await rt.sample(new Rng(5), { sampler: 'ar', n: 2, given });
      expect(keptExactly(given, s.tokens as Int32Array)).toEqual({ ok: true });
      expect(rt.formatRows(s)[0]!.startsWith('to be to be to be')).toBe(true);
    } finally {
      trainer.dispose();
      rt.dispose();
    }
  }, 60_000);

  const cases: Array<[Family, SamplerName, Record<string, unknown>]> = [
    ['masked-diffusion', 'masked', {}],
    ['masked-diffusion', 'masked-cached', {}],
    ['d3pm', 'd3pm', { diffusion: { process: 'absorbing', T: 8 }, eval: { sampleSteps: 8 } }],
    ['d3pm', 'd3pm', { diffusion: { process: 'uniform', T: 8 }, eval: { sampleSteps: 8 } }],
  ];
  it.each(cases)('infilling with %s (%s, %j) keeps every given character exactly, leaks nothing', async (f, s, x) => {
    const corpus = new InMemoryTokenCorpus('To be, or not to be, that is the question. '.repeat(20), {
      tokenizer: 'char',
    });
    const rt = textRuntime(f, corpus, 19, x);
    try {
      const given = parseInfill('To be, or ___ to be', corpus.tokenizer, 19, 3);
      await expectNoLeaks(async () => {
        const out = await rt.sample(new Rng(11), { sampler: s, n: 3, steps: 8, given });
        expect(keptExactly(given, out.tokens as Int32Array)).toEqual({ ok: true });
        for (const t of out.tokens) expect(t >= 0 && t < corpus.vocabSize).toBe(true); // every gap filled with data
        for (const row of rt.formatRows(out)) {
          expect(row.slice(0, 10)).toBe('To be, or ');
          expect(row.slice(13)).toBe(' to be');
        }
        // The gaps were generated, not left at a filler: 9 draws from a random model are not all one token.
        const gaps = new Set<number>();
        for (let b = 0; b < 3; b++) for (let i = 10; i < 13; i++) gaps.add(out.tokens[b * 19 + i]!);
        expect(gaps.size).toBeGreaterThan(1);
      });
    } finally {
      rt.dispose();
    }
  });

  it('AR and SSM refuse to infill, saying why; prompts longer than the window are refused', async () => {
    const corpus = new InMemoryTokenCorpus('abc abc abc abc', { tokenizer: 'char' });
    for (const f of ['ar', 'ssm'] as const) {
      const rt = textRuntime(f, corpus, 8);
      try {
        const given = parseInfill('ab_ab', corpus.tokenizer, 8);
        await expect(rt.sample(new Rng(0), { sampler: 'ar', n: 1, given })).rejects.toThrow(/cannot infill/);
      } finally {
        rt.dispose();
      }
    }
    expect(() => promptTokens('abcabcabc', corpus.tokenizer, 8)).toThrow(/nothing to generate/);
    expect(() => parseInfill('abcabcabc_', corpus.tokenizer, 8)).toThrow(/longer than the model's window of 8/);
    expect(() => parseInfill('xyz_', corpus.tokenizer, 8)).toThrow(/cannot be tokenized/);
  });

  it('the gap syntax: each _ is one token, \\_ a literal underscore', () => {
    const tok = CharTokenizer.fromText('ab_\\');
    const g = parseInfill('a\\_b__\\\\', tok, 8);
    expect(tok.decode(g.tokens.subarray(0, 3))).toBe('a_b');
    expect(Array.from(g.keep)).toEqual([1, 1, 1, 0, 0, 1, 0, 0]);
    expect(tok.decode(g.tokens.subarray(5, 6))).toBe('\\');
  });

  it('a text config needs its corpus, and the data section rejects mixed sources', () => {
    const config = parseRunConfig({ family: 'ar', data: { source: 'text', text: { path: 'x.txt' } } });
    expect(() => buildRuntime(config)).toThrow(/needs the opened corpus/);
    expect(() => parseRunConfig({ family: 'ar', data: { source: 'text' } })).toThrow(
      /data\.text: .*needs a text section/,
    );
    expect(() => parseRunConfig({ family: 'ar', data: { source: 'text', text: { path: 'a' }, hmm: {} } })).toThrow(
      /data\.hmm: applies to data\.source 'hmm' only/,
    );
    expect(() => parseRunConfig({ family: 'ar', data: { text: { path: 'a' } } })).toThrow(/data\.text: applies to/);
    expect(() => parseRunConfig({ family: 'ar', data: { source: 'text', text: { path: 'a', seqLen: 1 } } })).toThrow(
      /data\.text\.seqLen/,
    );
  });
});
