/**
 * The token cache of a text corpus (Node-only): `<cacheDir>/<sha256>-<tokenizer id>.tokens` holds the whole
 * corpus's token ids (Uint16 little-endian when the vocabulary has at most 65,536 ids, else Uint32), and
 * `<…>.json` its metadata (format version, counts, code points per block, tokenizer spec). Both are written
 * under a temporary name and renamed, so a crash or an error never leaves a partial cache.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { AltarError } from '@altar/backend';
import type { CorpusTokenStore, TokenizerKind } from './text-corpus.js';

/**
 * Token files up to this size (64 MiB, i.e. 32 Mi tokens at 2 bytes) are read whole into memory; larger ones
 * window by window with positional reads.
 *
 * @example
 * ```ts
 * const corpus = await openTextCorpus({ path: 'big.txt', inMemoryTokenBytes: IN_MEMORY_TOKEN_BYTES / 4 });
 * ```
 */
export const IN_MEMORY_TOKEN_BYTES = 64 * 1024 * 1024;

/** Bump when the cache layout or the tokenization blocks change. */
export const CACHE_VERSION = 1;

const LITTLE = endianness() === 'LE';

/** The JSON metadata stored beside a token file. */
export interface TokenCacheMeta {
  format: 'altar-token-cache';
  version: number;
  blockBytes: number;
  contentHash: string;
  tokenizerId: string;
  tokenizerKind: TokenizerKind;
  vocabSize: number;
  bytesPerToken: 2 | 4;
  totalBytes: number;
  totalTokens: number;
  totalChars: number;
  files: { path: string; bytes: number }[];
  /** [tokens, code points] of each tokenization block, in order. */
  blocks: [number, number][];
  /** Occurrences of each token id over the whole corpus. */
  tokenCounts: number[];
  /** The byte/char tokenizer's toJSON() (hf tokenizers are identified by tokenizerId only). */
  tokenizerSpec: unknown;
}

/** Paths of the cache files for a corpus hash and a tokenizer id. */
export function cachePaths(
  cacheDir: string,
  contentHash: string,
  tokenizerId: string,
): { tokens: string; meta: string } {
  const base = join(cacheDir, `${contentHash}-${tokenizerId}`);
  return { tokens: `${base}.tokens`, meta: `${base}.json` };
}

/** The metadata of a complete, matching cache, or undefined (missing, stale or damaged: rebuild it). */
export function readCacheMeta(
  paths: { tokens: string; meta: string },
  contentHash: string,
  tokenizerId: string,
  vocabSize: number,
): TokenCacheMeta | undefined {
  if (!existsSync(paths.meta) || !existsSync(paths.tokens)) return undefined;
  try {
    const m = JSON.parse(readFileSync(paths.meta, 'utf8')) as TokenCacheMeta;
    const ok =
      m.format === 'altar-token-cache' &&
      m.version === CACHE_VERSION &&
      m.contentHash === contentHash &&
      m.tokenizerId === tokenizerId &&
      m.vocabSize === vocabSize &&
      statSync(paths.tokens).size === m.totalTokens * m.bytesPerToken &&
      Array.isArray(m.blocks) &&
      Array.isArray(m.tokenCounts) &&
      m.tokenCounts.length === vocabSize;
    return ok ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Swap the bytes of each `width`-byte word in place (for big-endian hosts). */
function swapBytes(b: Uint8Array, width: 2 | 4): void {
  for (let i = 0; i + width <= b.length; i += width) {
    if (width === 2) {
      const t = b[i]!;
      b[i] = b[i + 1]!;
      b[i + 1] = t;
    } else {
      let t = b[i]!;
      b[i] = b[i + 3]!;
      b[i + 3] = t;
      t = b[i + 1]!;
      b[i + 1] = b[i + 2]!;
      b[i + 2] = t;
    }
  }
}

/** Writes a token cache under temporary names; `commit` renames them into place, `abort` removes them. */
export class TokenCacheWriter {
  readonly bytesPerToken: 2 | 4;
  private readonly tmpTokens: string;
  private readonly tmpMeta: string;
  private fd: number | undefined;
  private tokens = 0;

  constructor(
    private readonly paths: { tokens: string; meta: string },
    vocabSize: number,
  ) {
    this.bytesPerToken = vocabSize <= 65536 ? 2 : 4;
    const tag = `.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    this.tmpTokens = paths.tokens + tag;
    this.tmpMeta = paths.meta + tag;
    this.fd = openSync(this.tmpTokens, 'w');
  }

  /** Append token ids (already checked to lie in [0, vocabSize)). */
  append(ids: ArrayLike<number>): void {
    const arr = this.bytesPerToken === 2 ? Uint16Array.from(ids) : Uint32Array.from(ids);
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    if (!LITTLE) swapBytes(bytes, this.bytesPerToken);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd!, bytes, done, bytes.length - done);
    this.tokens += arr.length;
  }

  get totalTokens(): number {
    return this.tokens;
  }

  commit(meta: TokenCacheMeta): void {
    closeSync(this.fd!);
    this.fd = undefined;
    writeFileSync(this.tmpMeta, JSON.stringify(meta));
    // Tokens first: a meta file only ever sits beside its complete token file.
    renameSync(this.tmpTokens, this.paths.tokens);
    renameSync(this.tmpMeta, this.paths.meta);
  }

  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    rmSync(this.tmpTokens, { force: true });
    rmSync(this.tmpMeta, { force: true });
  }
}

/**
 * The tokens of a cache file as a {@link CorpusTokenStore}: read whole into a typed array when the file is at
 * most `inMemoryBytes` (default {@link IN_MEMORY_TOKEN_BYTES}), else read window by window with positional reads.
 */
export function openTokenFile(
  path: string,
  totalTokens: number,
  bytesPerToken: 2 | 4,
  label: string,
  inMemoryBytes = IN_MEMORY_TOKEN_BYTES,
): CorpusTokenStore {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  if (size !== totalTokens * bytesPerToken) {
    closeSync(fd);
    throw new AltarError(
      'BAD_PATH',
      `${label}: token cache ${path} has ${size} bytes, expected ${totalTokens * bytesPerToken}`,
    );
  }
  const readAt = (dst: Uint8Array, pos: number): void => {
    let got = 0;
    while (got < dst.length) {
      const n = readSync(fd, dst, got, dst.length - got, pos + got);
      if (n === 0) throw new AltarError('BAD_PATH', `${label}: token cache ${path} ended early at byte ${pos + got}`);
      got += n;
    }
  };
  let closed = false;
  const check = (): void => {
    if (closed) throw new AltarError('BAD_ARG', `${label}: the corpus is closed`);
  };
  if (size <= inMemoryBytes) {
    const all = bytesPerToken === 2 ? new Uint16Array(totalTokens) : new Uint32Array(totalTokens);
    const bytes = new Uint8Array(all.buffer);
    readAt(bytes, 0);
    if (!LITTLE) swapBytes(bytes, bytesPerToken);
    closeSync(fd);
    return {
      totalTokens,
      read(start: number, out: Int32Array): void {
        check();
        out.set(all.subarray(start, start + out.length));
      },
      close(): void {
        closed = true;
      },
    };
  }
  return {
    totalTokens,
    read(start: number, out: Int32Array): void {
      check();
      const buf = new Uint8Array(out.length * bytesPerToken);
      readAt(buf, start * bytesPerToken);
      if (!LITTLE) swapBytes(buf, bytesPerToken);
      const view = bytesPerToken === 2 ? new Uint16Array(buf.buffer) : new Uint32Array(buf.buffer);
      out.set(view);
    },
    close(): void {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
