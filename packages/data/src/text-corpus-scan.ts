/**
 * Reading a text corpus from disk (Node-only): the corpus files of a path (one file, or a directory walked
 * recursively in sorted order), and their bytes as blocks of about `BLOCK_BYTES` cut at UTF-8 character
 * starts (after the block's last newline when there is one), validated as UTF-8, gunzipping '.gz' files on
 * the fly. Nothing holds more than a block or two in memory.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { AltarError } from '@altar/backend';

/** Target size of a tokenization block, in corpus bytes. Part of the token cache format. */
export const BLOCK_BYTES = 1 << 20;

/** One file of a corpus: its absolute path and (on-disk) size. */
export interface CorpusFile {
  path: string;
  gz: boolean;
  diskBytes: number;
}

/** A block of corpus bytes: valid UTF-8 that starts and ends at character boundaries. */
export interface CorpusBlock {
  file: string;
  /** Offset of the block's first byte in its (decompressed) file. */
  fileOffset: number;
  bytes: Uint8Array;
}

/**
 * The files of a corpus path: the file itself, or every regular file under a directory (recursively, sorted
 * by relative path with '/' separators), skipping names that start with '.' and the `skipDirs` (cache directories).
 */
export function listCorpusFiles(path: string, skipDirs: readonly string[] = []): CorpusFile[] {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new AltarError('NOT_FOUND', `openTextCorpus: no such file or directory: ${path}`);
  }
  const file = (p: string, size: number): CorpusFile => ({ path: p, gz: p.endsWith('.gz'), diskBytes: size });
  if (st.isFile()) return [file(abs, st.size)];
  if (!st.isDirectory()) throw new AltarError('BAD_PATH', `openTextCorpus: ${path} is neither a file nor a directory`);
  const skip = new Set(skipDirs.map((d) => resolve(d)));
  const out: { rel: string; f: CorpusFile }[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      if (skip.has(p)) continue;
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.push({ rel: relative(abs, p).split(sep).join('/'), f: file(p, s.size) });
    }
  };
  walk(abs);
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out.map((o) => o.f);
}

/**
 * The offset of the first byte that starts an invalid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence), or -1 when `b` is valid.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // > U+10FFFF
    } else return i;
    if (i + len > n) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return -1;
}

/** Where to cut `buf` near `target`: after the last newline in its second half, else at the last character start. */
function cutPoint(buf: Uint8Array, target: number): number {
  const nl = buf.lastIndexOf(0x0a, target - 1);
  if (nl >= target >> 1) return nl + 1;
  let cut = target;
  for (let k = 0; k < 3 && cut > 0 && (buf[cut]! & 0xc0) === 0x80; k++) cut--;
  return cut;
}

/** The raw (decompressed) byte chunks of one file. */
async function* rawChunks(f: CorpusFile): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(f.path, { highWaterMark: BLOCK_BYTES });
  const source = f.gz ? stream.pipe(createGunzip({ chunkSize: 1 << 16 })) : stream;
  if (f.gz) stream.on('error', (e) => source.destroy(e));
  try {
    for await (const chunk of source) yield chunk as Uint8Array;
  } catch (e) {
    if (e instanceof AltarError) throw e;
    const what = f.gz ? 'cannot read or gunzip' : 'cannot read';
    throw new AltarError('BAD_PATH', `openTextCorpus: ${what} ${f.path} (${(e as Error).message})`, { cause: e });
  } finally {
    source.destroy();
    stream.destroy();
  }
}

/**
 * The corpus's bytes as validated UTF-8 blocks, file after file. Throws AltarError('BAD_ARG') naming the file
 * and the byte offset of the first invalid UTF-8 sequence.
 */
export async function* corpusBlocks(files: readonly CorpusFile[]): AsyncGenerator<CorpusBlock> {
  for (const f of files) {
    let pending = new Uint8Array(0);
    let offset = 0; // file offset of pending[0]
    const emit = (bytes: Uint8Array): CorpusBlock => {
      if (!isUtf8(bytes)) {
        const bad = firstInvalidUtf8(bytes);
        const at = offset + Math.max(bad, 0);
        const seq = Array.from(bytes.subarray(Math.max(bad, 0), Math.max(bad, 0) + 4), (x) =>
          x.toString(16).padStart(2, '0'),
        ).join(' ');
        throw new AltarError(
          'BAD_ARG',
          `openTextCorpus: ${f.path} is not valid UTF-8: invalid byte sequence at byte offset ${at} (bytes ${seq})`,
        );
      }
      const block = { file: f.path, fileOffset: offset, bytes };
      offset += bytes.length;
      return block;
    };
    for await (const chunk of rawChunks(f)) {
      let buf: Uint8Array;
      if (pending.length === 0) buf = chunk;
      else {
        buf = new Uint8Array(pending.length + chunk.length);
        buf.set(pending);
        buf.set(chunk, pending.length);
      }
      while (buf.length >= BLOCK_BYTES + 4) {
        const cut = cutPoint(buf, BLOCK_BYTES);
        yield emit(buf.subarray(0, cut));
        buf = buf.subarray(cut);
      }
      pending = buf.slice();
    }
    if (pending.length > 0) yield emit(pending);
  }
}

/** The number of code points in valid UTF-8 bytes (bytes that are not continuation bytes). */
export function countUtf8Chars(b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if ((b[i]! & 0xc0) !== 0x80) n++;
  return n;
}

/** Add the code points of `text` to `set`. */
export function collectCodePoints(text: string, set: Set<number>): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    set.add(c);
    if (c > 0xffff) i++;
  }
}

/**
 * Encode `text` as ids of a code-point vocabulary (`ids.get(codePoint)`); characters outside it get `unknownId`
 * or throw AltarError('UNKNOWN_CHAR') naming `where`.
 */
export function encodeCodePoints(
  text: string,
  ids: ReadonlyMap<number, number>,
  unknownId: number | undefined,
  where: string,
): Int32Array {
  const out = new Int32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    if (c > 0xffff) i++;
    const id = ids.get(c) ?? unknownId;
    if (id === undefined) {
      throw new AltarError(
        'UNKNOWN_CHAR',
        `openTextCorpus: ${where}: character ${JSON.stringify(String.fromCodePoint(c))} (U+${c.toString(16).toUpperCase().padStart(4, '0')}) is not in the tokenizer's vocabulary`,
      );
    }
    out[n++] = id;
  }
  return out.slice(0, n);
}
