/**
 * The Text view's corpora inside the worker: the built-in Tiny Shakespeare (shipped gzipped by @altar/data
 * and emitted by Vite as a hashed asset, gunzipped here with DecompressionStream) or the visitor's own text
 * (sent by the page from its IndexedDB store), tokenized by @altar/data's InMemoryTokenCorpus; and the
 * rendering of token rows as text, masked positions as '█'.
 */
import { AltarError } from '@altar/backend';
import { InMemoryTokenCorpus, type TokenCorpus, type Tokenizer } from '@altar/data';
import shakespeareGz from '../../../../packages/data/corpora/tinyshakespeare.txt.gz?url';
import type { TextCorpusInfo, TextCorpusReq } from '../protocol.js';

/** Characters shown for a position the sampler has not written yet (masked, or not generated). */
export const MASK_GLYPH = '█';
/** The held-out tail of every corpus (nanoGPT's 10 %). */
export const TEXT_VAL_FRACTION = 0.1;

/** Gunzip when the bytes are gzip (magic 1f 8b); a server that already decoded them (Content-Encoding) sends text. */
export async function gunzipText(bytes: Uint8Array): Promise<string> {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }
  return new TextDecoder('utf-8').decode(bytes);
}

async function builtinText(): Promise<string> {
  const res = await fetch(shakespeareGz);
  if (!res.ok) throw new AltarError('NOT_FOUND', `the built-in corpus (${shakespeareGz}) answered HTTP ${res.status}`);
  return gunzipText(new Uint8Array(await res.arrayBuffer()));
}

/** The config path of a corpus (what an export's run config names): `builtin:shakespeare` or `inline:<name>`. */
export function corpusPath(req: Pick<TextCorpusReq, 'corpus' | 'name'>): string {
  return req.corpus === 'shakespeare' ? 'builtin:shakespeare' : `inline:${req.name || 'my-text'}`;
}

/** FNV-1a over UTF-16 code units, as 8 hex digits (a cache key, not a content hash). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Loaded corpora, one per (corpus, content, tokenizer); the built-in text is fetched once. */
export class TextCorpora {
  private builtin: Promise<string> | null = null;
  private readonly cache = new Map<string, { corpus: TokenCorpus; info: TextCorpusInfo }>();

  async load(req: TextCorpusReq): Promise<{ corpus: TokenCorpus; info: TextCorpusInfo }> {
    let text: string;
    if (req.corpus === 'shakespeare') {
      this.builtin ??= builtinText().catch((e: unknown) => {
        this.builtin = null;
        throw e;
      });
      text = await this.builtin;
    } else {
      if (typeof req.text !== 'string' || req.text.length === 0)
        throw new AltarError('BAD_ARG', 'your text is empty: paste or drop some text first');
      text = req.text;
    }
    const name = req.corpus === 'shakespeare' ? 'tinyshakespeare' : req.name || 'my-text';
    // Every request carries the visitor's text: a cheap fingerprint finds it before tokenizing again.
    const key = `${req.corpus}|${name}|${text.length}:${fnv1a(text)}|${req.tokenizer}`;
    const have = this.cache.get(key);
    if (have) return have;
    const corpus = new InMemoryTokenCorpus(text, { name, tokenizer: req.tokenizer, valFraction: TEXT_VAL_FRACTION });
    const chars = corpus.splitChars('train') + corpus.splitChars('val');
    const tokens = corpus.splitTokens('train') + corpus.splitTokens('val');
    const valTokens = corpus.splitTokens('val');
    const charsPerToken = valTokens > 0 ? corpus.splitChars('val') / valTokens : 1;
    const unigram = corpus.unigramEntropyBits();
    const info: TextCorpusInfo = {
      key,
      corpus: req.corpus,
      path: corpusPath({ corpus: req.corpus, name }),
      name,
      tokenizer: req.tokenizer,
      chars,
      tokens,
      vocabSize: corpus.vocabSize,
      contentHash: corpus.contentHash,
      charsPerToken,
      unigramBitsPerToken: unigram,
      unigramBitsPerChar: unigram / charsPerToken,
      preview: text.slice(0, 400),
    };
    // Keep the latest few (a corpus of 8 MB holds its tokens in memory); a model still training on an
    // evicted one keeps its own reference.
    if (this.cache.size >= 3) this.cache.delete(this.cache.keys().next().value!);
    const entry = { corpus, info };
    this.cache.set(key, entry);
    return entry;
  }
}

/**
 * A row of token ids as text: runs of written tokens decode together (so a byte tokenizer's multi-byte
 * characters come out whole), every unwritten position (id < 0 or ≥ V) shows as {@link MASK_GLYPH}.
 */
export function renderRow(ids: ArrayLike<number>, tokenizer: Tokenizer): string {
  const V = tokenizer.vocabSize;
  let out = '';
  let run: number[] = [];
  const flush = (): void => {
    if (run.length) out += tokenizer.decode(run);
    run = [];
  };
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    if (t >= 0 && t < V) run.push(t);
    else {
      flush();
      out += MASK_GLYPH;
    }
  }
  flush();
  return out;
}
