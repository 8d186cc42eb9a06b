/**
 * Sweep files (`altar sweep SWEEP.yaml`): a base run config, dotted overrides, a grid and seeds, expanded into
 * one validated run config per point. Each point has a stable id (a hash of its validated config), so
 * re-enqueueing a sweep names the same jobs and finished points are not run again.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, extname, resolve } from 'node:path';
import { ConfigError } from '@altar/backend';
import { FORBIDDEN_KEYS, parseRunConfig, type RunConfig } from '@altar/recipes';
import { UsageError } from '../io.js';
import { readConfigFile, validateAt } from '../run/config.js';

/** The four keys of a sweep file. */
const SWEEP_KEYS = ['base', 'set', 'grid', 'seeds'] as const;

/**
 * One grid point of a sweep: its grid values and seed, and the run config they produce.
 *
 * @example
 * ```ts
 * const p: SweepPoint = loadSweep('sweeps/ar-size.yaml').points[0]!;
 * p.label; // "model.dModel=32 seed=0"
 * ```
 */
export interface SweepPoint {
  /** Stable id: 16 hex digits of sha256 over the validated config as canonical JSON (the BullMQ job id). */
  id: string;
  /** Grid key → value for this point, in the grid's order. */
  assignments: Record<string, unknown>;
  /** The point's `train.seed` from `seeds:`, or null when the sweep has no seeds. */
  seed: number | null;
  /** `model.dModel=32 train.lr=0.001 seed=0`: the grid values and seed (empty grid, no seeds: `base`). */
  label: string;
  /** Run directory name under the sweep's output root: `dModel-32_lr-0.001_seed-0_<first 8 of id>`. */
  dirName: string;
  config: RunConfig;
}

/**
 * A parsed, validated sweep file.
 *
 * @example
 * ```ts
 * const s: Sweep = loadSweep('sweeps/ar-size.yaml');
 * s.points.length; // grid size × seeds
 * ```
 */
export interface Sweep {
  /** The sweep file as given. */
  file: string;
  /** The file's base name without extension. */
  name: string;
  /** The base config path, resolved against the sweep file's directory. */
  base: string;
  gridKeys: string[];
  points: SweepPoint[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as written in a message: strings quoted, numbers (NaN, Infinity) bare, the rest as JSON. */
function shown(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'a list' : JSON.stringify(v);
}

/** A value in a label: primitives as themselves, objects as compact JSON. */
const labelValue = (v: unknown): string => (isObj(v) || Array.isArray(v) ? JSON.stringify(v) : String(v));

/**
 * Canonical JSON: object keys sorted at every depth, so equal configs hash equally whatever their key order.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }); // '{"a":[{"c":3,"d":2}],"b":1}'
 * ```
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * The stable id of a run config: 16 hex digits of sha256 over its canonical JSON.
 *
 * @example
 * ```ts
 * pointId(parseRunConfig({ family: 'ar' })) === pointId(parseRunConfig({ family: 'ar' })); // true
 * ```
 */
export function pointId(config: RunConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

function checkPath(where: string, path: string): string[] {
  const keys = path.split('.');
  const bad = keys.find((k) => k === '' || FORBIDDEN_KEYS.includes(k));
  if (bad !== undefined)
    throw new UsageError(`${where}: ${bad === '' ? 'empty key in the path' : `'${bad}' is not a config key`}`);
  return keys;
}

/** Set `obj[a][b]…` for the dotted path `a.b…`, creating objects on the way; `where` prefixes errors. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown, where: string): void {
  const keys = checkPath(where, path);
  let cur = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    if (!Object.hasOwn(cur, k)) cur[k] = {};
    const next = cur[k];
    if (!isObj(next))
      throw new UsageError(`${where}: '${keys.slice(0, i + 1).join('.')}' is ${shown(next)}, not an object`);
    cur = next;
  }
  cur[keys[keys.length - 1]!] = structuredClone(value);
}

/** The cartesian product of the grid's value lists, first key slowest. */
function product(lists: unknown[][]): unknown[][] {
  return lists.reduce<unknown[][]>((acc, list) => acc.flatMap((row) => list.map((v) => [...row, v])), [[]]);
}

const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40);

/**
 * Read a sweep file (YAML or JSON) and expand it into validated points.
 *
 * ```yaml
 * base: ../configs/ar-transformer.json   # relative to this file
 * set: { train.steps: 300 }              # dotted overrides for every point
 * grid: { model.dModel: [32, 64] }       # dotted key → values; the points are the cartesian product
 * seeds: [0, 1]                          # each point once per seed (sets train.seed)
 * ```
 * Errors are UsageErrors naming the file and the key path: a malformed file, an unknown sweep key, a grid
 * key the config schema does not have, a value the schema rejects (the same messages as `altar train`).
 *
 * @example
 * ```ts
 * const sweep = loadSweep('sweeps/ar-size.yaml');
 * sweep.points.map((p) => p.label); // ['model.dModel=32 seed=0', 'model.dModel=32 seed=1', …]
 * ```
 */
export function loadSweep(file: string): Sweep {
  const spec = readConfigFile(file);
  for (const k of Object.keys(spec))
    if (!SWEEP_KEYS.some((s) => s === k))
      throw new UsageError(`${file}: ${k}: unknown key; expected one of: ${SWEEP_KEYS.join(', ')}`);
  const baseRel = spec['base'];
  if (typeof baseRel !== 'string' || baseRel === '')
    throw new UsageError(`${file}: base: expected the path of a run config file, got ${shown(baseRel)}`);
  const set = spec['set'] ?? {};
  if (!isObj(set)) throw new UsageError(`${file}: set: expected a map of dotted key → value, got ${shown(set)}`);
  const grid = spec['grid'] ?? {};
  if (!isObj(grid)) throw new UsageError(`${file}: grid: expected a map of dotted key → list, got ${shown(grid)}`);
  const gridKeys = Object.keys(grid);
  const lists: unknown[][] = gridKeys.map((k) => {
    const v = grid[k];
    checkPath(`${file}: grid.${k}`, k);
    if (!Array.isArray(v) || v.length === 0)
      throw new UsageError(`${file}: grid.${k}: expected a non-empty list of values, got ${shown(v)}`);
    return v;
  });
  const seedsRaw = spec['seeds'];
  let seeds: (number | null)[] = [null];
  if (seedsRaw !== undefined) {
    if (!Array.isArray(seedsRaw) || seedsRaw.length === 0)
      throw new UsageError(`${file}: seeds: expected a non-empty list of integers, got ${shown(seedsRaw)}`);
    seeds = seedsRaw.map((s, i) => {
      if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0)
        throw new UsageError(`${file}: seeds[${i}]: expected a non-negative integer, got ${shown(s)}`);
      return s;
    });
    if (gridKeys.includes('train.seed'))
      throw new UsageError(`${file}: grid.train.seed: use seeds: for the seed, not both`);
  }
  const base = resolve(dirname(file), baseRel);
  const baseRaw = readConfigFile(base);
  validateAt(base, baseRaw);
  for (const [k, v] of Object.entries(set)) setPath(baseRaw, k, v, `${file}: set.${k}`);
  validateAt(`${file}: set`, baseRaw);

  const points: SweepPoint[] = [];
  const seen = new Map<string, string>();
  for (const values of product(lists)) {
    for (const seed of seeds) {
      const raw = structuredClone(baseRaw);
      const assignments: Record<string, unknown> = {};
      gridKeys.forEach((k, i) => {
        assignments[k] = values[i];
        setPath(raw, k, values[i], `${file}: grid.${k}`);
      });
      if (seed !== null) setPath(raw, 'train.seed', seed, `${file}: seeds`);
      const parts = [
        ...gridKeys.map((k) => `${k}=${labelValue(assignments[k])}`),
        ...(seed !== null ? [`seed=${seed}`] : []),
      ];
      const label = parts.length ? parts.join(' ') : 'base';
      let config: RunConfig;
      try {
        config = parseRunConfig(raw);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        const at = e.path;
        const key = gridKeys.find((k) => at === k || at.startsWith(`${k}.`) || k.startsWith(`${at}.`));
        throw new UsageError(`${file}: ${key !== undefined ? `grid.${key}` : 'grid'} (point ${label}): ${e.message}`);
      }
      const id = pointId(config);
      const dup = seen.get(id);
      if (dup !== undefined) throw new UsageError(`${file}: grid: points '${dup}' and '${label}' give the same config`);
      seen.set(id, label);
      const short = [
        ...gridKeys.map((k) => `${k.split('.').pop()}-${labelValue(assignments[k])}`),
        ...(seed !== null ? [`seed-${seed}`] : []),
      ]
        .map(slug)
        .join('_');
      points.push({ id, assignments, seed, label, dirName: `${short ? short + '_' : ''}${id.slice(0, 8)}`, config });
    }
  }
  return { file, name: basename(file, extname(file)), base, gridKeys, points };
}
