/**
 * The Text view's worker side on wasm: rows rendered as text (masked positions '█', multi-byte characters
 * whole), the built-in corpus's gunzip, and the TextLab over the visitor's own text: training streams
 * finite bits/char with a validation figure, samples come back as text frame by frame, an infill keeps
 * every given character exactly, and AR refuses to infill with a plain message.
 */
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@altar/backend/testing';
import { ByteTokenizer, CharTokenizer } from '@altar/data';
import type { TextTrainEvent, TextTrainReq, WorkerEvent } from '../protocol.js';
import { gunzipText, MASK_GLYPH, renderRow } from './text-corpus.js';
import { TEXT_SEQ_LEN, TextLab } from './text-lab.js';

const TEXT = 'To be, or not to be: that is the question. Whether tis nobler in the mind to suffer.\n'.repeat(30);

describe('text rows', () => {
  it('renders unwritten positions as the mask glyph and keeps multi-byte characters whole', () => {
    const chars = CharTokenizer.fromText('abc');
    const [a, b] = [chars.encode('a')[0]!, chars.encode('b')[0]!];
    expect(renderRow([a, -1, b, chars.vocabSize], chars)).toBe(`a${MASK_GLYPH}b${MASK_GLYPH}`);
    const bytes = new ByteTokenizer();
    expect(renderRow([...bytes.encode('é'), -1, ...bytes.encode('x')], bytes)).toBe(`é${MASK_GLYPH}x`);
  });

  it('gunzips gzip bytes and passes plain text through', async () => {
    const s = 'First Citizen:\nBefore we proceed any further, hear me speak. — ☃';
    expect(await gunzipText(new Uint8Array(gzipSync(Buffer.from(s, 'utf8'))))).toBe(s);
    expect(await gunzipText(new Uint8Array(Buffer.from(s, 'utf8')))).toBe(s);
  });
});

describe('TextLab on wasm', () => {
  beforeAll(async () => {
    expect(await useBackend('wasm')).not.toBeNull();
  });

  const base = (family: TextTrainReq['family']): TextTrainReq => ({
    corpus: 'mine',
    name: 'hamlet.txt',
    text: TEXT,
    tokenizer: 'char',
    family,
    size: 'tiny',
    lr: 0.01,
    batch: 8,
    seed: 3,
  });

  it('loads the text: characters, vocabulary and the unigram entropy (bits/char) by hand', async () => {
    const lab = new TextLab(() => undefined);
    const info = await lab.corpus(base('ar'));
    expect(info.chars).toBe(TEXT.length);
    expect(info.vocabSize).toBe(new Set(TEXT).size);
    expect(info.charsPerToken).toBe(1);
    // The train split is the first 90 %: its character frequencies give the entropy.
    const train = TEXT.slice(0, info.chars - Math.round(info.chars * 0.1));
    const counts = new Map<string, number>();
    for (const c of train) counts.set(c, (counts.get(c) ?? 0) + 1);
    let H = 0;
    for (const k of counts.values()) H -= (k / train.length) * Math.log2(k / train.length);
    expect(info.unigramBitsPerChar).toBeCloseTo(H, 2);
  });

  it('trains with finite bits/char and a validation figure after a pause', async () => {
    const events: TextTrainEvent[] = [];
    const lab = new TextLab((e: WorkerEvent) => {
      if (e.type === 'text-train') events.push(e);
    });
    await lab.trainStart(base('ar'));
    while (events.filter((e) => Number.isFinite(e.bitsPerChar)).length < 4) await new Promise((r) => setTimeout(r, 20));
    expect((await lab.trainPause('ar'))?.step).toBeGreaterThanOrEqual(4);
    const last = events[events.length - 1]!;
    expect(last.running).toBe(false);
    expect(last.val?.step).toBe(last.step); // evaluated at the pause
    expect(Number.isFinite(last.val!.bitsPerChar)).toBe(true);
    expect(last.val!.bitsPerChar).toBeGreaterThan(0);
    const first = events[0]!.bitsPerChar;
    // An untrained model predicts ≈ uniformly (log2 V bits/char), above the unigram entropy.
    expect(first).toBeGreaterThan(last.unigramBitsPerChar - 0.2);
    await lab.reset('ar');
  });

  it('masked diffusion infills: every given character kept, gaps filled step by step', async () => {
    const before = tf.memory().numTensors;
    const lab = new TextLab(() => undefined);
    const template = 'To be, or ___ to be: that is the ________.';
    const r = await lab.sample({ ...base('masked-diffusion'), T: 8, sampler: 'cached', n: 3, template });
    expect(r.rows).toHaveLength(3);
    for (const row of r.rows) {
      expect(row).toHaveLength(TEXT_SEQ_LEN);
      for (let i = 0; i < template.length; i++) if (template[i] !== '_') expect(row[i]).toBe(template[i]);
      for (let i = 0; i < TEXT_SEQ_LEN; i++) expect(row[i]).not.toBe(MASK_GLYPH);
    }
    // The first frame shows the given text with every gap masked; the last is the samples.
    const f0 = r.frames[0]![0]!;
    for (let i = 0; i < template.length; i++) expect(f0[i]).toBe(template[i] === '_' ? MASK_GLYPH : template[i]);
    expect(r.frames[r.frames.length - 1]).toEqual(r.rows);
    expect(r.nfe).toBeLessThanOrEqual(8);
    await lab.reset('masked-diffusion');
    expect(tf.memory().numTensors).toBe(before); // no leaks: the model's variables go with it
  });

  it('D3PM (absorbing) infills over byte tokens: the given text appears exactly in every row', async () => {
    const lab = new TextLab(() => undefined);
    const r = await lab.sample({
      ...base('d3pm'),
      tokenizer: 'byte',
      T: 6,
      sampler: 'ancestral',
      n: 2,
      template: 'To be, or ___ to be: that is the ________.',
    });
    expect(r.sampler).toMatch(/absorbing/);
    for (const row of r.rows) {
      // Generated bytes may not be valid UTF-8 (U+FFFD), so positions shift: check the given runs by content.
      expect(row.startsWith('To be, or ')).toBe(true);
      expect(row.indexOf(' to be: that is the ')).toBeGreaterThanOrEqual(10);
      expect(row).not.toContain(MASK_GLYPH);
    }
    expect(r.frames[0]![0]!.startsWith(`To be, or ${MASK_GLYPH.repeat(3)} to be`)).toBe(true);
    await lab.reset('d3pm');
  });

  it('AR samples left to right, and says plainly that it cannot infill', async () => {
    const lab = new TextLab(() => undefined);
    const r = await lab.sample({ ...base('ar'), T: 8, sampler: 'auto', n: 2 });
    expect(r.frames).toHaveLength(TEXT_SEQ_LEN + 1);
    expect(r.frames[0]![0]!.slice(1)).toBe(MASK_GLYPH.repeat(TEXT_SEQ_LEN - 1));
    expect(r.rows[0]).toHaveLength(TEXT_SEQ_LEN);
    await expect(
      lab.sample({ ...base('ar'), T: 8, sampler: 'auto', n: 2, template: 'To be, or ___ to be' }),
    ).rejects.toThrow(/cannot infill/);
    await lab.reset('ar');
  });
});
