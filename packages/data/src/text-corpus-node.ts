/**
 * Text corpora from disk (Node-only): a UTF-8 file or a directory of files, streamed block by block (never
 * held as one JS string), tokenized once into a token cache next to the corpus (keyed by the content's
 * sha256 and the tokenizer), then read window by window. See text-corpus-cache.ts for the cache layout.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AltarError, ConfigError } from '@altar/backend';
import {
  CACHE_VERSION,
  TokenCacheWriter,
  cachePaths,
  openTokenFile,
  readCacheMeta,
  IN_MEMORY_TOKEN_BYTES,
  type TokenCacheMeta,
} from './text-corpus-cache.js';
import {
  BLOCK_BYTES,
  collectCodePoints,
  corpusBlocks,
  countUtf8Chars,
  encodeCodePoints,
  listCorpusFiles,
  type CorpusFile,
} from './text-corpus-scan.js';
import { StoredTokenCorpus, type TokenCorpus, type TokenizerKind } from './text-corpus.js';
import { ByteTokenizer, CharTokenizer, loadHfTokenizer, tokenizerFromJSON, type Tokenizer } from './tokenizers.js';
import { requireNumber } from './validate.js';

/**
 * Options of {@link openTextCorpus}.
 *
 * @example
 * ```ts
 * const opts: OpenTextCorpusOptions = { path: 'corpus/', tokenizer: 'char', valFraction: 0.1 };
 * ```
 */
export interface OpenTextCorpusOptions {
  /** A UTF-8 file or a directory of files (recursively, sorted by path; skipping dotfiles and the cache dir); '.gz' files are gunzipped. */
  path: string;
  /** 'byte' (default), 'char', or the path of a Hugging Face tokenizer.json. */
  tokenizer?: 'byte' | 'char' | string;
  /** A saved tokenizerSpec() (from a checkpoint): use exactly this vocabulary instead of rebuilding it. */
  tokenizerSpec?: unknown;
  /** Default 0.1, in [0, 0.5]; with 0 there is no 'val' split. */
  valFraction?: number;
  /** Default `<dir>/.altar-cache` (a directory corpus: inside it; a file: beside it), else os.tmpdir()/altar-cache when that is not writable. */
  cacheDir?: string;
  /** Called after each tokenized block while the cache is built (not when a cache is reused). */
  onProgress?: (p: { bytesDone: number; bytesTotal: number }) => void;
  /** The corpus name (default: the base name without .gz/.txt; 'shakespeare' for the built-in corpus). */
  name?: string;
  /** Token files up to this many bytes are loaded into memory, larger ones read by positional reads (default 64 MiB). */
  inMemoryTokenBytes?: number;
}

/**
 * The corpora that ship with @altar/data.
 *
 * @example
 * ```ts
 * BUILTIN_CORPORA.includes('shakespeare'); // true
 * ```
 */
export const BUILTIN_CORPORA = ['shakespeare'] as const;

const BUILTIN_FILES: Record<(typeof BUILTIN_CORPORA)[number], string> = { shakespeare: 'tinyshakespeare.txt.gz' };

/**
 * Absolute path of a corpus that ships with @altar/data ('shakespeare' → corpora/tinyshakespeare.txt.gz).
 *
 * @example
 * ```ts
 * const corpus = await openTextCorpus({ path: builtinCorpusPath('shakespeare'), tokenizer: 'char' });
 * ```
 */
export function builtinCorpusPath(name: 'shakespeare'): string {
  const file = (BUILTIN_FILES as Record<string, string | undefined>)[name];
  if (file === undefined) {
    throw new AltarError(
      'NOT_FOUND',
      `builtinCorpusPath: unknown corpus ${JSON.stringify(name)}; expected one of ${BUILTIN_CORPORA.join(', ')}`,
    );
  }
  // src/ and dist/ are both one level below the package root.
  return fileURLToPath(new URL(`../corpora/${file}`, import.meta.url));
}

interface ResolvedTokenizer {
  tokenizer: Tokenizer;
  kind: TokenizerKind;
  /** Identifies the vocabulary in cache names. */
  id: string;
  /** What tokenizerSpec() returns. */
  spec: unknown;
}

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

async function hfTokenizer(json: object, where: string): Promise<ResolvedTokenizer> {
  let tokenizer: Tokenizer;
  try {
    tokenizer = await loadHfTokenizer(json);
  } catch (e) {
    if (e instanceof AltarError && e.code === 'MISSING_DEPENDENCY') throw e;
    throw new AltarError(
      'BAD_ARG',
      `openTextCorpus: ${where} is not a usable tokenizer.json: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return { tokenizer, kind: 'hf', id: `hf-${shortHash(JSON.stringify(json))}`, spec: json };
}

function charTokenizer(t: Tokenizer): ResolvedTokenizer {
  const spec = (t as CharTokenizer).toJSON();
  return { tokenizer: t, kind: 'char', id: `char-${shortHash(JSON.stringify(spec))}`, spec };
}

/** The tokenizer from a saved spec, or from the `tokenizer` option ('char' needs the corpus's code points). */
async function resolveTokenizer(
  opts: OpenTextCorpusOptions,
  codePoints: () => Set<number>,
): Promise<ResolvedTokenizer> {
  const asked = opts.tokenizer ?? 'byte';
  if (typeof asked !== 'string' || asked.length === 0)
    throw new ConfigError(
      'tokenizer',
      `expected 'byte', 'char' or a tokenizer.json path, got ${JSON.stringify(asked)}`,
    );
  const askedKind: TokenizerKind = asked === 'byte' ? 'byte' : asked === 'char' ? 'char' : 'hf';
  if (opts.tokenizerSpec !== undefined) {
    const s = opts.tokenizerSpec as { type?: unknown; model?: unknown } | null;
    if (typeof s !== 'object' || s === null)
      throw new ConfigError('tokenizerSpec', `expected an object, got ${typeof s}`);
    const kind: TokenizerKind =
      s.type === 'bytes' ? 'byte' : s.type === 'chars' ? 'char' : 'model' in s ? 'hf' : 'byte';
    if (kind === 'byte' && s.type !== 'bytes')
      throw new ConfigError(
        'tokenizerSpec',
        'expected a byte or char tokenizer spec ({ type }) or a tokenizer.json object',
      );
    if (opts.tokenizer !== undefined && kind !== askedKind)
      throw new ConfigError(
        'tokenizer',
        `${JSON.stringify(asked)} does not match the saved tokenizerSpec (a ${kind} tokenizer)`,
      );
    if (kind === 'hf') return hfTokenizer(s, 'tokenizerSpec');
    const t = tokenizerFromJSON(s);
    return kind === 'byte' ? { tokenizer: t, kind, id: 'byte', spec: { type: 'bytes' } } : charTokenizer(t);
  }
  if (askedKind === 'byte')
    return { tokenizer: new ByteTokenizer(), kind: 'byte', id: 'byte', spec: { type: 'bytes' } };
  if (askedKind === 'char') {
    const chars = [...codePoints()].map((c) => String.fromCodePoint(c)).sort();
    return charTokenizer(new CharTokenizer(chars));
  }
  if (!existsSync(asked)) throw new AltarError('NOT_FOUND', `openTextCorpus: tokenizer file not found: ${asked}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(asked, 'utf8'));
  } catch (e) {
    throw new AltarError(
      'BAD_ARG',
      `openTextCorpus: tokenizer file ${asked} does not parse as JSON: ${(e as Error).message}`,
    );
  }
  if (typeof json !== 'object' || json === null)
    throw new AltarError(
      'BAD_ARG',
      `openTextCorpus: tokenizer file ${asked} holds ${typeof json}, not a tokenizer.json object`,
    );
  return hfTokenizer(json, `tokenizer file ${asked}`);
}

/** A writable cache directory: the asked one, or the default beside the corpus, else os.tmpdir()/altar-cache. */
function cacheDirFor(opts: OpenTextCorpusOptions, isDir: boolean): string {
  const writable = (d: string): boolean => {
    try {
      mkdirSync(d, { recursive: true });
      accessSync(d, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (opts.cacheDir !== undefined) {
    if (!writable(opts.cacheDir))
      throw new AltarError('BAD_PATH', `openTextCorpus: cache directory ${opts.cacheDir} is not writable`);
    return resolve(opts.cacheDir);
  }
  const p = resolve(opts.path);
  const beside = join(isDir ? p : dirname(p), '.altar-cache');
  if (writable(beside)) return beside;
  const fallback = join(tmpdir(), 'altar-cache');
  if (!writable(fallback))
    throw new AltarError('BAD_PATH', `openTextCorpus: neither ${beside} nor ${fallback} is writable`);
  return fallback;
}

function corpusName(opts: OpenTextCorpusOptions): string {
  if (opts.name !== undefined) return opts.name;
  const p = resolve(opts.path);
  for (const b of BUILTIN_CORPORA) if (p === builtinCorpusPath(b)) return b;
  return (
    basename(p)
      .replace(/\.gz$/, '')
      .replace(/\.txt$/, '') || basename(p)
  );
}

/** Pass 1: the content hash, the byte count and (for 'char') the code points; validates UTF-8. */
async function scan(
  files: CorpusFile[],
  wantChars: boolean,
): Promise<{ hash: string; bytes: number; codePoints: Set<number> }> {
  const h = createHash('sha256');
  const codePoints = new Set<number>();
  const dec = new TextDecoder('utf-8');
  let bytes = 0;
  for await (const b of corpusBlocks(files)) {
    h.update(b.bytes);
    bytes += b.bytes.length;
    if (wantChars) collectCodePoints(dec.decode(b.bytes), codePoints);
  }
  return { hash: h.digest('hex'), bytes, codePoints };
}

/** Pass 2: tokenize block by block into the cache (temporary files renamed at the end; removed on any error). */
async function buildCache(
  files: CorpusFile[],
  tok: ResolvedTokenizer,
  paths: { tokens: string; meta: string },
  pass1: { hash: string; bytes: number },
  onProgress: OpenTextCorpusOptions['onProgress'],
): Promise<TokenCacheMeta> {
  const V = tok.tokenizer.vocabSize;
  const counts = new Float64Array(V);
  const blocks: [number, number][] = [];
  const fileBytes = new Map<string, number>();
  const dec = new TextDecoder('utf-8');
  let charIds: Map<number, number> | undefined;
  let unknownId: number | undefined;
  if (tok.kind === 'char') {
    const ct = tok.tokenizer as CharTokenizer;
    charIds = new Map(ct.chars.map((c, i) => [c.codePointAt(0)!, i]));
    unknownId = (ct.toJSON() as { unknownId?: number }).unknownId;
  }
  const writer = new TokenCacheWriter(paths, V);
  try {
    let done = 0;
    let chars = 0;
    for await (const b of corpusBlocks(files)) {
      let ids: ArrayLike<number>;
      if (tok.kind === 'byte') ids = b.bytes;
      else if (charIds)
        ids = encodeCodePoints(dec.decode(b.bytes), charIds, unknownId, `${b.file} (block at byte ${b.fileOffset})`);
      else {
        ids = tok.tokenizer.encode(dec.decode(b.bytes));
        for (let i = 0; i < ids.length; i++) {
          const t = ids[i]!;
          if (!(t >= 0 && t < V))
            throw new AltarError(
              'BAD_TOKEN',
              `openTextCorpus: the tokenizer gave id ${t} outside [0, ${V}) in ${b.file}`,
            );
        }
      }
      for (let i = 0; i < ids.length; i++) counts[ids[i]!]!++;
      const c = countUtf8Chars(b.bytes);
      writer.append(ids);
      blocks.push([ids.length, c]);
      chars += c;
      done += b.bytes.length;
      fileBytes.set(b.file, (fileBytes.get(b.file) ?? 0) + b.bytes.length);
      onProgress?.({ bytesDone: done, bytesTotal: pass1.bytes });
    }
    const meta: TokenCacheMeta = {
      format: 'altar-token-cache',
      version: CACHE_VERSION,
      blockBytes: BLOCK_BYTES,
      contentHash: pass1.hash,
      tokenizerId: tok.id,
      tokenizerKind: tok.kind,
      vocabSize: V,
      bytesPerToken: writer.bytesPerToken,
      totalBytes: done,
      totalTokens: writer.totalTokens,
      totalChars: chars,
      files: files.map((f) => ({ path: f.path, bytes: fileBytes.get(f.path) ?? 0 })),
      blocks,
      tokenCounts: Array.from(counts),
      tokenizerSpec: tok.kind === 'hf' ? null : tok.spec,
    };
    writer.commit(meta);
    return meta;
  } catch (e) {
    writer.abort();
    throw e;
  }
}

/**
 * Open a text corpus from disk: validate and hash it, tokenize it into the token cache (or reuse a cache with
 * the same content hash and tokenizer), and serve random windows from the cached token file.
 *
 * @example
 * ```ts
 * const corpus = await openTextCorpus({ path: builtinCorpusPath('shakespeare'), tokenizer: 'char' });
 * corpus.vocabSize;                                            // 65
 * const batch = corpus.sampleWindows('train', 12, 64, new Rng(0)); // Int32Array (12 · 64)
 * corpus.close();
 * ```
 */
export async function openTextCorpus(opts: OpenTextCorpusOptions): Promise<TokenCorpus> {
  if (typeof opts !== 'object' || opts === null) throw new ConfigError('openTextCorpus', 'expected an options object');
  if (typeof opts.path !== 'string' || opts.path.length === 0)
    throw new ConfigError('path', `expected a file or directory path, got ${JSON.stringify(opts.path)}`);
  const valFraction = requireNumber('valFraction', opts.valFraction ?? 0.1, 0, 0.5);
  const inMemory = requireNumber('inMemoryTokenBytes', opts.inMemoryTokenBytes ?? IN_MEMORY_TOKEN_BYTES, 0);
  if (!existsSync(opts.path))
    throw new AltarError('NOT_FOUND', `openTextCorpus: no such file or directory: ${opts.path}`);
  const isDir = statSync(opts.path).isDirectory();
  const skip = [join(tmpdir(), 'altar-cache'), ...(opts.cacheDir === undefined ? [] : [resolve(opts.cacheDir)])];
  const files = listCorpusFiles(opts.path, skip);
  if (files.length === 0) throw new AltarError('EMPTY_STREAM', `openTextCorpus: directory ${opts.path} has no files`);
  // A char vocabulary built from the corpus needs its code points (pass 1); any other tokenizer fails early.
  const vocabFromCorpus = opts.tokenizerSpec === undefined && opts.tokenizer === 'char';
  let tok = vocabFromCorpus ? undefined : await resolveTokenizer(opts, () => new Set());
  const pass1 = await scan(files, vocabFromCorpus || tok?.kind === 'char');
  if (pass1.bytes === 0) {
    const what = isDir ? `directory ${opts.path} has no text (${files.length} empty files)` : `${opts.path} is empty`;
    throw new AltarError('EMPTY_STREAM', `openTextCorpus: ${what}`);
  }
  tok ??= await resolveTokenizer(opts, () => pass1.codePoints);
  if (tok.kind === 'char' && (tok.tokenizer as CharTokenizer).toJSON().unknownId === undefined) {
    const known = new Set((tok.tokenizer as CharTokenizer).chars.map((c) => c.codePointAt(0)!));
    const missing = [...pass1.codePoints].filter((c) => !known.has(c));
    if (missing.length > 0) {
      const list = missing
        .slice(0, 10)
        .map((c) => JSON.stringify(String.fromCodePoint(c)))
        .join(', ');
      throw new AltarError(
        'UNKNOWN_CHAR',
        `openTextCorpus: ${opts.path} has ${missing.length} character(s) outside the saved vocabulary of ${tok.tokenizer.vocabSize}: ${list}`,
      );
    }
  }
  const cacheDir = cacheDirFor(opts, isDir);
  const paths = cachePaths(cacheDir, pass1.hash, tok.id);
  const meta =
    readCacheMeta(paths, pass1.hash, tok.id, tok.tokenizer.vocabSize) ??
    (await buildCache(files, tok, paths, pass1, opts.onProgress));
  const name = corpusName(opts);
  if (meta.totalTokens === 0) throw new AltarError('EMPTY_STREAM', `openTextCorpus: ${opts.path} yields no tokens`);
  const store = openTokenFile(paths.tokens, meta.totalTokens, meta.bytesPerToken, name, inMemory);
  try {
    return new StoredTokenCorpus({
      name,
      tokenizer: tok.tokenizer,
      tokenizerKind: tok.kind,
      spec: tok.spec,
      contentHash: pass1.hash,
      valFraction,
      store,
      blocks: meta.blocks,
      tokenCounts: meta.tokenCounts,
    });
  } catch (e) {
    store.close();
    throw e;
  }
}
