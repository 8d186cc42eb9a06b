/**
 * Text corpora as token sequences with a deterministic train/validation split (nanoGPT: the last
 * `valFraction` of the tokens is validation), random training windows, exact character counts per split
 * (for bits per character) and the unigram entropy baseline. Browser-safe: the tokens live behind a
 * {@link CorpusTokenStore} (an in-memory array here; a token cache file in `@altar/data/node`).
 */
import { AltarError, ConfigError, type Rng } from '@altar/backend';
import { sha256Hex } from './sha256.js';
import type { TokenSource } from './token-source.js';
import { ByteTokenizer, CharTokenizer, type Tokenizer } from './tokenizers.js';
import { requireInt, requireNumber } from './validate.js';

/**
 * A split of a text corpus: 'train' is the first 1 − valFraction of the tokens, 'val' the rest.
 *
 * @example
 * ```ts
 * const split: CorpusSplit = 'val';
 * ```
 */
export type CorpusSplit = 'train' | 'val';

/**
 * How a corpus is tokenized: UTF-8 bytes (V = 256), code points over the corpus's own vocabulary, or a
 * Hugging Face tokenizer.json.
 *
 * @example
 * ```ts
 * const kind: TokenizerKind = corpus.tokenizerKind; // 'byte' | 'char' | 'hf'
 * ```
 */
export type TokenizerKind = 'byte' | 'char' | 'hf';

/**
 * A tokenized text corpus with a deterministic train/validation split, random windows and the counts that
 * turn bits per token into bits per character.
 *
 * @example
 * ```ts
 * const corpus: TokenCorpus = new InMemoryTokenCorpus('to be or not to be\n'.repeat(50), { tokenizer: 'char' });
 * const batch = corpus.sampleWindows('train', 8, 32, new Rng(0)); // Int32Array (8 · 32)
 * const bitsPerChar = 1.5 * corpus.splitTokens('val') / corpus.splitChars('val'); // from 1.5 bits/token
 * ```
 */
export interface TokenCorpus {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly tokenizerKind: TokenizerKind;
  readonly vocabSize: number;
  /** sha256 hex of the corpus bytes (all files in order). */
  readonly contentHash: string;
  readonly valFraction: number;
  /** Tokens in a split: the last ceil(valFraction·total) tokens are 'val' (nanoGPT), the rest 'train'. */
  splitTokens(split: CorpusSplit): number;
  /**
   * Unicode characters (code points) of the text of that split (bits/char = bits/token · tokens/chars). Exact for
   * byte and char tokens (a character cut by the split counts where its first byte is); for 'hf' the
   * tokenization block in which the split falls is shared in proportion to its tokens.
   */
  splitChars(split: CorpusSplit): number;
  /** `batch` windows of `seqLen` tokens with uniform random starts inside the split, row-major (batch·seqLen). */
  sampleWindows(split: CorpusSplit, batch: number, seqLen: number, rng: Rng): Int32Array;
  /** The window starting at token `start` of the split. */
  window(split: CorpusSplit, start: number, seqLen: number): Int32Array;
  /** Unigram entropy (bits/token) of the train split's token frequencies. */
  unigramEntropyBits(): number;
  /** tokenizer.toJSON() for byte/char (saved with checkpoints so the char vocabulary is fixed); for 'hf' the tokenizer.json object. */
  tokenizerSpec(): unknown;
  close(): void;
}

/**
 * Where a corpus's tokens live: `read` copies tokens [start, start + out.length) of the whole corpus into `out`.
 *
 * @example
 * ```ts
 * const store: CorpusTokenStore = { totalTokens: ids.length, read: (s, out) => out.set(ids.subarray(s, s + out.length)), close() {} };
 * ```
 */
export interface CorpusTokenStore {
  readonly totalTokens: number;
  read(start: number, out: Int32Array): void;
  close(): void;
}

/**
 * What a {@link StoredTokenCorpus} is made of. `blocks` lists the tokens and code points of each tokenization
 * block in order (they sum to the totals); `tokenCounts` counts each token id over the whole corpus.
 *
 * @example
 * ```ts
 * const parts: TokenCorpusParts = { name: 'tiny', tokenizer, tokenizerKind: 'char', spec: tokenizer.toJSON(),
 *   contentHash, valFraction: 0.1, store, blocks: [[ids.length, ids.length]], tokenCounts };
 * ```
 */
export interface TokenCorpusParts {
  name: string;
  tokenizer: Tokenizer;
  tokenizerKind: TokenizerKind;
  spec: unknown;
  contentHash: string;
  valFraction: number;
  store: CorpusTokenStore;
  blocks: readonly (readonly [tokens: number, chars: number])[];
  tokenCounts: ArrayLike<number>;
}

/**
 * Code points of the last `tail.length` tokens of a block of `blockTokens` tokens and `blockChars` code points.
 * Exact for byte and char tokens; a Hugging Face tokenizer gives no character offsets (and its decode need not
 * reproduce the text), so its block is shared in proportion to the tokens.
 */
function tailChars(kind: TokenizerKind, tail: Int32Array, blockTokens: number, blockChars: number): number {
  if (kind === 'char') return tail.length;
  if (kind === 'byte') {
    // A character is counted where its first byte is (UTF-8 continuation bytes are 10xxxxxx).
    let n = 0;
    for (let i = 0; i < tail.length; i++) if ((tail[i]! & 0xc0) !== 0x80) n++;
    return n;
  }
  return Math.round((blockChars * tail.length) / blockTokens);
}

/** Read tokens [start, start + count) of a store in chunks of 1 Mi tokens. */
function* chunks(store: CorpusTokenStore, start: number, count: number): Generator<Int32Array> {
  const CH = 1 << 20;
  for (let s = start; s < start + count; s += CH) {
    const out = new Int32Array(Math.min(CH, start + count - s));
    store.read(s, out);
    yield out;
  }
}

/**
 * The shared {@link TokenCorpus} logic over any {@link CorpusTokenStore}: split arithmetic, windows, character
 * counts and the unigram entropy. `InMemoryTokenCorpus` and the Node file corpus are built on it.
 *
 * @example
 * ```ts
 * const corpus = new StoredTokenCorpus(parts);
 * corpus.splitTokens('val'); // Math.ceil(0.1 · total)
 * ```
 */
export class StoredTokenCorpus implements TokenCorpus {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly tokenizerKind: TokenizerKind;
  readonly vocabSize: number;
  readonly contentHash: string;
  readonly valFraction: number;
  /** Tokens in the whole corpus. */
  readonly totalTokens: number;
  /** Code points in the whole corpus. */
  readonly totalChars: number;
  private readonly store: CorpusTokenStore;
  private readonly spec: unknown;
  private readonly trainLen: number;
  private readonly valChars: number;
  private readonly counts: ArrayLike<number>;
  private entropy: number | undefined;
  private closed = false;

  constructor(parts: TokenCorpusParts) {
    this.name = parts.name;
    this.tokenizer = parts.tokenizer;
    this.tokenizerKind = parts.tokenizerKind;
    this.vocabSize = parts.tokenizer.vocabSize;
    this.contentHash = parts.contentHash;
    this.valFraction = requireNumber('textCorpus.valFraction', parts.valFraction, 0, 0.5);
    this.store = parts.store;
    this.spec = parts.spec;
    this.counts = parts.tokenCounts;
    this.totalTokens = parts.store.totalTokens;
    this.trainLen = this.totalTokens - Math.ceil(this.valFraction * this.totalTokens);
    let tokens = 0;
    let chars = 0;
    let valChars = 0;
    for (const [bt, bc] of parts.blocks) {
      if (tokens >= this.trainLen) valChars += bc;
      else if (tokens + bt > this.trainLen) {
        // The split falls inside this block: count the code points of its validation part.
        const tail = new Int32Array(tokens + bt - this.trainLen);
        this.store.read(this.trainLen, tail);
        valChars += tailChars(this.tokenizerKind, tail, bt, bc);
      }
      tokens += bt;
      chars += bc;
    }
    if (tokens !== this.totalTokens) {
      throw new AltarError(
        'BAD_ARG',
        `${this.name}: the blocks hold ${tokens} tokens but the store has ${this.totalTokens}`,
      );
    }
    this.totalChars = chars;
    this.valChars = valChars;
  }

  private range(split: CorpusSplit): [start: number, length: number] {
    if (split === 'train') return [0, this.trainLen];
    if (split === 'val') return [this.trainLen, this.totalTokens - this.trainLen];
    throw new AltarError('BAD_ARG', `${this.name}: split must be 'train' or 'val', got ${JSON.stringify(split)}`);
  }

  private check(): void {
    if (this.closed) throw new AltarError('BAD_ARG', `${this.name}: the corpus is closed`);
  }

  splitTokens(split: CorpusSplit): number {
    return this.range(split)[1];
  }

  splitChars(split: CorpusSplit): number {
    this.range(split);
    return split === 'val' ? this.valChars : this.totalChars - this.valChars;
  }

  sampleWindows(split: CorpusSplit, batch: number, seqLen: number, rng: Rng): Int32Array {
    this.check();
    const [start, len] = this.range(split);
    requireInt('sampleWindows.batch', batch, 1);
    requireInt('sampleWindows.seqLen', seqLen, 1);
    if (len < seqLen) {
      const why = split === 'val' && len === 0 ? ` (valFraction ${this.valFraction}: no validation split)` : '';
      throw new AltarError(
        'BAD_ARG',
        `${this.name}: the ${split} split has ${len} tokens${why}, fewer than one sequence of seqLen ${seqLen}`,
      );
    }
    const out = new Int32Array(batch * seqLen);
    for (let b = 0; b < batch; b++) {
      const s = rng.nextInt(start, start + len - seqLen + 1);
      this.store.read(s, out.subarray(b * seqLen, (b + 1) * seqLen));
    }
    return out;
  }

  window(split: CorpusSplit, start: number, seqLen: number): Int32Array {
    this.check();
    const [s0, len] = this.range(split);
    requireInt('window.seqLen', seqLen, 1);
    if (!Number.isInteger(start) || start < 0 || start + seqLen > len) {
      throw new AltarError(
        'BAD_POSITION',
        `${this.name}: window start ${start} with seqLen ${seqLen} is outside the ${split} split's ${len} tokens`,
      );
    }
    const out = new Int32Array(seqLen);
    this.store.read(s0 + start, out);
    return out;
  }

  unigramEntropyBits(): number {
    if (this.entropy !== undefined) return this.entropy;
    this.check();
    if (this.trainLen === 0) throw new AltarError('EMPTY_STREAM', `${this.name}: the train split has no tokens`);
    // Train counts = whole-corpus counts − counts of the validation tail.
    const c = Float64Array.from(this.counts);
    for (const ids of chunks(this.store, this.trainLen, this.totalTokens - this.trainLen)) {
      for (let i = 0; i < ids.length; i++) c[ids[i]!]!--;
    }
    let h = 0;
    for (let v = 0; v < c.length; v++) {
      const p = c[v]! / this.trainLen;
      if (p > 0) h -= p * Math.log2(p);
    }
    this.entropy = h;
    return h;
  }

  tokenizerSpec(): unknown {
    return this.spec;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.store.close();
  }
}

/**
 * The kind of a tokenizer object: the package's byte and char tokenizers, anything else 'hf'.
 *
 * @example
 * ```ts
 * tokenizerKindOf(new ByteTokenizer()); // 'byte'
 * tokenizerKindOf(CharTokenizer.fromText('abc')); // 'char'
 * ```
 */
export function tokenizerKindOf(tokenizer: Tokenizer): TokenizerKind {
  if (tokenizer instanceof ByteTokenizer) return 'byte';
  if (tokenizer instanceof CharTokenizer) return 'char';
  return 'hf';
}

/**
 * Options of {@link InMemoryTokenCorpus}: a name, the tokenizer ('byte' default, 'char' builds the vocabulary
 * from the text, or any Tokenizer), the validation fraction (default 0.1, in [0, 0.5]) and, for a custom
 * tokenizer, what `tokenizerSpec()` returns.
 *
 * @example
 * ```ts
 * const opts: InMemoryCorpusOptions = { name: 'pasted', tokenizer: 'char', valFraction: 0.05 };
 * ```
 */
export interface InMemoryCorpusOptions {
  name?: string;
  tokenizer?: 'byte' | 'char' | Tokenizer;
  valFraction?: number;
  /** What tokenizerSpec() returns for a tokenizer object without toJSON (e.g. the tokenizer.json of an hf tokenizer). */
  tokenizerSpec?: unknown;
}

/**
 * The whole corpus held in memory (browser/playground, tests): from a string.
 *
 * @example
 * ```ts
 * const corpus = new InMemoryTokenCorpus('To be, or not to be: that is the question.\n'.repeat(20), { tokenizer: 'char' });
 * corpus.vocabSize;                                  // distinct characters
 * corpus.tokenizer.decode(corpus.window('val', 0, 10)); // the first 10 characters of the validation text
 * ```
 */
export class InMemoryTokenCorpus extends StoredTokenCorpus {
  constructor(text: string, opts: InMemoryCorpusOptions = {}) {
    if (typeof text !== 'string')
      throw new AltarError('BAD_ARG', `InMemoryTokenCorpus: expected a string, got ${typeof text}`);
    const name = opts.name ?? 'text';
    if (text.length === 0) throw new AltarError('EMPTY_STREAM', `InMemoryTokenCorpus: ${name} is empty`);
    const t = opts.tokenizer ?? 'byte';
    let tokenizer: Tokenizer;
    if (t === 'byte') tokenizer = new ByteTokenizer();
    else if (t === 'char') tokenizer = CharTokenizer.fromText(text);
    else if (typeof t === 'object' && t !== null && typeof t.encode === 'function') tokenizer = t;
    else
      throw new ConfigError('textCorpus.tokenizer', `expected 'byte', 'char' or a Tokenizer, got ${JSON.stringify(t)}`);
    const kind = tokenizerKindOf(tokenizer);
    const bytes = new TextEncoder().encode(text);
    const ids = tokenizer.encode(text);
    const counts = new Float64Array(tokenizer.vocabSize);
    for (let i = 0; i < ids.length; i++) counts[ids[i]!]!++;
    let chars = 0;
    for (const _ of text) chars++;
    const withJson = tokenizer as Tokenizer & { toJSON?: () => unknown };
    const spec =
      kind === 'hf' || typeof withJson.toJSON !== 'function' ? (opts.tokenizerSpec ?? null) : withJson.toJSON();
    let closed = false;
    super({
      name,
      tokenizer,
      tokenizerKind: kind,
      spec,
      contentHash: sha256Hex(bytes),
      valFraction: opts.valFraction ?? 0.1,
      blocks: [[ids.length, chars]],
      tokenCounts: counts,
      store: {
        totalTokens: ids.length,
        read(start: number, out: Int32Array): void {
          if (closed) throw new AltarError('BAD_ARG', `${name}: the corpus is closed`);
          out.set(ids.subarray(start, start + out.length));
        },
        close(): void {
          closed = true;
        },
      },
    });
  }
}

/**
 * A {@link TokenSource} view of one split of a corpus: `sampleBatch` draws random windows of `seqLen` tokens.
 *
 * @example
 * ```ts
 * const train = corpusTokenSource(corpus, 'train', 64);
 * const batch = new TokenBatcher(train, { batchSize: 12, seed: 0 }).next(); // Int32Array (12 · 64)
 * ```
 */
export function corpusTokenSource(corpus: TokenCorpus, split: CorpusSplit, seqLen: number): TokenSource {
  requireInt('corpusTokenSource.seqLen', seqLen, 1);
  return {
    name: `${corpus.name}:${split}`,
    vocabSize: corpus.vocabSize,
    seqLen,
    sampleBatch: (batchSize: number, rng: Rng) => corpus.sampleWindows(split, batchSize, seqLen, rng),
  };
}
