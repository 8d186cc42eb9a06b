/**
 * All playground state lives in the URL query string, so any view can be shared and reproduced.
 * Parsing is strict: an unknown value falls back to the default and is reported (never silently
 * kept), numbers are clamped to their documented range.
 */

export const VIEWS = ['forward', 'train', 'sample', 'race', 'elbo', 'checkpoint', 'text'] as const;
export type View = (typeof VIEWS)[number];
export const BACKENDS = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;
export const SOURCES = ['hmm', 'rings', 'grid', 'moons', 'shapes'] as const;
export type SourceName = (typeof SOURCES)[number];
export const PROCESSES = ['mask', 'uniform', 'gauss'] as const;
export type ProcessName = (typeof PROCESSES)[number];
/**
 * Families, named as in `altar train` configs: four token families, Gaussian diffusion on 2-D points and
 * Gaussian diffusion on 16×16 images ('gaussian-image': `altar train`'s gaussian family on image data).
 */
export const FAMILIES = ['ar', 'masked-diffusion', 'ssm', 'd3pm', 'gaussian', 'gaussian-image'] as const;
export const TOKEN_FAMILIES = ['ar', 'masked-diffusion', 'ssm', 'd3pm'] as const;
export type Family = (typeof FAMILIES)[number];
export type ContinuousFamily = 'gaussian' | 'gaussian-image';
export function isContinuous(f: Family): f is ContinuousFamily {
  return f === 'gaussian' || f === 'gaussian-image';
}

/**
 * The learning rate and batch a family starts with when it is picked (the URL then holds them, and the
 * visitor can change them): the token models and the 2-D MLP train well at 0.01; a U-Net on wasm needs a
 * smaller batch to step a few times a second, and a smaller lr to stay stable.
 */
export const FAMILY_TRAIN_DEFAULTS: Record<Family, { lr: number; batch: number }> = {
  ar: { lr: 0.01, batch: 32 },
  'masked-diffusion': { lr: 0.01, batch: 32 },
  ssm: { lr: 0.01, batch: 32 },
  d3pm: { lr: 0.01, batch: 32 },
  gaussian: { lr: 0.01, batch: 128 },
  'gaussian-image': { lr: 0.003, batch: 16 },
};
/**
 * The samplers the Sample view offers per family (the first is the default, what 'auto' means):
 * AR / SSM decode with their cache (KV cache, recurrent state) or without (a full forward per token: the
 * cost a cache saves); masked diffusion with or without reusing the output of steps that reveal nothing;
 * D3PM's ancestral sampler; the Gaussian families' DDIM (η = 0), DDPM, probability-flow ODE (Euler, Heun)
 * and reverse SDE (@altar/samplers).
 */
export const SAMPLERS_BY_FAMILY: Record<Family, readonly string[]> = {
  ar: ['cached', 'uncached'],
  ssm: ['cached', 'uncached'],
  'masked-diffusion': ['cached', 'uncached'],
  d3pm: ['ancestral'],
  gaussian: ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde'],
  'gaussian-image': ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde'],
};
export const SAMPLER_NAMES = [
  'auto',
  'cached',
  'uncached',
  'ancestral',
  'ddim',
  'ddpm',
  'ode-euler',
  'ode-heun',
  'sde',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** The sampler a family runs for a requested name: 'auto', or a name the family lacks, gives its default. */
export function samplerFor(f: Family, requested: string): string {
  const list = SAMPLERS_BY_FAMILY[f];
  return list.includes(requested) ? requested : list[0]!;
}

export const SIZES = ['tiny', 'small'] as const;
export type Size = (typeof SIZES)[number];
/** The Text view's corpus: the built-in Tiny Shakespeare, or the visitor's own text (kept in IndexedDB). */
export const CORPORA = ['shakespeare', 'mine'] as const;
export type CorpusName = (typeof CORPORA)[number];
/** The Text view's tokenizer: one token per character (vocabulary from the corpus) or per UTF-8 byte (256). */
export const TOKENIZERS = ['char', 'byte'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];

export interface AppState {
  /** Which view is open. */
  view: View;
  /** Backend request; 'auto' walks webgpu → webgl → wasm → cpu (@altar/backend). */
  backend: (typeof BACKENDS)[number];
  /** Data source: the HMM token source (default: it has a known entropy rate) or a 2-D mixture / images. */
  source: SourceName;
  /** Forward process: absorbing mask (default, what masked diffusion trains on), uniform replacement, Gaussian VP. */
  process: ProcessName;
  /** Forward-process time in [0, 1]. */
  t: number;
  /** Model family trained in the Train view: AR transformer (default: the baseline), masked diffusion, SSM LM, D3PM (uniform), Gaussian diffusion (2-D points). */
  family: Family;
  /** Model size preset: tiny trains in seconds even on wasm. */
  size: Size;
  /** Seed for data, initialisation and sampling. */
  seed: number;
  /** Diffusion sampling steps. */
  T: number;
  /** Sampler for the Sample view ('auto' = the family's default; see SAMPLERS_BY_FAMILY). */
  sampler: SamplerName;
  /** Peak learning rate (Adam, 5 warmup steps, then constant): 0.01 suits these ~20–40k-parameter models; diffusion escapes its marginal-only plateau far sooner than at 3e-3. */
  lr: number;
  /** Training batch size. */
  batch: number;
  /** Text view: the corpus (built-in Shakespeare, or your own text). */
  corpus: CorpusName;
  /** Text view: character or byte tokens. */
  tokenizer: TokenizerName;
}

export const DEFAULTS: AppState = {
  view: 'forward',
  backend: 'auto',
  source: 'hmm',
  process: 'mask',
  t: 0.5,
  family: 'ar',
  size: 'tiny',
  seed: 0,
  T: 16,
  sampler: 'auto',
  lr: 0.01,
  batch: 32,
  corpus: 'shakespeare',
  tokenizer: 'char',
};

function pick<T extends string>(v: string | null, allowed: readonly T[], dflt: T, key: string, warn: string[]): T {
  if (v === null) return dflt;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  warn.push(`${key}='${v}' is not one of ${allowed.join(', ')}; using '${dflt}'`);
  return dflt;
}

function num(v: string | null, dflt: number, lo: number, hi: number, key: string, warn: string[], int = false): number {
  if (v === null) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) {
    warn.push(`${key}='${v}' is not ${int ? 'an integer' : 'a number'}; using ${dflt}`);
    return dflt;
  }
  if (n < lo || n > hi) {
    const c = Math.min(hi, Math.max(lo, n));
    warn.push(`${key}=${n} is outside [${lo}, ${hi}]; using ${c}`);
    return c;
  }
  return n;
}

export function parseState(search: string): { state: AppState; warnings: string[] } {
  const q = new URLSearchParams(search);
  const w: string[] = [];
  const state: AppState = {
    view: pick(q.get('view'), VIEWS, DEFAULTS.view, 'view', w),
    backend: pick(q.get('backend'), BACKENDS, DEFAULTS.backend, 'backend', w),
    source: pick(q.get('source'), SOURCES, DEFAULTS.source, 'source', w),
    process: pick(q.get('process'), PROCESSES, DEFAULTS.process, 'process', w),
    t: num(q.get('t'), DEFAULTS.t, 0, 1, 't', w),
    family: pick(q.get('family'), FAMILIES, DEFAULTS.family, 'family', w),
    size: pick(q.get('size'), SIZES, DEFAULTS.size, 'size', w),
    seed: num(q.get('seed'), DEFAULTS.seed, 0, 2 ** 31 - 1, 'seed', w, true),
    T: num(q.get('T'), DEFAULTS.T, 1, 256, 'T', w, true),
    sampler: pick(q.get('sampler'), SAMPLER_NAMES, DEFAULTS.sampler, 'sampler', w),
    lr: num(q.get('lr'), DEFAULTS.lr, 1e-5, 0.1, 'lr', w),
    batch: num(q.get('batch'), DEFAULTS.batch, 1, 256, 'batch', w, true),
    corpus: pick(q.get('corpus'), CORPORA, DEFAULTS.corpus, 'corpus', w),
    tokenizer: pick(q.get('tokenizer'), TOKENIZERS, DEFAULTS.tokenizer, 'tokenizer', w),
  };
  return { state, warnings: w };
}

/** Only non-default values are written, so URLs stay short; the order is stable. */
export function serializeState(s: AppState): string {
  const q = new URLSearchParams();
  for (const k of Object.keys(DEFAULTS) as Array<keyof AppState>) {
    if (s[k] !== DEFAULTS[k]) q.set(k, String(s[k]));
  }
  const str = q.toString();
  return str ? `?${str}` : '';
}

/** Sources that are token sequences vs continuous. */
export function isTokenSource(s: SourceName): boolean {
  return s === 'hmm';
}

export type PointSourceName = 'rings' | 'grid' | 'moons';
/** The 2-D mixture the Gaussian family trains on: the URL's source when it is one, else the rings. */
export function pointSourceOf(s: SourceName): PointSourceName {
  return s === 'rings' || s === 'grid' || s === 'moons' ? s : 'rings';
}
