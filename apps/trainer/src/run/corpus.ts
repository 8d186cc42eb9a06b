/**
 * Text corpora for the CLI: open the corpus a run config names (`data.source: 'text'`), with a progress
 * line while it is tokenized the first time, and keep its tokenizer with every checkpoint
 * (`tokenizer.json`), so a char vocabulary built from the corpus is the one the model was trained with.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { AltarError } from '@altar/backend';
import type { TokenCorpus } from '@altar/data';
import { BUILTIN_CORPORA, builtinCorpusPath, openTextCorpus } from '@altar/data/node';
import type { RunConfig, TokenRecipeOptions } from '@altar/recipes';
import { UsageError, type CommandIO } from '../io.js';

/** The checkpoint file that holds the tokenizer of a text run. */
export const TOKENIZER_FILE = 'tokenizer.json';

const BUILTIN = 'builtin:';

/** The file or directory a corpus path names (`builtin:shakespeare` → the copy shipped with @altar/data). */
export function corpusLocation(path: string): string {
  if (path.startsWith(BUILTIN)) {
    const name = path.slice(BUILTIN.length);
    const known = BUILTIN_CORPORA.find((c) => c === name);
    if (!known)
      throw new UsageError(
        `data.text.path: unknown built-in corpus '${name}'; expected one of ${BUILTIN_CORPORA.map((c) => BUILTIN + c).join(', ')}`,
      );
    return builtinCorpusPath(known);
  }
  return resolve(path);
}

/**
 * A copy of the config whose corpus path is absolute (built-ins stay as they are), so the saved config
 * still finds its corpus when `altar eval` runs from another directory.
 */
export function withAbsoluteCorpus(config: RunConfig): RunConfig {
  if (config.family === 'gaussian' || config.data.source !== 'text' || !config.data.text) return config;
  const p = config.data.text.path;
  if (p.startsWith(BUILTIN) || isAbsolute(p)) return config;
  return { ...config, data: { ...config.data, text: { ...config.data.text, path: resolve(p) } } } as RunConfig;
}

/**
 * Open the corpus of a text config (nothing for other configs). `tokenizerSpec`: the tokenizer saved with a
 * checkpoint, which wins over rebuilding it from the corpus.
 */
export async function openRunCorpus(
  config: RunConfig,
  opts: { io?: CommandIO; tokenizerSpec?: unknown } = {},
): Promise<TokenCorpus | undefined> {
  if (config.family === 'gaussian' || config.data.source !== 'text' || !config.data.text) return undefined;
  const t = config.data.text;
  const path = corpusLocation(t.path);
  if (!existsSync(path)) throw new AltarError('NOT_FOUND', `data.text.path: ${t.path}: no such file or directory`);
  let lastPct = -1;
  return openTextCorpus({
    path,
    tokenizer: t.tokenizer,
    valFraction: t.valFraction,
    ...(opts.tokenizerSpec !== undefined ? { tokenizerSpec: opts.tokenizerSpec } : {}),
    onProgress: ({ bytesDone, bytesTotal }) => {
      if (!opts.io || bytesTotal <= 0) return;
      const pct = Math.floor((100 * bytesDone) / bytesTotal);
      if (pct === lastPct || (pct % 10 !== 0 && pct !== 100)) return;
      lastPct = pct;
      opts.io.err(`tokenizing ${t.path}: ${pct}% of ${(bytesTotal / 1e6).toFixed(1)} MB\n`);
    },
  });
}

/** Recipe options for a config: the opened corpus of a text run. */
export async function recipeOptions(
  config: RunConfig,
  opts: { io?: CommandIO; tokenizerSpec?: unknown } = {},
): Promise<TokenRecipeOptions> {
  const corpus = await openRunCorpus(config, opts);
  return corpus ? { corpus } : {};
}

/** The tokenizer spec saved in a checkpoint's files, if any. */
export function savedTokenizerSpec(files: Record<string, Uint8Array>, where: string): unknown {
  const bytes = files[TOKENIZER_FILE];
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new AltarError('BAD_CHECKPOINT', `${where}/${TOKENIZER_FILE}: not valid JSON (${(e as Error).message})`);
  }
}

/** The bytes of a corpus's tokenizer file for a checkpoint. */
export function tokenizerFileBytes(corpus: TokenCorpus): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(corpus.tokenizerSpec()) + '\n');
}
