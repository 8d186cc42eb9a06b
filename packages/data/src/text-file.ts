/**
 * A UTF-8 text file as a resumable token stream (Node-only). The file is cut into byte blocks; each
 * block is read from disk, decoded and tokenized only when the stream reaches it, so memory holds one
 * block at a time. Blocks are assigned to train or validation by `validationBlockMask` (seeded).
 * Block boundaries are moved forward to the next UTF-8 character start, so each character belongs
 * to exactly one block (subword tokenizers may tokenize the few characters at a boundary differently
 * from the whole-file tokenization; byte and char tokenizers are exact).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AltarError, ConfigError } from '@altar/backend';
import { validationBlockMask, type TokenStream, type TokenStreamPosition } from './batcher.js';
import { loadHfTokenizer, type Tokenizer } from './tokenizers.js';
import { requireInt, requireNumber } from './validate.js';

/**
 * Options of {@link TextFileTokenStream}: which split to read, the held-out fraction and seed, and the block size.
 *
 * @example
 * ```ts
 * new TextFileTokenStream('corpus.txt', new ByteTokenizer(), { split: 'val', valFraction: 0.05 });
 * ```
 */
export interface TextFileStreamOptions {
  /** 'train' (default), 'val', or 'all' blocks. */
  split?: 'train' | 'val' | 'all';
  /** Fraction of blocks held out for validation (default 0.1). */
  valFraction?: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Block size in bytes (default 64 KiB). */
  blockBytes?: number;
}

const isContinuation = (b: number): boolean => (b & 0xc0) === 0x80;

/**
 * A text file read as a token stream, block by block (the train or validation blocks of a seeded split), without
 * loading it whole; positions are JSON so training resumes mid-file.
 *
 * @example
 * ```ts
 * const stream = new TextFileTokenStream('corpus.txt', new ByteTokenizer(), { split: 'train' });
 * const batcher = new TokenBatcher(stream, { batchSize: 8, seqLen: 256 });
 * ```
 */
export class TextFileTokenStream implements TokenStream {
  readonly name: string;
  readonly vocabSize: number;
  readonly path: string;
  readonly fileBytes: number;
  readonly blockBytes: number;
  /** Indices (into the file's blocks) of the blocks this stream reads, in order. */
  readonly blocks: readonly number[];
  private readonly tokenizer: Tokenizer;
  private cur = -1;
  private curTokens: Int32Array = new Int32Array(0);
  private block = 0;
  private offset = 0;
  private epoch = 0;

  constructor(path: string, tokenizer: Tokenizer, options: TextFileStreamOptions = {}) {
    if (typeof path !== 'string' || path.length === 0)
      throw new AltarError('BAD_PATH', 'TextFileTokenStream: expected a file path');
    if (!tokenizer || typeof tokenizer.encode !== 'function')
      throw new AltarError('BAD_ARG', 'TextFileTokenStream: expected a Tokenizer');
    this.path = path;
    this.tokenizer = tokenizer;
    this.vocabSize = tokenizer.vocabSize;
    this.blockBytes = requireInt('textFile.blockBytes', options.blockBytes ?? 65536, 16);
    const split = options.split ?? 'train';
    if (split !== 'train' && split !== 'val' && split !== 'all')
      throw new ConfigError('textFile.split', `expected train, val or all, got ${JSON.stringify(split)}`);
    const valFraction = requireNumber('textFile.valFraction', options.valFraction ?? 0.1, 0, 0.99);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new AltarError('BAD_PATH', `TextFileTokenStream: cannot open ${path} (${(e as Error).message})`);
    }
    try {
      this.fileBytes = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    if (this.fileBytes === 0) throw new AltarError('BAD_PATH', `TextFileTokenStream: ${path} is empty`);
    const numBlocks = Math.ceil(this.fileBytes / this.blockBytes);
    const mask =
      split === 'all' ? new Uint8Array(numBlocks) : validationBlockMask(numBlocks, valFraction, options.seed ?? 0);
    const want = split === 'val' ? 1 : 0;
    this.blocks =
      split === 'all'
        ? Array.from({ length: numBlocks }, (_, i) => i)
        : Array.from(mask).flatMap((m, i) => (m === want ? [i] : []));
    if (this.blocks.length === 0) {
      throw new ConfigError(
        'textFile.split',
        `${path} (${this.fileBytes} bytes, ${numBlocks} blocks of ${this.blockBytes}) has no ${split} blocks; lower blockBytes or change valFraction`,
      );
    }
    this.name = `text(${path}, ${split}, ${tokenizer.name})`;
  }

  /** Read and tokenize file block `j` (with UTF-8-aligned boundaries). */
  private loadBlock(j: number): Int32Array {
    const fd = openSync(this.path, 'r');
    try {
      const readAt = (pos: number, len: number): Uint8Array => {
        const buf = new Uint8Array(Math.max(0, Math.min(len, this.fileBytes - pos)));
        let got = 0;
        while (got < buf.length) {
          const n = readSync(fd, buf, got, buf.length - got, pos + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      };
      // Move a raw boundary forward past UTF-8 continuation bytes (at most 3).
      const align = (pos: number): number => {
        if (pos <= 0 || pos >= this.fileBytes) return Math.min(Math.max(pos, 0), this.fileBytes);
        const peek = readAt(pos, 4);
        let k = 0;
        while (k < peek.length && isContinuation(peek[k]!)) k++;
        return pos + k;
      };
      const start = align(j * this.blockBytes);
      const end = align((j + 1) * this.blockBytes);
      const bytes = readAt(start, end - start);
      return this.tokenizer.encode(new TextDecoder('utf-8').decode(bytes));
    } finally {
      closeSync(fd);
    }
  }

  private ensure(): void {
    const j = this.blocks[this.block]!;
    if (this.cur !== j) {
      this.curTokens = this.loadBlock(j);
      this.cur = j;
    }
  }

  read(count: number): Int32Array {
    requireInt('TextFileTokenStream.read.count', count, 0);
    const out = new Int32Array(count);
    let filled = 0;
    let emptyBlocks = 0;
    while (filled < count) {
      this.ensure();
      const avail = this.curTokens.length - this.offset;
      const take = Math.min(avail, count - filled);
      out.set(this.curTokens.subarray(this.offset, this.offset + take), filled);
      filled += take;
      this.offset += take;
      if (this.offset >= this.curTokens.length) {
        if (this.curTokens.length === 0 && ++emptyBlocks > this.blocks.length) {
          throw new AltarError('EMPTY_STREAM', `TextFileTokenStream: ${this.path} yields no tokens`);
        }
        this.offset = 0;
        this.block++;
        if (this.block === this.blocks.length) {
          this.block = 0;
          this.epoch++;
        }
      }
    }
    return out;
  }

  position(): TokenStreamPosition {
    return { block: this.block, offset: this.offset, epoch: this.epoch };
  }

  seek(pos: TokenStreamPosition): void {
    if (typeof pos !== 'object' || pos === null)
      throw new ConfigError('textFile.position', 'expected { block, offset, epoch }');
    requireInt('textFile.position.block', pos.block, 0, this.blocks.length - 1);
    requireInt('textFile.position.offset', pos.offset, 0);
    requireInt('textFile.position.epoch', pos.epoch, 0);
    this.block = pos.block;
    this.ensure();
    if (pos.offset > this.curTokens.length) {
      throw new AltarError(
        'BAD_POSITION',
        `TextFileTokenStream.seek: offset ${pos.offset} is past block ${pos.block}'s ${this.curTokens.length} tokens (did the file or tokenizer change?)`,
      );
    }
    this.offset = pos.offset;
    this.epoch = pos.epoch;
  }
}

/** Read a whole (small) UTF-8 file, e.g. tokenizer.json. */
function readTextFile(path: string): string {
  const fd = (() => {
    try {
      return openSync(path, 'r');
    } catch (e) {
      throw new AltarError('BAD_PATH', `cannot open ${path} (${(e as Error).message})`);
    }
  })();
  try {
    const size = fstatSync(fd).size;
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return new TextDecoder('utf-8').decode(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

/**
 * Load a Hugging Face tokenizer from `tokenizer.json` (and optional `tokenizer_config.json`) paths.
 *
 * @example
 * ```ts
 * const tokenizer = await loadTokenizerJsonFile('gpt2/tokenizer.json');
 * tokenizer.encode('hello'); // Int32Array of GPT-2 ids
 * ```
 */
export async function loadTokenizerJsonFile(
  tokenizerJsonPath: string,
  tokenizerConfigPath?: string,
): Promise<Tokenizer> {
  return loadHfTokenizer(readTextFile(tokenizerJsonPath), tokenizerConfigPath ? readTextFile(tokenizerConfigPath) : {});
}
