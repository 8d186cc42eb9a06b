import { createHash } from 'node:crypto';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import { describe, expect, it } from 'vitest';
import {
  ByteTokenizer,
  CharTokenizer,
  InMemoryTokenCorpus,
  TokenBatcher,
  corpusTokenSource,
  sha256Hex,
  tokenizerFromJSON,
  tokenizerKindOf,
} from './index.js';

const TEXT = 'Grüße, 世界! altar — AR vs diffusion 🙂\nTo be, or not to be: ça va? 𝄞 done.\n'.repeat(7);

/** Byte offsets of each code point start in the UTF-8 encoding of `s` (plus the end). */
function charStarts(s: string): number[] {
  const out = [0];
  let b = 0;
  for (const c of s) {
    b += Buffer.byteLength(c, 'utf8');
    out.push(b);
  }
  return out;
}

describe('sha256Hex', () => {
  it('matches node:crypto at every padding edge and on random data', () => {
    const rng = new Rng(5);
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70_001]) {
      const b = Uint8Array.from({ length: n }, () => rng.nextInt(0, 256));
      expect(sha256Hex(b)).toBe(createHash('sha256').update(b).digest('hex'));
    }
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', // FIPS 180-4 example
    );
  });
});

describe('InMemoryTokenCorpus', () => {
  it('byte tokens: windows decode to the matching substrings, multi-byte UTF-8 included', () => {
    const c = new InMemoryTokenCorpus(TEXT, { tokenizer: 'byte', valFraction: 0.2, name: 'tiny' });
    const bytes = Buffer.from(TEXT, 'utf8');
    expect(c.tokenizerKind).toBe('byte');
    expect(c.vocabSize).toBe(256);
    expect(c.splitTokens('train') + c.splitTokens('val')).toBe(bytes.length);
    expect(c.splitTokens('val')).toBe(Math.ceil(0.2 * bytes.length));
    expect(c.contentHash).toBe(createHash('sha256').update(bytes).digest('hex'));
    const starts = charStarts(TEXT);
    const cps = [...TEXT];
    const trainLen = c.splitTokens('train');
    // Char-aligned windows in both splits: decode(window) is exactly the text between those characters.
    for (const [i, j] of [
      [0, 40],
      [3, 17],
      [50, 120],
      [cps.length - 30, cps.length],
    ] as const) {
      const b0 = starts[i]!;
      const b1 = starts[j]!;
      const split = b0 >= trainLen ? 'val' : 'train';
      if (split === 'train' && b1 > trainLen) continue;
      const off = split === 'val' ? trainLen : 0;
      const w = c.window(split, b0 - off, b1 - b0);
      expect(Array.from(w)).toEqual(Array.from(bytes.subarray(b0, b1)));
      expect(c.tokenizer.decode(w)).toBe(cps.slice(i, j).join(''));
    }
    expect(c.tokenizer.decode(c.window('val', 0, c.splitTokens('val')))).toBe(
      new TextDecoder().decode(bytes.subarray(trainLen)),
    );
  });

  it('char tokens: one token per code point (astral characters too), windows decode to substrings', () => {
    const c = new InMemoryTokenCorpus(TEXT, { tokenizer: 'char', valFraction: 0.1 });
    const cps = [...TEXT];
    expect(c.tokenizerKind).toBe('char');
    expect(c.vocabSize).toBe(new Set(cps).size);
    expect(c.splitTokens('train') + c.splitTokens('val')).toBe(cps.length);
    const trainLen = c.splitTokens('train');
    expect(c.tokenizer.decode(c.window('train', 5, 60))).toBe(cps.slice(5, 65).join(''));
    expect(c.tokenizer.decode(c.window('val', 2, 20))).toBe(cps.slice(trainLen + 2, trainLen + 22).join(''));
    expect(c.splitChars('train')).toBe(trainLen);
    expect(c.splitChars('val')).toBe(cps.length - trainLen);
    // The spec rebuilds the same vocabulary (what checkpoints save).
    const again = tokenizerFromJSON(JSON.parse(JSON.stringify(c.tokenizerSpec())));
    expect(Array.from(again.encode(TEXT))).toEqual(Array.from(c.tokenizer.encode(TEXT)));
    expect(c.tokenizerSpec()).toEqual((c.tokenizer as CharTokenizer).toJSON());
  });

  it('split: val is the last ceil(f·N) tokens; identical corpora give identical windows for a seed', () => {
    const a = new InMemoryTokenCorpus(TEXT, { tokenizer: 'char', valFraction: 0.15 });
    const b = new InMemoryTokenCorpus(TEXT, { tokenizer: 'char', valFraction: 0.15 });
    const all = a.tokenizer.encode(TEXT);
    const nVal = Math.ceil(0.15 * all.length);
    expect(a.splitTokens('val')).toBe(nVal);
    expect(Array.from(a.window('val', 0, nVal))).toEqual(Array.from(all.subarray(all.length - nVal)));
    expect(Array.from(a.window('train', 0, all.length - nVal))).toEqual(Array.from(all.subarray(0, all.length - nVal)));
    for (const split of ['train', 'val'] as const) {
      const wa = a.sampleWindows(split, 16, 12, new Rng(9));
      const wb = b.sampleWindows(split, 16, 12, new Rng(9));
      expect(Array.from(wa)).toEqual(Array.from(wb));
      expect(Array.from(a.sampleWindows(split, 16, 12, new Rng(10)))).not.toEqual(Array.from(wa));
    }
  });

  it('sampleWindows: uniform starts over every valid offset of the split, never crossing into the other split', () => {
    // Distinct tokens per position make each window's start readable from its first token.
    const chars = Array.from({ length: 60 }, (_, i) => String.fromCodePoint(0x4e00 + i));
    const text = chars.join('');
    const c = new InMemoryTokenCorpus(text, { tokenizer: new CharTokenizer(chars), valFraction: 0.2 });
    expect(c.splitTokens('train')).toBe(48);
    const seqLen = 8;
    const hits = new Map<number, number>();
    const W = c.sampleWindows('train', 4000, seqLen, new Rng(1));
    for (let b = 0; b < 4000; b++) {
      const s = W[b * seqLen]!;
      for (let k = 0; k < seqLen; k++) expect(W[b * seqLen + k]).toBe(s + k);
      hits.set(s, (hits.get(s) ?? 0) + 1);
    }
    // Starts 0..40 (41 offsets), each ≈ 4000/41 ≈ 97.6 times; chi-square with 40 dof stays far below 90.
    expect([...hits.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 41 }, (_, i) => i));
    const e = 4000 / 41;
    const chi2 = [...hits.values()].reduce((s, o) => s + ((o - e) * (o - e)) / e, 0);
    expect(chi2).toBeLessThan(90);
    const V = c.sampleWindows('val', 200, seqLen, new Rng(2));
    for (let i = 0; i < V.length; i++) expect(V[i]).toBeGreaterThanOrEqual(48);
  });

  it('splitChars: hand-counted on a tiny multi-byte text, also when the split cuts a character', () => {
    // h(1 byte) é(2) é(2) 😀(4) x(1) \n(1): 11 bytes, 6 characters.
    const t = 'hé\u00e9😀x\n';
    const half = new InMemoryTokenCorpus(t, { valFraction: 0.5 }); // val = ceil(5.5) = 6 bytes: 😀 x \n
    expect(half.splitTokens('val')).toBe(6);
    expect([half.splitChars('train'), half.splitChars('val')]).toEqual([3, 3]);
    const cut = new InMemoryTokenCorpus(t, { valFraction: 0.4 }); // val = ceil(4.4) = 5 bytes: 3 bytes of 😀, x, \n
    expect(cut.splitTokens('val')).toBe(5);
    expect([cut.splitChars('train'), cut.splitChars('val')]).toEqual([4, 2]); // 😀 counts where its first byte is
    const chars = new InMemoryTokenCorpus(t, { tokenizer: 'char', valFraction: 0.4 }); // val = ceil(2.4) = 3
    expect([chars.splitChars('train'), chars.splitChars('val')]).toEqual([3, 3]);
    const none = new InMemoryTokenCorpus(t, { valFraction: 0 });
    expect([none.splitTokens('val'), none.splitChars('val'), none.splitChars('train')]).toEqual([0, 0, 6]);
  });

  it('unigram entropy of the train split, by hand', () => {
    // train = 'aabbbb' (the last 2 of 8 tokens are val): p = (1/3, 2/3) → H = log2(3) − 2/3 bits.
    const c = new InMemoryTokenCorpus('aabbbbcd', { tokenizer: 'char', valFraction: 0.25 });
    expect(c.unigramEntropyBits()).toBeCloseTo(Math.log2(3) - 2 / 3, 12);
    const b = new InMemoryTokenCorpus('aabbbbcd', { tokenizer: 'byte', valFraction: 0.25 });
    expect(b.unigramEntropyBits()).toBeCloseTo(0.9182958340544896, 12);
    const flat = new InMemoryTokenCorpus('abcd', { tokenizer: 'char', valFraction: 0 });
    expect(flat.unigramEntropyBits()).toBeCloseTo(2, 12);
  });

  it('a custom tokenizer object and the TokenSource view', () => {
    const tok = CharTokenizer.fromText(TEXT);
    const c = new InMemoryTokenCorpus(TEXT, { tokenizer: tok, name: 'custom' });
    expect(tokenizerKindOf(tok)).toBe('char');
    expect(tokenizerKindOf(new ByteTokenizer())).toBe('byte');
    expect(c.name).toBe('custom');
    const src = corpusTokenSource(c, 'train', 16);
    expect(src.vocabSize).toBe(tok.vocabSize);
    const batch = new TokenBatcher(src, { batchSize: 3, seed: 4 }).next();
    expect(batch.length).toBe(48);
    expect(Array.from(batch)).toEqual(Array.from(c.sampleWindows('train', 3, 16, new Rng(4))));
  });

  it('bad input: short splits, no val split, out-of-range windows, empty text, bad valFraction, closed', () => {
    const c = new InMemoryTokenCorpus('short text\n', { name: 'tiny', valFraction: 0.1 });
    const err = (() => {
      try {
        c.sampleWindows('train', 2, 64, new Rng(0));
      } catch (e) {
        return e as AltarError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(AltarError);
    expect(err!.code).toBe('BAD_ARG');
    expect(err!.message).toMatch(/tiny: the train split has 9 tokens, fewer than one sequence of seqLen 64/);
    const noVal = new InMemoryTokenCorpus('short text\n', { valFraction: 0 });
    expect(() => noVal.sampleWindows('val', 1, 1, new Rng(0))).toThrow(/val split has 0 tokens \(valFraction 0/);
    expect(() => c.window('val', 1, 2)).toThrow(expect.objectContaining({ code: 'BAD_POSITION' }));
    expect(() => c.sampleWindows('test' as 'val', 1, 1, new Rng(0))).toThrow(/split must be 'train' or 'val'/);
    expect(() => new InMemoryTokenCorpus('')).toThrow(expect.objectContaining({ code: 'EMPTY_STREAM' }));
    expect(() => new InMemoryTokenCorpus('abc', { valFraction: 0.6 })).toThrow(ConfigError);
    expect(() => new InMemoryTokenCorpus('abc', { valFraction: 0.6 })).toThrow(
      /valFraction: expected a finite number in \[0, 0.5\], got 0.6/,
    );
    c.close();
    expect(() => c.window('train', 0, 2)).toThrow(/closed/);
  });
});
