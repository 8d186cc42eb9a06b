/**
 * The run-config fuzzer: seeded mutations of config files (the shipped JSON and YAML configs) fed through
 * the format's parser and {@link parseRunConfig}. The contract it checks: every mutant that parses as
 * JSON/YAML is either a valid config (and that config, saved as JSON and read back with `parseSavedRunConfig` as a checkpoint
 * is, gives the same config) or a
 * `ConfigError` (code BAD_CONFIG) whose message starts with the key path it names; nothing else is thrown,
 * no message says "got null" for a value that is not null, and no case is slow. Text that no longer parses
 * as JSON/YAML is the file loader's error (the CLI names the file) and is counted apart. Used by
 * config-fuzz.test.ts and by `pnpm fuzz`; not part of the package's API.
 *
 * Mutation kinds (text-level ones edit the file's text, value-level ones the parsed object):
 *  1. `delete-char`     remove one character of the text
 *  2. `insert-char`     insert a structural or odd character (`{ } [ ] : , " ' # - \ NUL`, a tab, a newline)
 *  3. `truncate`        cut the text at a random point
 *  4. `number-token`    replace a number in the text by 1e400, -1e400, .nan, .inf, NaN, -0, 1e12, 0x10, 1_000, 2^53 + 1
 *  5. `duplicate-line`  repeat a line (a duplicate key: YAML refuses it, JSON keeps the last)
 *  6. `replace-leaf`    a value replaced by another type or an edge value (NaN, ±Infinity, -1, 0, 1e300,
 *                       '', a 100,000-char string, null, true, [], {}, a nested array)
 *  7. `delete-key`      a key removed (a default applies, or a required key is missing)
 *  8. `unknown-key`     an extra key at any depth (a typo of a real key, or a new name)
 *  9. `forbidden-key`   `__proto__`, `constructor` or `prototype` as an own key at any depth
 * 10. `family-swap`     another family with the rest of the config unchanged
 * 11. `type-swap`       another `model.type`, `data.source` or `attention`/`positions` string
 * 12. `section-type`    a whole section (`train`, `model`, …) replaced by a number, a string, an array or null
 * 13. `deep-nesting`    a value nested 10,000 arrays or objects deep
 * 14. `stacked`         2–4 of the kinds above in sequence
 *
 * @module
 */
import { ConfigError, Rng } from '@altar/backend';
import { FAMILIES, parseRunConfig } from './schema.js';
import { parseSavedRunConfig } from './saved.js';

/** The 14 mutation kinds of the run-config fuzzer, in the order of the module's list. */
export const CONFIG_MUTATIONS = [
  'delete-char',
  'insert-char',
  'truncate',
  'number-token',
  'duplicate-line',
  'replace-leaf',
  'delete-key',
  'unknown-key',
  'forbidden-key',
  'family-swap',
  'type-swap',
  'section-type',
  'deep-nesting',
  'stacked',
] as const;

/** One of the run-config mutation kinds. */
export type ConfigMutation = (typeof CONFIG_MUTATIONS)[number];

/** A config file to mutate: its text and how to parse it (JSON.parse, or a YAML parser the caller brings). */
export interface ConfigSeed {
  name: string;
  text: string;
  parse: (text: string) => unknown;
}

/** A contract violation found by {@link fuzzRunConfigs}. */
export interface ConfigFuzzFailure {
  index: number;
  seed: string;
  kind: ConfigMutation;
  what: 'crash' | 'wrong' | 'hang';
  message: string;
}

/** What a config fuzz run found; `failures` keeps the first 20. */
export interface ConfigFuzzReport {
  tried: number;
  /** Text mutants that are no longer JSON/YAML (the loader's error, not the schema's). */
  unparseable: number;
  /** ConfigErrors naming a key path. */
  rejected: number;
  /** Valid configs (stable under a second parse). */
  acceptedValid: number;
  crashes: number;
  wrong: number;
  hangs: number;
  medianMs: number;
  maxBestMs: number;
  byKind: Record<ConfigMutation, { tried: number; rejected: number; accepted: number }>;
  failures: ConfigFuzzFailure[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.nextInt(0, xs.length)] as T;

/** Every [container, key] pair of a tree (iterative: a mutant may be deep). */
function slots(root: unknown): Array<[Obj | unknown[], string | number]> {
  const out: Array<[Obj | unknown[], string | number]> = [];
  const todo: unknown[] = [root];
  while (todo.length > 0 && out.length < 10_000) {
    const v = todo.pop();
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), todo.push(x)));
    else if (isObj(v)) for (const k of Object.keys(v)) (out.push([v, k]), todo.push(v[k]));
  }
  return out;
}

function containers(root: unknown): Obj[] {
  return [root, ...slots(root).map(([c, k]) => (c as Obj)[k as string])].filter(isObj);
}

function setOwn(o: Obj, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

function nest(depth: number, objects: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = objects ? { a: v } : [v];
  return v;
}

const EDGE_VALUES: unknown[] = [NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1e300, 2 ** 53 + 2, '', 'fast', '1'];
EDGE_VALUES.push('x'.repeat(100_000), null, true, false, [], {}, [1, [2, [3]]], { nested: { a: 1 } });

const STRINGS: Record<string, string[]> = {
  type: ['ar-transformer', 'diffusion-transformer', 'ssm-lm', 'mlp-denoiser', 'unet', 'gpt', ''],
  source: ['hmm', 'text', 'gmm', 'images', 'none'],
  attention: ['full', 'linear', 'sliding', 'flash'],
  positions: ['rope', 'learned', 'none', 'alibi'],
};

function mutateValue(kind: ConfigMutation, root: Obj, rng: Rng): void {
  const all = slots(root);
  switch (kind) {
    case 'replace-leaf': {
      const [c, k] = all.length > 0 ? pick(rng, all) : [root, 'family'];
      (c as Obj)[k as string] = pick(rng, EDGE_VALUES);
      return;
    }
    case 'delete-key': {
      const objs = all.filter(([c]) => isObj(c));
      if (objs.length === 0) return;
      const [c, k] = pick(rng, objs);
      delete (c as Obj)[k as string];
      return;
    }
    case 'unknown-key': {
      const target = pick(rng, containers(root));
      const keys = Object.keys(target);
      const typo = keys.length > 0 ? `${pick(rng, keys)}s` : 'extra';
      target[pick(rng, [typo, 'extra', 'Steps', 'lR', ''])] = pick(rng, EDGE_VALUES.slice(0, 12));
      return;
    }
    case 'forbidden-key':
      setOwn(pick(rng, containers(root)), pick(rng, ['__proto__', 'constructor', 'prototype']), { polluted: 1 });
      return;
    case 'family-swap':
      root['family'] = pick(rng, [...FAMILIES, 'gpt', 7, null]);
      return;
    case 'type-swap': {
      const named = all.filter(([c, k]) => isObj(c) && typeof k === 'string' && Object.hasOwn(STRINGS, k));
      if (named.length === 0) return;
      const [c, k] = pick(rng, named);
      (c as Obj)[k as string] = pick(rng, STRINGS[k as string] as string[]);
      return;
    }
    case 'section-type': {
      const sections = Object.keys(root).filter((k) => isObj(root[k]));
      if (sections.length === 0) return;
      root[pick(rng, sections)] = pick(rng, [7, 'fast', [], [{}], null, true]);
      return;
    }
    case 'deep-nesting': {
      const [c, k] = all.length > 0 ? pick(rng, all) : [root, 'x'];
      (c as Obj)[k as string] = nest(10_000, rng.nextDouble() < 0.5);
      return;
    }
    default:
      return;
  }
}

function mutateText(kind: ConfigMutation, text: string, rng: Rng): string {
  const at = rng.nextInt(0, text.length + 1);
  switch (kind) {
    case 'delete-char':
      return text.slice(0, at) + text.slice(at + 1);
    case 'insert-char':
      return (
        text.slice(0, at) +
        pick(rng, ['{', '}', '[', ']', ':', ',', '"', "'", '#', '-', '\\', '\0', '\t', '\n']) +
        text.slice(at)
      );
    case 'truncate':
      return text.slice(0, at);
    case 'number-token': {
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
      if (numbers.length === 0) return text;
      const m = pick(rng, numbers);
      const by = pick(rng, [
        '1e400',
        '-1e400',
        '.nan',
        '.inf',
        '-.inf',
        'NaN',
        '-0',
        '1e12',
        '0x10',
        '1_000',
        '9007199254740993',
      ]);
      return text.slice(0, m.index) + by + text.slice(m.index + m[0].length);
    }
    case 'duplicate-line': {
      const lines = text.split('\n');
      const i = rng.nextInt(0, lines.length);
      lines.splice(i, 0, lines[i] as string);
      return lines.join('\n');
    }
    default:
      return text;
  }
}

const TEXT_KINDS: readonly ConfigMutation[] = [
  'delete-char',
  'insert-char',
  'truncate',
  'number-token',
  'duplicate-line',
];

/** One mutant: either text (to parse) or an object (already parsed). */
function mutant(seed: ConfigSeed, kind: ConfigMutation, rng: Rng): { text?: string; value?: unknown } {
  const kinds =
    kind === 'stacked'
      ? Array.from({ length: rng.nextInt(2, 5) }, () => pick(rng, CONFIG_MUTATIONS.slice(0, -1)))
      : [kind];
  let text = seed.text;
  // text-level kinds first (on the file), then value-level ones (on what it parses to)
  for (const k of kinds) if (TEXT_KINDS.includes(k)) text = mutateText(k, text, rng);
  const valueKinds = kinds.filter((k) => !TEXT_KINDS.includes(k));
  if (valueKinds.length === 0) return { text };
  let value: unknown;
  try {
    value = seed.parse(text);
  } catch {
    return { text };
  }
  if (!isObj(value)) return { value };
  for (const k of valueKinds) mutateValue(k, value, rng);
  return { value };
}

/** True when a null occurs anywhere in the tree (iterative). */
function hasNull(root: unknown): boolean {
  const todo = [root];
  for (let n = 0; todo.length > 0 && n < 1_000_000; n++) {
    const v = todo.pop();
    if (v === null) return true;
    if (typeof v === 'object') todo.push(...Object.values(v as Obj));
  }
  return false;
}

/**
 * Run `n` seeded mutants of the seed configs through their parser and {@link parseRunConfig}.
 *
 * @example
 * ```ts
 * const seeds = [{ name: 'ar.json', text: readFileSync('ar.json', 'utf8'), parse: JSON.parse }];
 * const report = fuzzRunConfigs(seeds, { n: 1000, seed: 1 });
 * ```
 */
export function fuzzRunConfigs(
  seeds: ConfigSeed[],
  opts: { n: number; seed?: number; slowMs?: number },
): ConfigFuzzReport {
  const rng = new Rng(opts.seed ?? 1);
  const slowMs = opts.slowMs ?? 50;
  const byKind = Object.fromEntries(CONFIG_MUTATIONS.map((k) => [k, { tried: 0, rejected: 0, accepted: 0 }]));
  const r: ConfigFuzzReport = {
    ...{ tried: 0, unparseable: 0, rejected: 0, acceptedValid: 0, crashes: 0, wrong: 0, hangs: 0 },
    ...{ medianMs: 0, maxBestMs: 0, byKind: byKind as ConfigFuzzReport['byKind'], failures: [] },
  };
  const times: number[] = [];
  for (let index = 0; index < opts.n; index++) {
    const seed = pick(rng, seeds);
    const kind = pick(rng, CONFIG_MUTATIONS);
    const stats = r.byKind[kind];
    const fail = (what: ConfigFuzzFailure['what'], message: string) => {
      r[what === 'crash' ? 'crashes' : what === 'hang' ? 'hangs' : 'wrong']++;
      if (r.failures.length < 20) r.failures.push({ index, seed: seed.name, kind, what, message });
    };
    r.tried++;
    stats.tried++;
    let m: { text?: string; value?: unknown };
    try {
      m = mutant(seed, kind, rng);
    } catch (e) {
      fail('crash', `the mutation engine itself failed: ${String(e)}`); // a bug here, reported, not hidden
      continue;
    }
    let input: unknown;
    if (m.text !== undefined) {
      try {
        input = seed.parse(m.text);
      } catch {
        r.unparseable++;
        continue;
      }
    } else input = m.value;
    const run = (): { ms: number; out?: unknown; error?: unknown } => {
      const t0 = performance.now();
      try {
        const out = parseRunConfig(input);
        return { ms: performance.now() - t0, out };
      } catch (error) {
        return { ms: performance.now() - t0, error };
      }
    };
    const first = run();
    times.push(first.ms);
    let best = first.ms;
    for (let retry = 0; retry < 2 && best > slowMs; retry++) best = Math.min(best, run().ms);
    r.maxBestMs = Math.max(r.maxBestMs, best);
    if (best > slowMs) fail('hang', `parseRunConfig took ${best.toFixed(1)} ms (best of 3)`);
    if ('out' in first) {
      stats.accepted++;
      let again: unknown;
      try {
        again = parseSavedRunConfig(JSON.parse(JSON.stringify(first.out)));
      } catch (e) {
        fail('wrong', `a valid config does not parse again: ${String(e)}`);
        continue;
      }
      if (JSON.stringify(again) !== JSON.stringify(first.out))
        fail('wrong', 'a valid config changes when parsed again');
      else r.acceptedValid++;
    } else if (first.error instanceof ConfigError && first.error.code === 'BAD_CONFIG') {
      const e = first.error;
      const rootLevel = !isObj(input);
      if (!rootLevel && e.path === '') fail('wrong', `ConfigError without a key path: ${e.message}`);
      else if (e.path !== '' && !e.message.startsWith(`${e.path}: `))
        fail('wrong', `message does not start with the path: ${e.message}`);
      else if (/got null\b/.test(e.message) && !hasNull(input))
        fail('wrong', `"got null" for a non-null value: ${e.message}`);
      else {
        r.rejected++;
        stats.rejected++;
      }
    } else fail('crash', String(first.error).slice(0, 300));
  }
  times.sort((a, b) => a - b);
  r.medianMs = times[Math.floor(times.length / 2)] ?? 0;
  return r;
}
