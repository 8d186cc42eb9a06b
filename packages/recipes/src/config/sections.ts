/**
 * The sections shared by every family's run config: data sources, model, train, checkpoint, eval. Each
 * default carries its reason; every allowed value list comes from the package that implements it.
 */
import { z } from 'zod';
import { ConfigError } from '@altar/backend';
import { defaultHmmConfig, GMM_PRESETS, resolveHmmConfig } from '@altar/data';
import { validateModelConfig, type ModelType } from '@altar/models';
import { defaultTrainConfig, resolveTrainConfig } from '@altar/train';
import { bool, describeValue, int, num, oneOf, record, section, str } from './checks.js';

/**
 * Upper bounds against typos (`steps: 1e12` once meant an ETA of 130 million hours). Each is far beyond
 * any run of this project on one machine; raise it here if a real run needs more.
 *
 * @example
 * ```ts
 * parseRunConfig({ family: 'ar', train: { steps: 1e12 } }); // throws: train.steps … the sane bound for this key
 * ```
 */
export const CONFIG_BOUNDS = {
  steps: 10_000_000,
  batchSize: 16_384,
  T: 100_000,
  evalBatches: 100_000,
  samples: 4096,
  sampleSteps: 100_000,
  keepLast: 1000,
  accumSteps: 1024,
  dim: 4096,
} as const;
const B = CONFIG_BOUNDS;

/** Turn a package validator's ConfigError (path `prefix.key…`) into an issue on this schema node. */
export function packageIssue(ctx: z.RefinementCtx, prefix: string, e: unknown): void {
  if (!(e instanceof ConfigError)) throw e;
  const rel = e.path === prefix ? '' : e.path.startsWith(`${prefix}.`) ? e.path.slice(prefix.length + 1) : e.path;
  const message = e.path && e.message.startsWith(`${e.path}: `) ? e.message.slice(e.path.length + 2) : e.message;
  ctx.addIssue({ code: 'custom', path: rel ? rel.split('.') : [], message });
}

// ---------------------------------------------------------------- data

const H = defaultHmmConfig;
/** The HMM source (@altar/data): every key defaults to defaultHmmConfig, the project's default source. */
export const hmmSection = section({
  vocabSize: int(2, 1 << 16).default(H.vocabSize),
  numStates: int(1, 4096).default(H.numStates),
  seqLen: int(1, 1 << 20).default(H.seqLen),
  seed: int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).default(H.seed),
  stayProb: num('a number in [0, 1]', (x) => x >= 0 && x <= 1).default(H.stayProb),
  advanceProb: num('a number in [0, 1]', (x) => x >= 0 && x <= 1).default(H.advanceProb),
  tokensPerState: int(1, 1 << 16).default(H.tokensPerState),
  overlap: int(0, 1 << 16).default(H.overlap),
  emissionSkew: num('a number in [0, 100]', (x) => x >= 0 && x <= 100).default(H.emissionSkew),
  name: str().default(H.name ?? 'hmm'),
})
  .prefault({})
  .superRefine((h, ctx) => {
    try {
      resolveHmmConfig(h); // cross-key checks: stayProb + advanceProb ≤ 1, tokensPerState ≤ vocabSize, …
    } catch (e) {
      packageIssue(ctx, 'hmm', e);
    }
  });

/**
 * Where a text corpus comes from: a UTF-8 file or a directory of files, or `builtin:shakespeare` (the corpus
 * that ships with @altar/data); the tokenizer ('byte': V = 256; 'char': the corpus's characters, saved
 * with the checkpoint; otherwise a path to a Hugging Face tokenizer.json); the window length; and the
 * held-out tail (the last `valFraction` of the tokens, as nanoGPT does).
 *
 * @example
 * ```ts
 * textSection.parse({ path: 'builtin:shakespeare', tokenizer: 'char', seqLen: 64 }); // valFraction 0.1 filled in
 * ```
 */
export const textSection = section({
  path: z.custom<string>((v) => typeof v === 'string' && v.length > 0, {
    error: (iss) =>
      `expected a corpus path (a UTF-8 file, a directory, or builtin:shakespeare), got ${describeValue(iss.input)}`,
  }),
  /** Bytes need no vocabulary and read any text. */
  tokenizer: z
    .custom<string>((v) => typeof v === 'string' && v.length > 0, {
      error: (iss) => `expected 'byte', 'char' or a path to a tokenizer.json, got ${describeValue(iss.input)}`,
    })
    .default('byte'),
  /** 256 tokens: a few lines of text per window. */
  seqLen: int(2, 1 << 16).default(256),
  /** nanoGPT holds out the last 10 %. */
  valFraction: num('a number in (0, 0.5]', (x) => x > 0 && x <= 0.5).default(0.1),
});

/** Key-order-free JSON of a value (for comparing a given section with the defaults). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(Reflect.get(v, k))}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}
let defaultHmmCanonical: string | undefined;
/** True for exactly the HMM section the schema fills in by default. */
function isDefaultHmm(v: unknown): boolean {
  defaultHmmCanonical ??= canonical(hmmSection.parse({}));
  return canonical(v) === defaultHmmCanonical;
}

/**
 * Token families read the HMM source (exact log p(x)) or a text corpus (`source: 'text'`, section `text`);
 * 32 sequences per batch fits a laptop CPU.
 */
export const tokenData = z
  .preprocess(
    (v, ctx) => {
      // The HMM section is filled by default; given explicitly next to a text corpus, it would be ignored. Only the
      // all-defaults section this schema writes itself passes (so a validated config validates again unchanged).
      const obj = v && typeof v === 'object' && !Array.isArray(v) ? v : null;
      const hmm: unknown = obj ? Reflect.get(obj, 'hmm') : undefined;
      if (obj && Reflect.get(obj, 'source') === 'text' && hmm !== undefined && !isDefaultHmm(hmm))
        ctx.issues.push({
          code: 'custom',
          path: ['hmm'],
          message: "applies to data.source 'hmm' only (the source is 'text')",
          input: hmm,
        });
      return v;
    },
    section({
      source: oneOf(['hmm', 'text'] as const, 'for a token family').default('hmm'),
      hmm: hmmSection,
      text: textSection.optional(),
      batchSize: int(1, B.batchSize).default(32),
    })
      .prefault({})
      .superRefine((d, ctx) => {
        if (d.source === 'text' && !d.text)
          ctx.addIssue({
            code: 'custom',
            path: ['text'],
            message: "data.source 'text' needs a text section with at least a path",
          });
        if (d.source === 'hmm' && d.text)
          ctx.addIssue({
            code: 'custom',
            path: ['text'],
            message: "applies to data.source 'text' only (the source is 'hmm')",
          });
      }),
  )
  .prefault({});

const GMM_DEFAULT = { preset: 'rings', dim: 2, standardise: false } as const;
const IMAGES_DEFAULT = { size: 16, channels: 1 } as const;
const gmmSection = section({
  /** 'rings' (24 components on two circles) shows mode coverage at a glance. */
  preset: oneOf(GMM_PRESETS).default(GMM_DEFAULT.preset),
  /** Only the 'random' preset has a free dimension; the others are 2-D. */
  dim: int(1, B.dim).default(GMM_DEFAULT.dim),
  /** The model sees x / s, s = √(tr Cov / d) of the mixture (unit variance per dimension, the VP prior's scale); bits are reported for x. */
  standardise: bool().default(GMM_DEFAULT.standardise),
});

/** The Gaussian family: a mixture of Gaussians (exact density) or procedural images (8-bit glyphs). */
export const gaussianData = section({
  source: oneOf(['gmm', 'images'] as const, "for family 'gaussian'").default('gmm'),
  gmm: gmmSection.optional(),
  images: section({
    size: z
      .custom<16 | 32>((v) => v === 16 || v === 32, {
        error: (iss) => `expected 16 or 32, got ${describeValue(iss.input)}`,
      })
      .default(IMAGES_DEFAULT.size),
    channels: z
      .custom<1 | 3>((v) => v === 1 || v === 3, { error: (iss) => `expected 1 or 3, got ${describeValue(iss.input)}` })
      .default(IMAGES_DEFAULT.channels),
  }).optional(),
  /** 256 points per batch: the mixture has 24 components, each needs several samples per step. */
  batchSize: int(1, B.batchSize).default(256),
})
  .prefault({})
  .superRefine((d, ctx) => {
    if (d.source === 'gmm' && d.images)
      ctx.addIssue({
        code: 'custom',
        path: ['images'],
        message: "applies to data.source 'images' only (the source is 'gmm')",
      });
    if (d.source === 'images' && d.gmm)
      ctx.addIssue({
        code: 'custom',
        path: ['gmm'],
        message: "applies to data.source 'gmm' only (the source is 'images')",
      });
    if (d.gmm && d.gmm.preset !== 'random' && d.gmm.dim !== 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['gmm', 'dim'],
        message: `preset '${d.gmm.preset}' is 2-D; only 'random' takes a dimension, got ${d.gmm.dim}`,
      });
    }
  })
  .transform((d) =>
    d.source === 'images'
      ? { source: d.source, images: d.images ?? { ...IMAGES_DEFAULT }, batchSize: d.batchSize }
      : { source: d.source, gmm: d.gmm ?? { ...GMM_DEFAULT }, batchSize: d.batchSize },
  );

// ---------------------------------------------------------------- model

/** Sizes the data fills in later; placeholders let the model section be checked before the source exists. */
function placeholders(type: unknown): Record<string, unknown> {
  if (type === 'ar-transformer' || type === 'diffusion-transformer') return { vocabSize: 2, maxLen: 2 };
  if (type === 'ssm-lm') return { vocabSize: 2 };
  return {};
}

/**
 * The @altar/models config, checked by validateModelConfig. A section without `type` (or with the
 * family's default type) extends the family's default model; another type starts from that type's defaults.
 */
export function modelSection(family: string, types: readonly ModelType[], defaults: Record<string, unknown>) {
  return record()
    .optional()
    .transform((m, ctx) => {
      const merged: Record<string, unknown> =
        m === undefined
          ? { ...defaults }
          : { ...(m['type'] === undefined || m['type'] === defaults['type'] ? defaults : {}), ...m };
      const type = merged['type'];
      if (!types.some((t) => t === type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['type'],
          message: `expected one of ${types.join(', ')} for family '${family}', got ${describeValue(type)}`,
        });
        return z.NEVER;
      }
      try {
        validateModelConfig({ ...placeholders(type), ...merged }, 'model');
      } catch (e) {
        packageIssue(ctx, 'model', e);
        return z.NEVER;
      }
      return merged;
    });
}

// ---------------------------------------------------------------- train, checkpoint, eval

/**
 * The run defaults over @altar/train's: 1000 steps at lr 3e-3 with a 50-step warmup train the default
 * models to within ~0.2 bit of the source on a laptop; EMA 0.99 smooths the last ~100 steps for eval.
 *
 * @example
 * ```ts
 * defaultRunConfig('ar').train.steps === RUN_TRAIN_DEFAULTS.steps; // true (1000)
 * ```
 */
export const RUN_TRAIN_DEFAULTS = {
  ...defaultTrainConfig,
  steps: 1000,
  lr: 3e-3,
  warmupSteps: 50,
  emaDecay: 0.99,
  evalEvery: 200,
  seed: 0,
};
const T0 = RUN_TRAIN_DEFAULTS;
export const trainSection = section({
  steps: int(0, B.steps).default(T0.steps),
  lr: num('a positive number', (x) => x > 0).default(T0.lr),
  warmupSteps: int(0, B.steps).default(T0.warmupSteps),
  minLrRatio: num('a number in [0, 1]', (x) => x >= 0 && x <= 1).default(T0.minLrRatio),
  lrDecay: oneOf(['cosine', 'constant'] as const).default(T0.lrDecay),
  beta1: num('a number in [0, 1)', (x) => x >= 0 && x < 1).default(T0.beta1),
  beta2: num('a number in [0, 1)', (x) => x >= 0 && x < 1).default(T0.beta2),
  eps: num('a positive number', (x) => x > 0).default(T0.eps),
  weightDecay: num('a number ≥ 0', (x) => x >= 0).default(T0.weightDecay),
  gradClip: num('a number ≥ 0 (0 disables clipping)', (x) => x >= 0).default(T0.gradClip),
  emaDecay: num('a number in [0, 1) (0 disables the EMA)', (x) => x >= 0 && x < 1).default(T0.emaDecay),
  accumSteps: int(1, B.accumSteps).default(T0.accumSteps),
  evalEvery: int(0, B.steps).default(T0.evalEvery),
  nonFinite: oneOf(['stop', 'skip'] as const).default(T0.nonFinite),
  /** Read the loss back every N steps, or 'auto' (1 on cpu/wasm, 16 on GPU backends); results do not depend on it. */
  syncEvery: z
    .custom<number | 'auto'>(
      (v) => v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= B.steps),
      { error: (iss) => `expected an integer ≥ 1 or 'auto', got ${describeValue(iss.input)}` },
    )
    .default(T0.syncEvery),
  seed: int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).default(T0.seed),
})
  .prefault({})
  .transform((t) => resolveTrainConfig(t, 'train'));

export const checkpointSection = section({
  /** Save every K steps (0: only at eval-best, interrupt and the end). */
  every: int(0, B.steps).default(500),
  /** Step directories kept (the best is kept too). */
  keepLast: int(1, B.keepLast).default(2),
}).prefault({});

const evalShape = {
  /** Held-out batches per evaluation (the same every time). */
  batches: int(1, B.evalBatches).default(4),
  batchSize: int(1, B.batchSize).default(64),
  /** Samples dumped to DIR/samples/step-N.txt at each eval (0: none). */
  samples: int(0, B.samples).default(4),
};
/** AR and SSM sample in exactly n steps: no sampleSteps. */
export const arEvalSection = section(evalShape).prefault({});
/** Diffusion families: `sampleSteps` sampler steps for the dumped samples. */
export const diffusionEvalSection = section({ ...evalShape, sampleSteps: int(1, B.sampleSteps).default(32) }).prefault(
  {},
);
