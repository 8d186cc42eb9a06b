import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AltarError, Rng } from '@altar/backend';
import { afterAll, describe, expect, it } from 'vitest';
import { InMemoryTokenCorpus, type TokenCorpus } from './index.js';
import { BUILTIN_CORPORA, builtinCorpusPath, openTextCorpus } from './node.js';

const root = mkdtempSync(join(tmpdir(), 'altar-corpus-'));
let n = 0;
/** A fresh directory under the test root. */
const freshDir = (): string => {
  const d = join(root, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TEXT = 'Grüße, 世界! altar — AR vs diffusion 🙂\nTo be, or not to be: ça va? 𝄞 done.\n'.repeat(9);

/** Every observable of two corpora agrees: counts, chars, entropy, windows for a seed. */
function expectSameCorpus(a: TokenCorpus, b: TokenCorpus, seqLen: number): void {
  expect(a.contentHash).toBe(b.contentHash);
  expect(a.vocabSize).toBe(b.vocabSize);
  for (const s of ['train', 'val'] as const) {
    expect(a.splitTokens(s)).toBe(b.splitTokens(s));
    expect(a.splitChars(s)).toBe(b.splitChars(s));
    expect(Array.from(a.sampleWindows(s, 6, seqLen, new Rng(3)))).toEqual(
      Array.from(b.sampleWindows(s, 6, seqLen, new Rng(3))),
    );
  }
  expect(a.unigramEntropyBits()).toBeCloseTo(b.unigramEntropyBits(), 10);
  expect(Array.from(a.window('val', 0, seqLen))).toEqual(Array.from(b.window('val', 0, seqLen)));
}

/** The AltarError a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<AltarError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AltarError);
    return e as AltarError;
  }
  throw new Error('expected a rejection');
}

/** Files left in a cache directory (none when it was never created). */
const cacheFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('openTextCorpus', () => {
  it('a file corpus equals the in-memory corpus of its text (byte and char), from memory and by positional reads', async () => {
    const d = freshDir();
    const path = join(d, 'tiny.txt');
    writeFileSync(path, TEXT);
    for (const tokenizer of ['byte', 'char'] as const) {
      const mem = new InMemoryTokenCorpus(TEXT, { tokenizer, valFraction: 0.2 });
      for (const inMemoryTokenBytes of [undefined, 0]) {
        const f = await openTextCorpus({
          path,
          tokenizer,
          valFraction: 0.2,
          ...(inMemoryTokenBytes === undefined ? {} : { inMemoryTokenBytes }),
        });
        expect(f.name).toBe('tiny');
        expect(f.tokenizerKind).toBe(tokenizer);
        expectSameCorpus(f, mem, 24);
        expect(f.tokenizerSpec()).toEqual(mem.tokenizerSpec());
        f.close();
      }
    }
    // Default cache location: beside the file.
    expect(cacheFiles(join(d, '.altar-cache')).sort()).toHaveLength(4);
  });

  it('streams blocks: a 2.3 MB multi-byte corpus (cut across blocks) matches the in-memory tokenization', async () => {
    const d = freshDir();
    // A long stretch without newlines forces a cut at a character start; 4-byte characters straddle the 1 MiB mark.
    const noNewline = '𝄞é世a'.repeat(110_000); // 1,100,000 bytes
    const text = `${noNewline}\n${'the quick brown fox — ünïcödé 🙂\n'.repeat(30_000)}`;
    const path = join(d, 'big.txt');
    writeFileSync(path, text);
    const progress: number[] = [];
    const f = await openTextCorpus({
      path,
      tokenizer: 'char',
      cacheDir: join(d, 'cache'),
      onProgress: (p) => progress.push(p.bytesDone),
    });
    const mem = new InMemoryTokenCorpus(text, { tokenizer: 'char' });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(Buffer.byteLength(text));
    expectSameCorpus(f, mem, 100);
    expect(f.splitTokens('train') + f.splitTokens('val')).toBe([...text].length);
    const b = await openTextCorpus({ path, cacheDir: join(d, 'cache'), valFraction: 0.3 });
    const memB = new InMemoryTokenCorpus(text, { valFraction: 0.3 });
    expectSameCorpus(b, memB, 100);
    f.close();
    b.close();
  });

  it('reuses the cache for the same content and tokenizer (no re-tokenization), and rebuilds for new content', async () => {
    const d = freshDir();
    const path = join(d, 'c.txt');
    writeFileSync(path, TEXT);
    const cacheDir = join(d, 'cache');
    let calls = 0;
    const onProgress = (): void => {
      calls++;
    };
    const a = await openTextCorpus({ path, tokenizer: 'char', cacheDir, onProgress });
    expect(calls).toBe(1);
    const files = cacheFiles(cacheDir).sort();
    expect(files).toEqual([
      `${a.contentHash}-${files[0]!.slice(65, -5)}.json`,
      `${a.contentHash}-${files[0]!.slice(65, -5)}.tokens`,
    ]);
    expect(files[0]).toMatch(/^[0-9a-f]{64}-char-[0-9a-f]{16}\.json$/);
    const tokPath = join(cacheDir, files[1]!);
    const mtime = statSync(tokPath).mtimeMs;
    const b = await openTextCorpus({ path, tokenizer: 'char', cacheDir, onProgress });
    expect(calls).toBe(1);
    expect(statSync(tokPath).mtimeMs).toBe(mtime);
    expectSameCorpus(a, b, 16);
    // A saved char vocabulary identical to the built one hits the same cache.
    const c = await openTextCorpus({ path, tokenizerSpec: a.tokenizerSpec(), cacheDir, onProgress });
    expect(calls).toBe(1);
    writeFileSync(path, `${TEXT}more\n`);
    const d2 = await openTextCorpus({ path, tokenizer: 'char', cacheDir, onProgress });
    expect(calls).toBe(2);
    expect(d2.contentHash).not.toBe(a.contentHash);
    expect(cacheFiles(cacheDir)).toHaveLength(4);
    for (const x of [a, b, c, d2]) x.close();
  });

  it('a saved tokenizerSpec fixes the char vocabulary for another text', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'full.txt'), 'abcdefgh\n');
    writeFileSync(join(d, 'part.txt'), 'hagha\n');
    const full = await openTextCorpus({ path: join(d, 'full.txt'), tokenizer: 'char' });
    const part = await openTextCorpus({
      path: join(d, 'part.txt'),
      tokenizer: 'char',
      tokenizerSpec: full.tokenizerSpec(),
      valFraction: 0,
    });
    expect(part.vocabSize).toBe(9);
    expect(Array.from(part.window('train', 0, 6))).toEqual(Array.from(full.tokenizer.encode('hagha\n')));
    const own = await openTextCorpus({ path: join(d, 'part.txt'), tokenizer: 'char' });
    expect(own.vocabSize).toBe(4);
    const e = await rejection(openTextCorpus({ path: join(d, 'full.txt'), tokenizerSpec: own.tokenizerSpec() }));
    expect(e.code).toBe('UNKNOWN_CHAR');
    expect(e.message).toContain(join(d, 'full.txt'));
    expect(e.message).toMatch(/5 character\(s\) outside the saved vocabulary of 4: "b", "c", "d", "e", "f"/);
    const mismatch = await rejection(
      openTextCorpus({ path: join(d, 'full.txt'), tokenizer: 'byte', tokenizerSpec: own.tokenizerSpec() }),
    );
    expect(mismatch.code).toBe('BAD_CONFIG');
    for (const x of [full, part, own]) x.close();
  });

  it('a directory corpus: files in sorted path order, .gz gunzipped, dotfiles and the cache skipped', async () => {
    const d = freshDir();
    mkdirSync(join(d, 'sub'));
    mkdirSync(join(d, '.git'));
    writeFileSync(join(d, 'b.txt'), 'second ß\n');
    writeFileSync(join(d, 'a.txt'), 'first é\n');
    writeFileSync(join(d, 'sub', 'c.txt.gz'), gzipSync(Buffer.from('third 🙂\n')));
    writeFileSync(join(d, 'empty.txt'), '');
    writeFileSync(join(d, '.hidden'), 'never');
    writeFileSync(join(d, '.git', 'x'), 'never');
    const whole = 'first é\nsecond ß\nthird 🙂\n';
    const c = await openTextCorpus({ path: d, tokenizer: 'char', valFraction: 0 });
    expect(c.name).toBe(d.split('/').at(-1));
    expect(c.contentHash).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(c.tokenizer.decode(c.window('train', 0, c.splitTokens('train')))).toBe(whole);
    expect(c.splitChars('train')).toBe([...whole].length);
    expect(cacheFiles(join(d, '.altar-cache'))).toHaveLength(2);
    let calls = 0;
    const again = await openTextCorpus({ path: d, tokenizer: 'char', onProgress: () => calls++ });
    expect(calls).toBe(0); // the cache inside the directory is not part of the corpus
    c.close();
    again.close();
  });

  it('falls back to os.tmpdir()/altar-cache when the default cache directory cannot be created', async () => {
    const d = freshDir();
    writeFileSync(join(d, '.altar-cache'), 'a file where the cache directory would go');
    writeFileSync(join(d, 'x.txt'), `fallback ${Date.now()} ${Math.random()}\n`);
    const c = await openTextCorpus({ path: join(d, 'x.txt') });
    expect(readdirSync(join(tmpdir(), 'altar-cache')).some((f) => f.startsWith(c.contentHash))).toBe(true);
    for (const f of readdirSync(join(tmpdir(), 'altar-cache')))
      if (f.startsWith(c.contentHash)) rmSync(join(tmpdir(), 'altar-cache', f));
    c.close();
  });

  it('a Hugging Face tokenizer.json: windows are its ids; the spec is the tokenizer.json object', async () => {
    const d = freshDir();
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
    writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(bpe));
    writeFileSync(join(d, 'abc.txt'), 'abcabcaabcbcab'.repeat(10));
    const c = await openTextCorpus({
      path: join(d, 'abc.txt'),
      tokenizer: join(d, 'tokenizer.json'),
      valFraction: 0.25,
    });
    expect(c.tokenizerKind).toBe('hf');
    expect(c.vocabSize).toBe(5);
    const ids = c.tokenizer.encode('abcabcaabcbcab'.repeat(10));
    expect(c.splitTokens('train') + c.splitTokens('val')).toBe(ids.length);
    expect(Array.from(c.window('train', 0, 10))).toEqual(Array.from(ids.subarray(0, 10)));
    expect(c.splitChars('train') + c.splitChars('val')).toBe(140);
    // No character offsets from the hf tokenizer: the (single) block is shared in proportion to its tokens.
    expect(c.splitChars('val')).toBe(Math.round((140 * c.splitTokens('val')) / ids.length));
    expect(c.tokenizerSpec()).toEqual(bpe);
    const again = await openTextCorpus({
      path: join(d, 'abc.txt'),
      tokenizerSpec: c.tokenizerSpec(),
      valFraction: 0.25,
    });
    expectSameCorpus(c, again, 5);
    c.close();
    again.close();
  });

  it('the shipped shakespeare corpus opens (byte: 1,115,394 tokens; char: vocabulary 65)', async () => {
    expect(BUILTIN_CORPORA).toEqual(['shakespeare']);
    const path = builtinCorpusPath('shakespeare');
    expect(existsSync(path)).toBe(true);
    const cacheDir = join(freshDir(), 'cache');
    const t0 = performance.now();
    const byte = await openTextCorpus({ path, cacheDir });
    expect(byte.name).toBe('shakespeare');
    expect(byte.splitTokens('train') + byte.splitTokens('val')).toBe(1_115_394);
    expect(byte.splitTokens('val')).toBe(111_540);
    expect(byte.contentHash).toBe('86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed');
    const char = await openTextCorpus({ path, tokenizer: 'char', cacheDir });
    expect(char.vocabSize).toBe(65);
    expect(char.splitChars('train') + char.splitChars('val')).toBe(1_115_394); // ASCII: bytes = chars
    expect(char.tokenizer.decode(char.window('train', 0, 14))).toBe('First Citizen:');
    // Independent figure (Python collections.Counter over the first 1,003,854 characters): 4.7739994738216245 bits.
    expect(char.unigramEntropyBits()).toBeCloseTo(4.7739994738216245, 9);
    expect(performance.now() - t0).toBeLessThan(5000);
    byte.close();
    char.close();
  });
});

describe('openTextCorpus: bad input', () => {
  it('a missing path or tokenizer file: NOT_FOUND naming it', async () => {
    const d = freshDir();
    const e = await rejection(openTextCorpus({ path: join(d, 'nope.txt') }));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain(join(d, 'nope.txt'));
    writeFileSync(join(d, 'ok.txt'), 'hello\n');
    const t = await rejection(openTextCorpus({ path: join(d, 'ok.txt'), tokenizer: join(d, 'tokenizer.json') }));
    expect(t.code).toBe('NOT_FOUND');
    expect(t.message).toContain(join(d, 'tokenizer.json'));
  });

  it('an empty file, an empty directory, a directory of empty files: EMPTY_STREAM, no cache', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'empty.txt'), '');
    const e1 = await rejection(openTextCorpus({ path: join(d, 'empty.txt') }));
    expect([e1.code, e1.message]).toEqual(['EMPTY_STREAM', `openTextCorpus: ${join(d, 'empty.txt')} is empty`]);
    const e2 = await rejection(openTextCorpus({ path: d }));
    expect(e2.code).toBe('EMPTY_STREAM');
    expect(e2.message).toMatch(/has no text \(1 empty files\)/);
    mkdirSync(join(d, 'none'));
    const e3 = await rejection(openTextCorpus({ path: join(d, 'none') }));
    expect(e3.code).toBe('EMPTY_STREAM');
    expect(e3.message).toContain('has no files');
    expect(cacheFiles(join(d, '.altar-cache'))).toEqual([]);
  });

  it('invalid UTF-8: BAD_ARG naming the file and the byte offset (also past the first block and in a truncated tail), no cache', async () => {
    const d = freshDir();
    const cacheDir = join(d, 'cache');
    const cases: [Buffer, number][] = [
      [Buffer.concat([Buffer.from('héllo wörld\n'), Buffer.from([0xff]), Buffer.from('rest')]), 14],
      [Buffer.concat([Buffer.from('ab'), Buffer.from([0xc0, 0xaf])]), 2], // overlong '/'
      [Buffer.concat([Buffer.from('x'.repeat(1_500_000)), Buffer.from([0xed, 0xa0, 0x80])]), 1_500_000], // a surrogate
      [Buffer.concat([Buffer.from('🙂 ok '), Buffer.from('🙂').subarray(0, 3)]), 8], // truncated at the end
    ];
    for (const [i, [bytes, offset]] of cases.entries()) {
      const path = join(d, `bad${i}.txt`);
      writeFileSync(path, bytes);
      for (const tokenizer of ['byte', 'char'] as const) {
        const e = await rejection(openTextCorpus({ path, tokenizer, cacheDir }));
        expect(e.code).toBe('BAD_ARG');
        expect(e.message).toContain(`${path} is not valid UTF-8`);
        expect(e.message).toContain(`at byte offset ${offset} `);
      }
    }
    const gz = join(d, 'bad.txt.gz');
    writeFileSync(gz, gzipSync(cases[0]![0]));
    expect((await rejection(openTextCorpus({ path: gz, cacheDir }))).message).toMatch(
      /bad\.txt\.gz is not valid UTF-8: invalid byte sequence at byte offset 14/,
    );
    // A damaged .gz: BAD_PATH naming the file.
    const broken = gzipSync(Buffer.from('fine text\n'.repeat(1000)));
    writeFileSync(join(d, 'damaged.txt.gz'), broken.subarray(0, broken.length >> 1));
    const z = await rejection(openTextCorpus({ path: join(d, 'damaged.txt.gz'), cacheDir }));
    expect(z.code).toBe('BAD_PATH');
    expect(z.message).toContain(`cannot read or gunzip ${join(d, 'damaged.txt.gz')}`);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it('an error while the cache is being written leaves no partial cache', async () => {
    const d = freshDir();
    const path = join(d, 'two-blocks.txt');
    writeFileSync(path, 'line of text\n'.repeat(200_000)); // 2.6 MB: three blocks
    const cacheDir = join(d, 'cache');
    let blocks = 0;
    const e = await rejection(
      openTextCorpus({
        path,
        cacheDir,
        onProgress: () => {
          if (++blocks === 2) throw new AltarError('BAD_ARG', 'interrupted');
        },
      }),
    );
    expect(e.message).toBe('interrupted');
    expect(cacheFiles(cacheDir)).toEqual([]);
    const ok = await openTextCorpus({ path, cacheDir });
    expect(ok.splitTokens('train') + ok.splitTokens('val')).toBe(2_600_000);
    expect(cacheFiles(cacheDir)).toHaveLength(2);
    ok.close();
  });

  it('a tokenizer.json that does not parse, or is not a tokenizer: BAD_ARG naming the path', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'ok.txt'), 'hello\n');
    writeFileSync(join(d, 'broken.json'), '{"model": {');
    const e = await rejection(openTextCorpus({ path: join(d, 'ok.txt'), tokenizer: join(d, 'broken.json') }));
    expect(e.code).toBe('BAD_ARG');
    expect(e.message).toContain(`tokenizer file ${join(d, 'broken.json')} does not parse as JSON`);
    writeFileSync(join(d, 'vocab.json'), '{"vocab": {}}');
    const f = await rejection(openTextCorpus({ path: join(d, 'ok.txt'), tokenizer: join(d, 'vocab.json') }));
    expect(f.code).toBe('BAD_ARG');
    expect(f.message).toContain(`tokenizer file ${join(d, 'vocab.json')} is not a usable tokenizer.json`);
    expect(cacheFiles(join(d, '.altar-cache'))).toEqual([]);
  });

  it('a corpus shorter than one sequence: sampleWindows names the corpus, split, token count and seqLen', async () => {
    const d = freshDir();
    writeFileSync(join(d, 'short.txt'), 'To be, or not to be\n');
    const c = await openTextCorpus({ path: join(d, 'short.txt'), tokenizer: 'char' });
    expect(() => c.sampleWindows('train', 4, 64, new Rng(0))).toThrow(
      'short: the train split has 18 tokens, fewer than one sequence of seqLen 64',
    );
    expect(() => c.sampleWindows('val', 4, 3, new Rng(0))).toThrow(/short: the val split has 2 tokens/);
    c.close();
  });
});
