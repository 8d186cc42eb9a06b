/**
 * Prompts and infilling templates over a tokenizer: what `altar sample --prompt/--infill` and the
 * playground's infill box turn into the given tokens a sampler keeps.
 *
 * Gap syntax: every `_` in a template is one token to generate (a character with the char tokenizer, a
 * byte with the byte tokenizer); write `\_` for a literal underscore and `\\` for a backslash. Text
 * between gaps is given and kept exactly. Positions after the template's end, up to the sequence length,
 * are generated too: a template that ends with given text and fills the window pins both ends.
 */
import { AltarError } from '@altar/backend';
import type { Tokenizer } from '@altar/data';
import type { GivenTokens } from './runtime.js';

/** A template cut into given text and gaps (lengths in tokens). */
type Part = { text: string } | { gap: number };

function splitTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let text = '';
  let gap = 0;
  const flushText = () => {
    if (text) parts.push({ text });
    text = '';
  };
  const flushGap = () => {
    if (gap) parts.push({ gap });
    gap = 0;
  };
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '\\' && (template[i + 1] === '_' || template[i + 1] === '\\')) {
      flushGap();
      text += template[++i]!;
    } else if (c === '_') {
      flushText();
      gap++;
    } else {
      flushGap();
      text += c;
    }
  }
  flushText();
  flushGap();
  return parts;
}

/**
 * Turn an infilling template (`_` = one token to generate) into given tokens for `n` identical rows of
 * `seqLen` tokens. Throws when the template is longer than the window or has no gap and no room after it.
 *
 * @example
 * ```ts
 * const tok = CharTokenizer.fromText('To be, or not to be');
 * const g = parseInfill('To be, or ___ to be', tok, 19);
 * Array.from(g.keep).join(''); // '1111111111000111111'
 * ```
 */
export function parseInfill(template: string, tokenizer: Tokenizer, seqLen: number, n = 1): GivenTokens {
  if (typeof template !== 'string' || template.length === 0)
    throw new AltarError('BAD_ARG', `infill: expected a non-empty template, got ${JSON.stringify(template)}`);
  const ids: number[] = [];
  const keep: number[] = [];
  for (const p of splitTemplate(template)) {
    if ('gap' in p) {
      for (let i = 0; i < p.gap; i++) {
        ids.push(0);
        keep.push(0);
      }
    } else {
      let enc: Int32Array;
      try {
        enc = tokenizer.encode(p.text);
      } catch (e) {
        throw new AltarError(
          'UNKNOWN_CHAR',
          `infill: the text ${JSON.stringify(p.text)} cannot be tokenized: ${(e as Error).message}`,
        );
      }
      for (const t of enc) {
        ids.push(t);
        keep.push(1);
      }
    }
  }
  if (ids.length > seqLen)
    throw new AltarError(
      'SEQ_TOO_LONG',
      `infill: the template is ${ids.length} tokens, longer than the model's window of ${seqLen}`,
    );
  if (ids.length === seqLen && keep.every((k) => k === 1))
    throw new AltarError('BAD_ARG', 'infill: the template has no gap (`_`) and fills the window: nothing to generate');
  const row = new Int32Array(seqLen);
  const rowKeep = new Uint8Array(seqLen);
  row.set(ids);
  rowKeep.set(keep);
  return repeatRows({ tokens: row, keep: rowKeep }, n);
}

/**
 * A prompt: the given text as a prefix of `n` rows of `seqLen` tokens (the rest generated).
 *
 * @example
 * ```ts
 * const g = promptTokens('ROMEO:', corpus.tokenizer, 64, 4);
 * await rt.sample(rng, { sampler: 'ar', n: 4, given: g });
 * ```
 */
export function promptTokens(prompt: string, tokenizer: Tokenizer, seqLen: number, n = 1): GivenTokens {
  if (typeof prompt !== 'string' || prompt.length === 0)
    throw new AltarError('BAD_ARG', `prompt: expected a non-empty string, got ${JSON.stringify(prompt)}`);
  let ids: Int32Array;
  try {
    ids = tokenizer.encode(prompt);
  } catch (e) {
    throw new AltarError(
      'UNKNOWN_CHAR',
      `prompt: ${JSON.stringify(prompt)} cannot be tokenized: ${(e as Error).message}`,
    );
  }
  if (ids.length >= seqLen)
    throw new AltarError(
      'SEQ_TOO_LONG',
      `prompt: ${ids.length} tokens leave nothing to generate in the model's window of ${seqLen}`,
    );
  const row = new Int32Array(seqLen);
  const keep = new Uint8Array(seqLen);
  row.set(ids);
  keep.fill(1, 0, ids.length);
  return repeatRows({ tokens: row, keep }, n);
}

function repeatRows(g: GivenTokens, n: number): GivenTokens {
  if (!Number.isInteger(n) || n < 1) throw new AltarError('BAD_ARG', `expected n ≥ 1 rows, got ${n}`);
  const N = g.tokens.length;
  const tokens = new Int32Array(n * N);
  const keep = new Uint8Array(n * N);
  for (let b = 0; b < n; b++) {
    tokens.set(g.tokens, b * N);
    keep.set(g.keep, b * N);
  }
  return { tokens, keep };
}

/**
 * Whether every given token survived in the samples (the infilling contract), and the first violation.
 *
 * @example
 * ```ts
 * keptExactly(given, out.tokens as Int32Array); // { ok: true }
 * ```
 */
export function keptExactly(given: GivenTokens, samples: Int32Array): { ok: true } | { ok: false; index: number } {
  for (let i = 0; i < given.keep.length; i++)
    if (given.keep[i] && samples[i] !== given.tokens[i]) return { ok: false, index: i };
  return { ok: true };
}
