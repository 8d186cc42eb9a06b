/**
 * Tokenizers: byte-level (UTF-8 bytes, V = 256), character-level (a vocabulary of code points), and
 * Hugging Face `tokenizer.json` through the optional dependency `@huggingface/tokenizers` (pure JS,
 * loaded with a dynamic import so the package works without it).
 */
import { AltarError, ConfigError } from '@altar/backend';

/**
 * Text ↔ token ids: byte, character or Hugging Face tokenizers all have this shape.
 *
 * @example
 * ```ts
 * const tok: Tokenizer = new ByteTokenizer();
 * tok.decode(tok.encode('héllo')); // 'héllo'
 * ```
 */
export interface Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

function checkIds(op: string, ids: ArrayLike<number>, V: number): void {
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= V)
      throw new AltarError('BAD_TOKEN', `${op}: id at position ${i} is ${t}, expected an integer in [0, ${V})`);
  }
}

/**
 * UTF-8 bytes as tokens: lossless for any text, V = 256.
 *
 * @example
 * ```ts
 * new ByteTokenizer().encode('hi'); // Int32Array [104, 105]
 * ```
 */
export class ByteTokenizer implements Tokenizer {
  readonly name = 'bytes';
  readonly vocabSize = 256;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder('utf-8', { fatal: false });

  encode(text: string): Int32Array {
    if (typeof text !== 'string')
      throw new AltarError('BAD_ARG', `ByteTokenizer.encode: expected a string, got ${typeof text}`);
    return Int32Array.from(this.enc.encode(text));
  }

  /** Invalid UTF-8 (e.g. a sequence cut mid-character) decodes to U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    checkIds('ByteTokenizer.decode', ids, 256);
    return this.dec.decode(Uint8Array.from(ids as ArrayLike<number>));
  }

  toJSON(): { type: 'bytes' } {
    return { type: 'bytes' };
  }
}

/**
 * Options of {@link CharTokenizer}: the id for characters outside the vocabulary (default: throw).
 *
 * @example
 * ```ts
 * new CharTokenizer(['a', 'b', '?'], { unknownId: 2 }).encode('abc'); // [0, 1, 2]
 * ```
 */
export interface CharTokenizerOptions {
  /** What to do with a character not in the vocabulary: throw (default) or map to this id. */
  unknownId?: number;
}

/**
 * One token per Unicode code point, over a fixed vocabulary (ids in the order given).
 *
 * @example
 * ```ts
 * const tok = CharTokenizer.fromText('hello world');
 * tok.vocabSize;        // 8 distinct characters
 * tok.encode('hold');   // ids in the vocabulary's order
 * ```
 */
export class CharTokenizer implements Tokenizer {
  readonly name = 'chars';
  readonly vocabSize: number;
  readonly chars: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly unknownId: number | undefined;

  constructor(chars: readonly string[], options: CharTokenizerOptions = {}) {
    if (!Array.isArray(chars) || chars.length < 1)
      throw new ConfigError('charTokenizer.chars', 'expected a non-empty array of characters');
    chars.forEach((c, i) => {
      if (typeof c !== 'string' || [...c].length !== 1)
        throw new ConfigError(`charTokenizer.chars[${i}]`, `expected a single character, got ${JSON.stringify(c)}`);
      if (this.index.has(c))
        throw new ConfigError(`charTokenizer.chars[${i}]`, `duplicate character ${JSON.stringify(c)}`);
      this.index.set(c, i);
    });
    this.chars = [...chars];
    this.vocabSize = chars.length;
    if (
      options.unknownId !== undefined &&
      (!Number.isInteger(options.unknownId) || options.unknownId < 0 || options.unknownId >= chars.length)
    ) {
      throw new ConfigError(
        'charTokenizer.unknownId',
        `expected an id in [0, ${chars.length}), got ${options.unknownId}`,
      );
    }
    this.unknownId = options.unknownId;
  }

  /** The sorted set of code points of `text` (plus `extra`). */
  static fromText(text: string, extra = '', options: CharTokenizerOptions = {}): CharTokenizer {
    if (typeof text !== 'string')
      throw new AltarError('BAD_ARG', `CharTokenizer.fromText: expected a string, got ${typeof text}`);
    const set = new Set<string>([...text, ...extra]);
    return new CharTokenizer([...set].sort(), options);
  }

  encode(text: string): Int32Array {
    if (typeof text !== 'string')
      throw new AltarError('BAD_ARG', `CharTokenizer.encode: expected a string, got ${typeof text}`);
    const cps = [...text];
    const out = new Int32Array(cps.length);
    cps.forEach((c, i) => {
      const id = this.index.get(c) ?? this.unknownId;
      if (id === undefined) {
        throw new AltarError(
          'UNKNOWN_CHAR',
          `CharTokenizer.encode: character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at index ${i} is not in the vocabulary`,
        );
      }
      out[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    checkIds('CharTokenizer.decode', ids, this.vocabSize);
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.chars[ids[i]!]!;
    return s;
  }

  toJSON(): { type: 'chars'; chars: string[]; unknownId?: number } {
    return this.unknownId === undefined
      ? { type: 'chars', chars: [...this.chars] }
      : { type: 'chars', chars: [...this.chars], unknownId: this.unknownId };
  }
}

/**
 * Rebuild a byte or char tokenizer from its toJSON() form (HF tokenizers: use loadHfTokenizer).
 *
 * @example
 * ```ts
 * const again = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
 * ```
 */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const j = json as { type?: unknown; chars?: unknown; unknownId?: unknown };
  if (typeof j !== 'object' || j === null) throw new ConfigError('tokenizer', 'expected an object');
  if (j.type === 'bytes') return new ByteTokenizer();
  if (j.type === 'chars') {
    return new CharTokenizer(
      j.chars as string[],
      j.unknownId === undefined ? {} : { unknownId: j.unknownId as number },
    );
  }
  throw new ConfigError(
    'tokenizer.type',
    `unknown tokenizer type ${JSON.stringify(j.type)}; expected "bytes" or "chars"`,
  );
}

/** The slice of @huggingface/tokenizers' Tokenizer that we use (kept structural: the dep is optional). */
interface HfTokenizerLike {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}

/**
 * A Hugging Face tokenizer from the contents of `tokenizer.json` (and optionally
 * `tokenizer_config.json`). Needs the optional dependency `@huggingface/tokenizers`; throws
 * AltarError('MISSING_DEPENDENCY') naming the install command when it is absent.
 * Special tokens are not added on encode (training streams are raw text).
 *
 * @example
 * ```ts
 * const tok = await loadHfTokenizer(await (await fetch('/tokenizer.json')).text());
 * ```
 */
export async function loadHfTokenizer(
  tokenizerJson: string | object,
  tokenizerConfig: string | object = {},
): Promise<Tokenizer> {
  const parse = (v: string | object, what: string): object => {
    if (typeof v === 'string') {
      try {
        return JSON.parse(v) as object;
      } catch (e) {
        throw new ConfigError(what, `invalid JSON: ${(e as Error).message}`);
      }
    }
    if (typeof v !== 'object' || v === null)
      throw new ConfigError(what, `expected a JSON string or an object, got ${typeof v}`);
    return v;
  };
  const tj = parse(tokenizerJson, 'tokenizer.json');
  const tc = parse(tokenizerConfig, 'tokenizer_config.json');
  if (!('model' in tj))
    throw new ConfigError('tokenizer.json', 'has no "model" field; is this a Hugging Face tokenizer.json?');
  let mod: { Tokenizer: new (t: object, c: object) => HfTokenizerLike };
  try {
    mod = (await import('@huggingface/tokenizers')) as unknown as typeof mod;
  } catch (e) {
    throw new AltarError(
      'MISSING_DEPENDENCY',
      `loadHfTokenizer: the optional dependency @huggingface/tokenizers is not installed (${(e as Error).message}); install it with \`pnpm add @huggingface/tokenizers\``,
    );
  }
  let tok: HfTokenizerLike;
  try {
    tok = new mod.Tokenizer(tj, tc);
  } catch (e) {
    throw new ConfigError('tokenizer.json', `@huggingface/tokenizers could not build it: ${(e as Error).message}`);
  }
  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) if (id > maxId) maxId = id;
  const vocabSize = maxId + 1;
  const modelType = (tj as { model?: { type?: string } }).model?.type ?? 'unknown';
  return {
    name: `hf(${modelType})`,
    vocabSize,
    encode(text: string): Int32Array {
      if (typeof text !== 'string')
        throw new AltarError('BAD_ARG', `hf tokenizer encode: expected a string, got ${typeof text}`);
      const enc = tok.encode(text, { add_special_tokens: false }) as { ids: (number | undefined)[]; tokens?: string[] };
      const out = new Int32Array(enc.ids.length);
      enc.ids.forEach((id, i) => {
        if (typeof id !== 'number' || !Number.isInteger(id)) {
          throw new AltarError(
            'UNKNOWN_TOKEN',
            `hf tokenizer encode: piece ${JSON.stringify(enc.tokens?.[i])} at index ${i} has no id (no unk token in the vocabulary?)`,
          );
        }
        out[i] = id;
      });
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      checkIds('hf tokenizer decode', ids, vocabSize);
      return tok.decode(Array.from(ids));
    },
  };
}
