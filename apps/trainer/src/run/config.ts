/**
 * The run config of `altar train`: one typed object, validated at the boundary (files, --set) with
 * messages that name the offending key and what was expected (nanoGPT's configurator rejects unknown
 * keys the same way). Sections: family, data, model, diffusion, train, checkpoint, eval.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BACKEND_CHOICES, ConfigError, type BackendChoice } from '@altar/backend';
import { resolveHmmConfig, type HmmConfig } from '@altar/data';
import { validateModelConfig, type ModelConfig } from '@altar/models';
import { resolveTrainConfig, type TrainConfig } from '@altar/train';
import { UsageError } from '../io.js';

export const FAMILIES = ['ar', 'ssm', 'masked-diffusion', 'd3pm', 'gaussian'] as const;
export type Family = (typeof FAMILIES)[number];
export const SOURCES = ['hmm', 'gmm', 'images'] as const;
export type SourceKind = (typeof SOURCES)[number];

export interface DataConfig {
  /** 'hmm' (tokens, exact likelihood), 'gmm' (vectors, exact density), 'images' (procedural glyphs). */
  source: SourceKind;
  /** HMM settings over defaultHmmConfig (@altar/data). */
  hmm: Partial<HmmConfig>;
  /** Gaussian-mixture preset name and dimension. */
  gmm: { preset: string; dim: number };
  /** Procedural images: side and channels. */
  images: { size: number; channels: number };
  /** Training batch size (sequences / vectors / images per micro-batch). */
  batchSize: number;
}

export interface DiffusionConfig {
  /**
   * Token families: 'masked' (continuous-time MDLM), 'absorbing' / 'uniform' (D3PM).
   * Gaussian: 'vp-linear', 'vp-cosine', 've', 'flow'.
   */
  process: string;
  /** Noise schedule: masked 'log-linear' | 'linear' | 'cosine'; D3PM 'linear' | 'cosine' | 'jsd'. */
  schedule: string;
  /** Discrete steps for D3PM and discrete-time Gaussian processes (ignored by 'masked'). */
  T: number;
  /** How one-term training draws t: 'uniform', 'stratified' (low variance, unbiased), 'antithetic', 'importance'. */
  timesteps: string;
}

export interface RunConfig {
  /** A label for reports. */
  name: string;
  family: Family;
  /** Backend when --backend is not given. */
  backend: BackendChoice;
  data: DataConfig;
  /** @altar/models config (vocabSize/maxLen are filled from the data source when omitted). */
  model: Record<string, unknown>;
  diffusion: DiffusionConfig;
  train: TrainConfig;
  checkpoint: {
    /** Save every K steps (0: only at eval-best, interrupt and the end). */
    every: number;
    /** Step directories kept (the best is kept too). */
    keepLast: number;
  };
  eval: {
    /** Held-out batches per evaluation (the same every time). */
    batches: number;
    batchSize: number;
    /** Samples dumped to DIR/samples/step-N.txt at each eval (0: none). */
    samples: number;
    /** Diffusion steps for the dumped samples. */
    sampleSteps: number;
  };
}

/** Defaults per family. Every default is small enough for a laptop CPU; see configs/ for tuned presets. */
export function defaultRunConfig(family: Family): RunConfig {
  const tokens = family !== 'gaussian';
  const modelType = family === 'ar' ? 'ar-transformer' : family === 'ssm' ? 'ssm-lm' : tokens ? 'diffusion-transformer' : 'mlp-denoiser';
  return {
    name: family,
    family,
    backend: 'auto',
    data: { source: tokens ? 'hmm' : 'gmm', hmm: {}, gmm: { preset: 'rings', dim: 2 }, images: { size: 16, channels: 1 }, batchSize: 32 },
    model: { type: modelType, ...(tokens ? { dModel: 64, nLayers: 2, ...(family === 'ssm' ? {} : { nHeads: 4 }) } : {}) },
    diffusion: {
      process: family === 'masked-diffusion' ? 'masked' : family === 'd3pm' ? 'absorbing' : family === 'gaussian' ? 'vp-cosine' : 'none',
      schedule: family === 'masked-diffusion' ? 'log-linear' : family === 'd3pm' ? 'jsd' : 'cosine',
      T: family === 'd3pm' ? 64 : 1000,
      timesteps: 'stratified',
    },
    train: resolveTrainConfig({ steps: 1000, lr: 3e-3, warmupSteps: 50, emaDecay: 0.99, evalEvery: 200, seed: 0 }),
    checkpoint: { every: 500, keepLast: 2 },
    eval: { batches: 4, batchSize: 64, samples: 4, sampleSteps: 32 },
  };
}

const SECTION_KEYS: Record<string, readonly string[]> = {
  '': ['name', 'family', 'backend', 'data', 'model', 'diffusion', 'train', 'checkpoint', 'eval'],
  data: ['source', 'hmm', 'gmm', 'images', 'batchSize'],
  'data.gmm': ['preset', 'dim'],
  'data.images': ['size', 'channels'],
  diffusion: ['process', 'schedule', 'T', 'timesteps'],
  checkpoint: ['every', 'keepLast'],
  eval: ['batches', 'batchSize', 'samples', 'sampleSteps'],
  train: Object.keys(resolveTrainConfig({})),
};

const PROCESSES: Record<Family, readonly string[]> = {
  ar: ['none'],
  ssm: ['none'],
  'masked-diffusion': ['masked'],
  d3pm: ['absorbing', 'uniform'],
  gaussian: ['vp-linear', 'vp-cosine', 've', 'flow'],
};
const SCHEDULES: Record<string, readonly string[]> = {
  masked: ['log-linear', 'linear', 'cosine'],
  absorbing: ['linear', 'cosine', 'jsd'],
  uniform: ['linear', 'cosine', 'jsd'],
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const describe = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? 'an array' : v === null ? 'null' : isObj(v) ? 'an object' : String(v));

function rejectUnknown(obj: Record<string, unknown>, path: string): void {
  const allowed = SECTION_KEYS[path]!;
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(path ? `${path}.${k}` : k, `unknown key; expected one of: ${allowed.join(', ')}`);
    }
  }
}

function section(input: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const v = input[key];
  if (v === undefined) return {};
  if (!isObj(v)) throw new ConfigError(path, `expected an object, got ${describe(v)}`);
  rejectUnknown(v, path);
  return v;
}

function want<T>(v: unknown, path: string, check: (x: unknown) => boolean, what: string, fallback: T): T {
  if (v === undefined) return fallback;
  if (!check(v)) throw new ConfigError(path, `expected ${what}, got ${describe(v)}`);
  return v as T;
}
const isInt = (min: number) => (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= min;
const isStr = (x: unknown) => typeof x === 'string';
const oneOf = (xs: readonly string[]) => (x: unknown) => typeof x === 'string' && xs.includes(x);

/** Rethrow a package's ConfigError with our path prefix. */
function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) {
      const msg = e.path && e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message;
      const p = e.path.startsWith(prefix) ? e.path : `${prefix}.${e.path.replace(/^hmm\./, '')}`;
      throw new ConfigError(p, msg);
    }
    throw e;
  }
}

/** Validate a parsed config object and fill defaults. Throws ConfigError naming the key. */
export function validateRunConfig(input: unknown): RunConfig {
  if (!isObj(input)) throw new ConfigError('', `the config must be an object, got ${describe(input)}`);
  rejectUnknown(input, '');
  const family = input['family'];
  if (!oneOf(FAMILIES)(family)) throw new ConfigError('family', `expected one of ${FAMILIES.join(', ')}, got ${describe(family)}`);
  const d = defaultRunConfig(family as Family);
  const c: RunConfig = structuredClone(d);
  c.name = want(input['name'], 'name', isStr, 'a string', d.name);
  c.backend = want(input['backend'], 'backend', oneOf(BACKEND_CHOICES), `one of ${BACKEND_CHOICES.join(', ')}`, d.backend);

  const data = section(input, 'data', 'data');
  const tokenFamily = c.family !== 'gaussian';
  const allowedSources: readonly SourceKind[] = tokenFamily ? ['hmm'] : ['gmm', 'images'];
  c.data.source = want(data['source'], 'data.source', oneOf(allowedSources), `one of ${allowedSources.join(', ')} for family '${c.family}'`, d.data.source);
  if (data['hmm'] !== undefined) {
    if (!isObj(data['hmm'])) throw new ConfigError('data.hmm', `expected an object, got ${describe(data['hmm'])}`);
    c.data.hmm = data['hmm'] as Partial<HmmConfig>;
    prefixed('data.hmm', () => resolveHmmConfig(c.data.hmm));
  }
  const gmm = section(data, 'gmm', 'data.gmm');
  c.data.gmm.preset = want(gmm['preset'], 'data.gmm.preset', isStr, 'a preset name', d.data.gmm.preset);
  c.data.gmm.dim = want(gmm['dim'], 'data.gmm.dim', isInt(1), 'an integer ≥ 1', d.data.gmm.dim);
  const img = section(data, 'images', 'data.images');
  c.data.images.size = want(img['size'], 'data.images.size', (x) => x === 16 || x === 32, '16 or 32', d.data.images.size);
  c.data.images.channels = want(img['channels'], 'data.images.channels', (x) => x === 1 || x === 3, '1 or 3', d.data.images.channels);
  c.data.batchSize = want(data['batchSize'], 'data.batchSize', isInt(1), 'an integer ≥ 1', d.data.batchSize);

  if (input['model'] !== undefined) {
    if (!isObj(input['model'])) throw new ConfigError('model', `expected an object, got ${describe(input['model'])}`);
    c.model = { ...(input['model']['type'] === undefined || input['model']['type'] === d.model['type'] ? d.model : {}), ...input['model'] };
  }
  // Validate the model section now (with placeholder sizes filled from the source later).
  const placeholder = c.model['type'] === 'ar-transformer' || c.model['type'] === 'diffusion-transformer' ? { vocabSize: 2, maxLen: 2 } : c.model['type'] === 'ssm-lm' ? { vocabSize: 2 } : {};
  prefixed('model', () => validateModelConfig({ ...placeholder, ...c.model }, 'model'));

  const diff = section(input, 'diffusion', 'diffusion');
  const procs = PROCESSES[c.family];
  c.diffusion.process = want(diff['process'], 'diffusion.process', oneOf(procs), `one of ${procs.join(', ')} for family '${c.family}'`, d.diffusion.process);
  const sch = SCHEDULES[c.diffusion.process];
  if (sch) c.diffusion.schedule = want(diff['schedule'], 'diffusion.schedule', oneOf(sch), `one of ${sch.join(', ')} for process '${c.diffusion.process}'`, sch.includes(d.diffusion.schedule) ? d.diffusion.schedule : sch[0]!);
  else c.diffusion.schedule = want(diff['schedule'], 'diffusion.schedule', isStr, 'a schedule name', d.diffusion.schedule);
  c.diffusion.T = want(diff['T'], 'diffusion.T', isInt(1), 'an integer ≥ 1', d.diffusion.T);
  c.diffusion.timesteps = want(diff['timesteps'], 'diffusion.timesteps', oneOf(['uniform', 'stratified', 'antithetic', 'importance']), "one of uniform, stratified, antithetic, importance", d.diffusion.timesteps);

  const train = section(input, 'train', 'train');
  const tin: Record<string, unknown> = { ...d.train, ...train };
  for (const [k, v] of Object.entries(train)) {
    const def = (d.train as unknown as Record<string, unknown>)[k];
    if (typeof def !== typeof v) throw new ConfigError(`train.${k}`, `expected ${typeof def === 'number' ? 'a number' : `a ${typeof def}`}, got ${describe(v)}`);
  }
  c.train = resolveTrainConfig(tin as Partial<TrainConfig>, 'train');

  const ck = section(input, 'checkpoint', 'checkpoint');
  c.checkpoint.every = want(ck['every'], 'checkpoint.every', isInt(0), 'an integer ≥ 0', d.checkpoint.every);
  c.checkpoint.keepLast = want(ck['keepLast'], 'checkpoint.keepLast', isInt(1), 'an integer ≥ 1', d.checkpoint.keepLast);
  const ev = section(input, 'eval', 'eval');
  c.eval.batches = want(ev['batches'], 'eval.batches', isInt(1), 'an integer ≥ 1', d.eval.batches);
  c.eval.batchSize = want(ev['batchSize'], 'eval.batchSize', isInt(1), 'an integer ≥ 1', d.eval.batchSize);
  c.eval.samples = want(ev['samples'], 'eval.samples', isInt(0), 'an integer ≥ 0', d.eval.samples);
  c.eval.sampleSteps = want(ev['sampleSteps'], 'eval.sampleSteps', isInt(1), 'an integer ≥ 1', d.eval.sampleSteps);
  return c;
}

/** Fill the model's data-dependent sizes and validate it fully. */
export function resolveModelConfig(c: RunConfig, vocabSize: number, seqLen: number): ModelConfig {
  const m: Record<string, unknown> = { ...c.model };
  const type = m['type'];
  if (type === 'ar-transformer' || type === 'ssm-lm') m['vocabSize'] ??= vocabSize + 1; // + BOS (id = vocabSize)
  if (type === 'diffusion-transformer') m['vocabSize'] ??= vocabSize;
  if (type === 'ar-transformer' || type === 'diffusion-transformer') m['maxLen'] ??= seqLen;
  m['seed'] ??= c.train.seed;
  return prefixed('model', () => validateModelConfig(m, 'model'));
}

/** Parse `key.path=value` (value: JSON if it parses, else a string) into the config object. */
export function applySet(obj: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set: expected key.path=value, got '${assignment}'`);
  const path = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const keys = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    if (cur[k] === undefined) cur[k] = {};
    const next = cur[k];
    if (!isObj(next)) throw new UsageError(`--set ${path}: '${keys.slice(0, i + 1).join('.')}' is not an object`);
    cur = next;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** Read a .json / .yaml / .yml config file; parse errors name the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const ext = extname(file).toLowerCase();
  let v: unknown;
  try {
    v = ext === '.yaml' || ext === '.yml' ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid ${ext === '.yaml' || ext === '.yml' ? 'YAML' : 'JSON'} (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObj(v)) throw new UsageError(`${file}: the config must be an object at the top level`);
  return v;
}

/** Load, apply --set overrides, validate. ConfigErrors are rethrown as usage errors naming the file. */
export function loadRunConfig(file: string, sets: string[] = []): RunConfig {
  const raw = readConfigFile(file);
  for (const s of sets) applySet(raw, s);
  try {
    return validateRunConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  }
}
