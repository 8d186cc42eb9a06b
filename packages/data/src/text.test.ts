import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayTokenSource,
  ArrayTokenStream,
  ByteTokenizer,
  CharTokenizer,
  HmmSource,
  TokenBatcher,
  loadHfTokenizer,
  splitTrainVal,
  tokenizerFromJSON,
  validationBlockMask,
} from './index.js';
import { TextFileTokenStream, loadTokenizerJsonFile } from './node.js';

beforeAll(async () => {
  await useBackend('cpu');
});

const TEXT = 'Grüße, 世界! altar — AR vs diffusion 🙂\nline two\n';

describe('tokenizers', () => {
  it('ByteTokenizer round-trips UTF-8 and matches Buffer bytes', () => {
    const t = new ByteTokenizer();
    const ids = t.encode(TEXT);
    expect(Array.from(ids)).toEqual(Array.from(Buffer.from(TEXT, 'utf8')));
    expect(t.decode(ids)).toBe(TEXT);
    expect(t.vocabSize).toBe(256);
    expect(() => t.decode([256])).toThrow(/position 0 is 256/);
  });

  it('CharTokenizer: code points (not UTF-16 units), sorted vocab, JSON round trip, unknowns', () => {
    const t = CharTokenizer.fromText(TEXT);
    expect(t.vocabSize).toBe(new Set([...TEXT]).size);
    const ids = t.encode(TEXT);
    expect(ids.length).toBe([...TEXT].length);
    expect(t.decode(ids)).toBe(TEXT);
    expect(t.chars).toEqual([...t.chars].sort());
    const t2 = tokenizerFromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    expect(Array.from(t2.encode(TEXT))).toEqual(Array.from(ids));
    expect(() => t.encode('Z')).toThrow(/"Z" \(U\+005A\) at index 0/);
    const withUnk = new CharTokenizer(['?', 'a'], { unknownId: 0 });
    expect(Array.from(withUnk.encode('abz'))).toEqual([1, 0, 0]);
    expect(() => new CharTokenizer(['a', 'a'])).toThrow(/duplicate/);
    expect(() => tokenizerFromJSON({ type: 'wordpiece' })).toThrow(ConfigError);
  });

  it('loadHfTokenizer (BPE tokenizer.json through @huggingface/tokenizers)', async () => {
    const bpe = {
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab: { a: 0, b: 1, c: 2, ab: 3, abc: 4 },
        merges: ['a b', 'ab c'],
      },
    };
    const t = await loadHfTokenizer(JSON.stringify(bpe));
    expect(t.vocabSize).toBe(5);
    expect(Array.from(t.encode('abcab'))).toEqual([4, 3]); // merges a+b, then ab+c
    expect(Array.from(t.encode('cba'))).toEqual([2, 1, 0]);
    expect(t.decode([4, 3]).replace(/ /g, '')).toBe('abcab');
    await expect(loadHfTokenizer('{nope')).rejects.toThrow(/tokenizer\.json: invalid JSON/);
    await expect(loadHfTokenizer({ vocab: {} })).rejects.toThrow(/no "model" field/);
    const dir = mkdtempSync(join(tmpdir(), 'altar-tok-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bpe));
    const f = await loadTokenizerJsonFile(join(dir, 'tokenizer.json'));
    expect(Array.from(f.encode('ab'))).toEqual([3]);
    rmSync(dir, { recursive: true });
  });
});

describe('splits', () => {
  it('validationBlockMask picks exactly round(f * n) blocks, deterministically by seed', () => {
    const m = validationBlockMask(100, 0.1, 3);
    expect(m.reduce((s, v) => s + v, 0)).toBe(10);
    expect(Array.from(validationBlockMask(100, 0.1, 3))).toEqual(Array.from(m));
    expect(Array.from(validationBlockMask(100, 0.1, 4))).not.toEqual(Array.from(m));
    expect(validationBlockMask(3, 0.01, 0).reduce((s, v) => s + v, 0)).toBe(1);
    expect(() => validationBlockMask(10, 1, 0)).toThrow(/split\.valFraction/);
  });

  it('splitTrainVal partitions the tokens into whole blocks', () => {
    const tokens = Int32Array.from({ length: 1000 }, (_, i) => i);
    const { train, val } = splitTrainVal(tokens, { valFraction: 0.2, blockSize: 50, seed: 1 });
    expect(val.length).toBe(200);
    expect(train.length).toBe(800);
    const all = [...train, ...val].sort((a, b) => a - b);
    expect(all).toEqual(Array.from(tokens));
    for (let i = 0; i < val.length; i += 50) expect(val[i]! % 50).toBe(0); // blocks stay contiguous
    expect(() => splitTrainVal(tokens, { blockSize: 5000 })).toThrow(/only 1 block/);
  });
});

describe('TokenBatcher', () => {
  it('random source: resume from a saved JSON position reproduces the batches bit-exactly', () => {
    const src = new HmmSource({ seqLen: 8 });
    const straight = new TokenBatcher(src, { batchSize: 4, seed: 7 });
    const ref = Array.from({ length: 6 }, () => Array.from(straight.next()));
    const a = new TokenBatcher(src, { batchSize: 4, seed: 7 });
    for (let i = 0; i < 3; i++) expect(Array.from(a.next())).toEqual(ref[i]);
    const saved = JSON.parse(JSON.stringify(a.position()));
    const b = new TokenBatcher(src, { batchSize: 4, seed: 999 });
    b.restore(saved);
    expect(b.steps).toBe(3);
    for (let i = 3; i < 6; i++) expect(Array.from(b.next())).toEqual(ref[i]);
  });

  it('stream: contiguous rows, wraps with epochs, resumes exactly; tensors do not leak', async () => {
    const tokens = Int32Array.from({ length: 50 }, (_, i) => i % 10);
    const s = new ArrayTokenStream(tokens, 10);
    const bt = new TokenBatcher(s, { batchSize: 2, seqLen: 8 });
    expect(Array.from(bt.next())).toEqual(Array.from(tokens.subarray(0, 16)));
    const pos = bt.position();
    const next = Array.from(bt.next());
    const more = [Array.from(bt.next()), Array.from(bt.next())]; // crosses the end: epoch 1
    expect(s.position().epoch).toBe(1);
    const s2 = new ArrayTokenStream(tokens, 10);
    const bt2 = new TokenBatcher(s2, { batchSize: 2, seqLen: 8 });
    bt2.restore(JSON.parse(JSON.stringify(pos)));
    expect(Array.from(bt2.next())).toEqual(next);
    expect([Array.from(bt2.next()), Array.from(bt2.next())]).toEqual(more);
    await expectNoLeaks(() => {
      const t = bt2.nextTensor();
      expect(t.shape).toEqual([2, 8]);
      expect(t.dtype).toBe('int32');
      t.dispose();
    });
    expect(() => new TokenBatcher(s, { batchSize: 2 })).toThrow(/batcher\.seqLen: required/);
    expect(() => bt2.restore({ kind: 'source', step: 0, rng: { s: [1, 2, 3, 4] } })).toThrow(/expected "stream"/);
    void tf;
  });

  it('ArrayTokenSource yields windows of the data', () => {
    const tokens = Int32Array.from({ length: 100 }, (_, i) => i);
    const src = new ArrayTokenSource(tokens, 100, 10);
    const b = src.sampleBatch(5, new Rng(1));
    for (let r = 0; r < 5; r++) for (let k = 1; k < 10; k++) expect(b[r * 10 + k]).toBe(b[r * 10]! + k);
    expect(() => new ArrayTokenSource(tokens, 50, 10)).toThrow(/token at position 50/);
  });
});

describe('TextFileTokenStream', () => {
  let dir = '';
  let path = '';
  let text = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'altar-text-'));
    path = join(dir, 'corpus.txt');
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(`${i}: Grüße ${'ab'.repeat(i % 7)} 世界 🙂`);
    text = lines.join('\n');
    writeFileSync(path, text);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("split 'all' with chars reproduces the file's characters exactly across UTF-8-cut blocks", () => {
    const tok = CharTokenizer.fromText(text);
    const s = new TextFileTokenStream(path, tok, { split: 'all', blockBytes: 37 });
    const n = [...text].length;
    const got = s.read(n);
    expect(tok.decode(got)).toBe(text);
    expect(s.position()).toEqual({ block: 0, offset: 0, epoch: 1 });
  });

  it('train and val are disjoint, cover the file, and resume exactly', () => {
    const tok = new ByteTokenizer();
    const fileBytes = Buffer.byteLength(text);
    const opts = { blockBytes: 256, valFraction: 0.2, seed: 5 };
    const train = new TextFileTokenStream(path, tok, { ...opts, split: 'train' });
    const val = new TextFileTokenStream(path, tok, { ...opts, split: 'val' });
    expect(train.blocks.length + val.blocks.length).toBe(Math.ceil(fileBytes / 256));
    expect(val.blocks.length).toBe(Math.round(0.2 * Math.ceil(fileBytes / 256)));
    expect(train.blocks.some((b) => val.blocks.includes(b))).toBe(false);
    const first = train.read(300);
    const pos = train.position();
    const rest = train.read(1000);
    const again = new TextFileTokenStream(path, tok, { ...opts, split: 'train' });
    again.seek(JSON.parse(JSON.stringify(pos)));
    expect(Array.from(again.read(1000))).toEqual(Array.from(rest));
    // Byte tokens are the file's bytes of the selected blocks, in order.
    const buf = Buffer.from(text);
    const b0 = train.blocks[0]!;
    expect(Array.from(first.subarray(0, 10))).toEqual(Array.from(buf.subarray(b0 * 256, b0 * 256 + 10)));
    expect(() => new TextFileTokenStream(join(dir, 'missing.txt'), tok)).toThrow(/cannot open/);
    expect(() => again.seek({ block: 999, offset: 0, epoch: 0 })).toThrow(/textFile\.position\.block/);
  });
});
