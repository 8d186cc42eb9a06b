/**
 * Token streams (sequential, resumable), deterministic train/validation splits, random-window
 * sources over in-memory tokens, and the batcher that turns either into (B, N) int32 batches with a
 * JSON-serialisable position for bit-exact resumable training.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng, type RngState } from '@altar/backend';
import { checkBatchSize, tokensToTensor, type TokenSource } from './token-source.js';
import { checkTokens, requireInt, requireNumber } from './validate.js';

/**
 * A JSON-serialisable stream position.
 *
 * @example
 * ```ts
 * const pos: TokenStreamPosition = stream.position(); // JSON: save it with a checkpoint
 * stream.seek(pos);                                     // continue from exactly there
 * ```
 */
export interface TokenStreamPosition {
  /** Index into the stream's list of blocks (ArrayTokenStream: always 0). */
  block: number;
  /** Token offset inside that block. */
  offset: number;
  /** Completed passes over the data. */
  epoch: number;
}

/**
 * Sequential tokens that wrap around at the end (epoch + 1) and can seek to a saved position.
 *
 * @example
 * ```ts
 * const stream: TokenStream = new ArrayTokenStream(Int32Array.from([1, 2, 3, 4]), 8);
 * stream.read(3); // [1, 2, 3]
 * stream.read(3); // [4, 1, 2]: wrapped into epoch 1
 * ```
 */
export interface TokenStream {
  readonly name: string;
  readonly vocabSize: number;
  read(count: number): Int32Array;
  position(): TokenStreamPosition;
  seek(pos: TokenStreamPosition): void;
}

function checkPosition(op: string, pos: TokenStreamPosition): void {
  if (typeof pos !== 'object' || pos === null)
    throw new ConfigError(`${op}.position`, 'expected { block, offset, epoch }');
  requireInt(`${op}.position.block`, pos.block, 0);
  requireInt(`${op}.position.offset`, pos.offset, 0);
  requireInt(`${op}.position.epoch`, pos.epoch, 0);
}

/**
 * An in-memory token array as a stream.
 *
 * @example
 * ```ts
 * const stream = new ArrayTokenStream(new ByteTokenizer().encode('hello world'), 256);
 * const batcher = new TokenBatcher(stream, { batchSize: 2, seqLen: 4 }); // contiguous rows, in order
 * ```
 */
export class ArrayTokenStream implements TokenStream {
  readonly name: string;
  readonly vocabSize: number;
  private readonly tokens: Int32Array;
  private offset = 0;
  private epoch = 0;

  constructor(tokens: Int32Array, vocabSize: number, name = 'array') {
    requireInt('ArrayTokenStream.vocabSize', vocabSize, 1);
    if (!(tokens instanceof Int32Array) || tokens.length < 1)
      throw new AltarError('BAD_ARG', 'ArrayTokenStream: expected a non-empty Int32Array');
    checkTokens('ArrayTokenStream', tokens, vocabSize);
    this.tokens = tokens;
    this.vocabSize = vocabSize;
    this.name = name;
  }

  read(count: number): Int32Array {
    requireInt('ArrayTokenStream.read.count', count, 0);
    const out = new Int32Array(count);
    let filled = 0;
    while (filled < count) {
      const take = Math.min(count - filled, this.tokens.length - this.offset);
      out.set(this.tokens.subarray(this.offset, this.offset + take), filled);
      filled += take;
      this.offset += take;
      if (this.offset === this.tokens.length) {
        this.offset = 0;
        this.epoch++;
      }
    }
    return out;
  }

  position(): TokenStreamPosition {
    return { block: 0, offset: this.offset, epoch: this.epoch };
  }

  seek(pos: TokenStreamPosition): void {
    checkPosition('ArrayTokenStream.seek', pos);
    if (pos.block !== 0 || pos.offset >= this.tokens.length) {
      throw new AltarError(
        'BAD_POSITION',
        `ArrayTokenStream.seek: position ${JSON.stringify(pos)} is outside this stream of ${this.tokens.length} tokens`,
      );
    }
    this.offset = pos.offset;
    this.epoch = pos.epoch;
  }
}

/**
 * Which of `numBlocks` blocks belong to validation: exactly round(valFraction · numBlocks) of them
 * (at least 1 when valFraction > 0 and numBlocks ≥ 2, and never all), chosen by a seeded permutation.
 * Deterministic given (numBlocks, valFraction, seed). Returns 1 for validation blocks.
 *
 * @example
 * ```ts
 * validationBlockMask(10, 0.2, 0); // Uint8Array(10) with exactly two 1s, the same for the same seed
 * ```
 */
export function validationBlockMask(numBlocks: number, valFraction: number, seed: number): Uint8Array {
  requireInt('split.numBlocks', numBlocks, 1);
  requireNumber('split.valFraction', valFraction, 0, 0.99);
  requireNumber('split.seed', seed);
  let k = Math.round(valFraction * numBlocks);
  if (valFraction > 0 && numBlocks >= 2) k = Math.max(1, k);
  k = Math.min(k, numBlocks - 1);
  const perm = new Rng(seed).fork('train-val-split').permutation(numBlocks);
  const mask = new Uint8Array(numBlocks);
  for (let i = 0; i < k; i++) mask[perm[i]!] = 1;
  return mask;
}

/**
 * Options of {@link splitTrainVal}: the held-out fraction, the block size and the seed.
 *
 * @example
 * ```ts
 * splitTrainVal(tokens, { valFraction: 0.05, blockSize: 512, seed: 1 });
 * ```
 */
export interface SplitOptions {
  /** Fraction of blocks held out for validation (default 0.1). */
  valFraction?: number;
  /** Tokens per block; blocks, not tokens, are assigned to a split so that text stays contiguous (default 1024). */
  blockSize?: number;
  /** Seed of the assignment (default 0). */
  seed?: number;
}

/**
 * Deterministic train/validation split of a token array by blocks.
 *
 * @example
 * ```ts
 * const tokens = new ByteTokenizer().encode(text);
 * const { train, val } = splitTrainVal(tokens, { valFraction: 0.1, blockSize: 1024 });
 * ```
 */
export function splitTrainVal(tokens: Int32Array, options: SplitOptions = {}): { train: Int32Array; val: Int32Array } {
  if (!(tokens instanceof Int32Array) || tokens.length < 2)
    throw new AltarError('BAD_ARG', 'splitTrainVal: expected an Int32Array of at least 2 tokens');
  const blockSize = requireInt('split.blockSize', options.blockSize ?? 1024, 1);
  const numBlocks = Math.ceil(tokens.length / blockSize);
  if (numBlocks < 2) {
    throw new ConfigError(
      'split.blockSize',
      `${tokens.length} tokens make only 1 block of ${blockSize}; use a smaller blockSize to hold out validation data`,
    );
  }
  const mask = validationBlockMask(numBlocks, options.valFraction ?? 0.1, options.seed ?? 0);
  let valLen = 0;
  for (let b = 0; b < numBlocks; b++) if (mask[b]) valLen += Math.min(blockSize, tokens.length - b * blockSize);
  const train = new Int32Array(tokens.length - valLen);
  const val = new Int32Array(valLen);
  let ti = 0;
  let vi = 0;
  for (let b = 0; b < numBlocks; b++) {
    const block = tokens.subarray(b * blockSize, Math.min(tokens.length, (b + 1) * blockSize));
    if (mask[b]) {
      val.set(block, vi);
      vi += block.length;
    } else {
      train.set(block, ti);
      ti += block.length;
    }
  }
  return { train, val };
}

/**
 * Random fixed-length windows from an in-memory token array (a TokenSource).
 *
 * @example
 * ```ts
 * const source = new ArrayTokenSource(train, 256, 128); // random 128-token windows
 * const batch = source.sampleBatch(8, new Rng(0));        // Int32Array (8 · 128)
 * ```
 */
export class ArrayTokenSource implements TokenSource {
  readonly name: string;
  readonly vocabSize: number;
  readonly seqLen: number;
  private readonly tokens: Int32Array;

  constructor(tokens: Int32Array, vocabSize: number, seqLen: number, name = 'array-windows') {
    requireInt('ArrayTokenSource.vocabSize', vocabSize, 1);
    requireInt('ArrayTokenSource.seqLen', seqLen, 1);
    if (!(tokens instanceof Int32Array) || tokens.length < seqLen) {
      throw new AltarError(
        'BAD_ARG',
        `ArrayTokenSource: need an Int32Array of at least seqLen = ${seqLen} tokens, got ${tokens?.length}`,
      );
    }
    checkTokens('ArrayTokenSource', tokens, vocabSize);
    this.tokens = tokens;
    this.vocabSize = vocabSize;
    this.seqLen = seqLen;
    this.name = name;
  }

  sampleBatch(batchSize: number, rng: Rng): Int32Array {
    checkBatchSize('ArrayTokenSource.sampleBatch', batchSize);
    const N = this.seqLen;
    const out = new Int32Array(batchSize * N);
    for (let b = 0; b < batchSize; b++) {
      const start = rng.nextInt(0, this.tokens.length - N + 1);
      out.set(this.tokens.subarray(start, start + N), b * N);
    }
    return out;
  }
}

/**
 * A batcher's saved position: restore it to continue the exact same batch sequence.
 *
 * @example
 * ```ts
 * const saved: BatcherPosition = batcher.position(); // JSON, stored in the checkpoint
 * batcher.restore(saved);                              // the same batches follow, bit-exactly
 * ```
 */
export type BatcherPosition =
  { kind: 'source'; step: number; rng: RngState } | { kind: 'stream'; step: number; stream: TokenStreamPosition };

/**
 * Options of {@link TokenBatcher}: batch size, row length (from the source by default) and the seed of a random source.
 *
 * @example
 * ```ts
 * new TokenBatcher(new HmmSource(), { batchSize: 16, seed: 1 });
 * ```
 */
export interface TokenBatcherOptions {
  batchSize: number;
  /** Row length; defaults to the source's seqLen (required for streams). */
  seqLen?: number;
  /** Seed for random sources (default 0). Ignored for streams, which are read in order. */
  seed?: number;
}

function isTokenSource(x: TokenSource | TokenStream): x is TokenSource {
  return typeof (x as TokenSource).sampleBatch === 'function';
}

/**
 * Yields (B, N) int32 batches from a TokenSource (random, seeded) or a TokenStream (contiguous
 * rows read in order). `position()` is JSON; `restore(position)` continues bit-exactly.
 *
 * @example
 * ```ts
 * const batcher = new TokenBatcher(new HmmSource({ seqLen: 32 }), { batchSize: 16, seed: 1 });
 * const x = batcher.nextTensor(); // int32 (16, 32)
 * const pos = batcher.position(); // resume later with batcher.restore(pos)
 * ```
 */
export class TokenBatcher {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly vocabSize: number;
  private rng: Rng;
  private step = 0;
  private readonly input: TokenSource | TokenStream;

  constructor(input: TokenSource | TokenStream, options: TokenBatcherOptions) {
    if (
      !input ||
      (typeof (input as TokenSource).sampleBatch !== 'function' && typeof (input as TokenStream).read !== 'function')
    ) {
      throw new AltarError(
        'BAD_ARG',
        'TokenBatcher: input must be a TokenSource (sampleBatch) or a TokenStream (read)',
      );
    }
    this.input = input;
    this.batchSize = requireInt('batcher.batchSize', options?.batchSize, 1);
    const seqLen = options.seqLen ?? (isTokenSource(input) ? input.seqLen : undefined);
    if (seqLen === undefined) throw new ConfigError('batcher.seqLen', 'required when the input is a TokenStream');
    this.seqLen = requireInt('batcher.seqLen', seqLen, 1);
    if (isTokenSource(input) && this.seqLen !== input.seqLen) {
      throw new ConfigError(
        'batcher.seqLen',
        `the source ${input.name} yields sequences of ${input.seqLen}, got seqLen ${this.seqLen}`,
      );
    }
    this.vocabSize = input.vocabSize;
    this.rng = new Rng(requireNumber('batcher.seed', options.seed ?? 0));
  }

  /** The next batch as a flat (B*N) Int32Array. */
  next(): Int32Array {
    const out = isTokenSource(this.input)
      ? this.input.sampleBatch(this.batchSize, this.rng)
      : this.input.read(this.batchSize * this.seqLen);
    this.step++;
    return out;
  }

  /** The next batch as an int32 Tensor2D (B, N); the caller disposes it. */
  nextTensor(): tf.Tensor2D {
    return tokensToTensor(this.next(), this.batchSize, this.seqLen);
  }

  /** Batches produced so far. */
  get steps(): number {
    return this.step;
  }

  position(): BatcherPosition {
    return isTokenSource(this.input)
      ? { kind: 'source', step: this.step, rng: this.rng.state() }
      : { kind: 'stream', step: this.step, stream: this.input.position() };
  }

  restore(pos: BatcherPosition): void {
    if (typeof pos !== 'object' || pos === null)
      throw new ConfigError('batcher.position', 'expected an object from position()');
    requireInt('batcher.position.step', pos.step, 0);
    if (isTokenSource(this.input)) {
      if (pos.kind !== 'source')
        throw new ConfigError(
          'batcher.position.kind',
          `expected "source" for a TokenSource, got ${JSON.stringify(pos.kind)}`,
        );
      this.rng = new Rng(pos.rng);
    } else {
      if (pos.kind !== 'stream')
        throw new ConfigError(
          'batcher.position.kind',
          `expected "stream" for a TokenStream, got ${JSON.stringify(pos.kind)}`,
        );
      this.input.seek(pos.stream);
    }
    this.step = pos.step;
  }
}
