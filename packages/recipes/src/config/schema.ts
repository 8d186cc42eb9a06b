/**
 * The run config of every altar run — `altar train`, `altar eval`, checkpoints, the playground's
 * export/import — as one zod schema: a discriminated union over `family`, each member a strict object
 * whose defaults are given once here. The TypeScript type is inferred from it. Every key it accepts
 * changes what runs; a key that could not take effect (a diffusion section on an AR model, `diffusion.T`
 * for the continuous-time masked process) is an error naming its path.
 */
import { z } from 'zod';
import { BACKEND_CHOICES, ConfigError } from '@altar/backend';
import { TIMESTEP_SAMPLINGS } from '@altar/elbo';
import { validateModelConfig, type ModelConfig } from '@altar/models';
import { D3PM_KINDS, D3PM_SCHEDULES, GAUSSIAN_SCHEDULES, MASK_SCHEDULES } from '@altar/noise';
import { checkConfigTree, issueToError } from './boundary.js';
import { describeValue, int, num, oneOf, section, str } from './checks.js';
import {
  arEvalSection,
  checkpointSection,
  CONFIG_BOUNDS,
  diffusionEvalSection,
  gaussianData,
  modelSection,
  tokenData,
  trainSection,
} from './sections.js';

/**
 * The model families a run config can name.
 *
 * @example
 * ```ts
 * FAMILIES.includes('gaussian'); // true
 * ```
 */
export const FAMILIES = ['ar', 'ssm', 'masked-diffusion', 'd3pm', 'gaussian'] as const;
/**
 * One of {@link FAMILIES}: the discriminant of a run config.
 *
 * @example
 * ```ts
 * const family: Family = 'masked-diffusion';
 * const config = defaultRunConfig(family);
 * ```
 */
export type Family = (typeof FAMILIES)[number];

/** A key that a family has no use for: present at all is an error. */
function absent(why: string) {
  return z.custom<undefined>((v) => v === undefined, { error: why }).optional();
}

function common<F extends Family>(family: F) {
  return {
    /** A label for reports. */
    name: str().default(family),
    family: z.literal(family),
    /** Backend when --backend is not given. */
    backend: oneOf(BACKEND_CHOICES).default('auto'),
    train: trainSection,
    checkpoint: checkpointSection,
  };
}

/** AR transformer over HMM tokens with a BOS token: exact NLL. */
const arConfig = section({
  ...common('ar'),
  data: tokenData,
  model: modelSection('ar', ['ar-transformer'], { type: 'ar-transformer', dModel: 64, nLayers: 2, nHeads: 4 }),
  diffusion: absent("family 'ar' has no diffusion process; remove the diffusion section"),
  eval: arEvalSection,
});

/** Selective/S4D state-space LM: exact NLL, recurrent decoding. */
const ssmConfig = section({
  ...common('ssm'),
  data: tokenData,
  model: modelSection('ssm', ['ssm-lm'], { type: 'ssm-lm', dModel: 64, nLayers: 2 }),
  diffusion: absent("family 'ssm' has no diffusion process; remove the diffusion section"),
  eval: arEvalSection,
});

/** Continuous-time masked diffusion (MDLM): no T to choose (the sampler's steps are chosen at sampling time). */
const maskedConfig = section({
  ...common('masked-diffusion'),
  data: tokenData,
  model: modelSection('masked-diffusion', ['diffusion-transformer'], {
    type: 'diffusion-transformer',
    dModel: 64,
    nLayers: 2,
    nHeads: 4,
  }),
  diffusion: section({
    process: oneOf(['masked'] as const, "for family 'masked-diffusion'").default('masked'),
    /** Log-linear α_t = 1 − t in log space (MDLM's default). */
    schedule: oneOf(MASK_SCHEDULES, "for process 'masked'").default('log-linear'),
    /** How training draws t ∈ (0, 1]: stratified over the batch (low variance, unbiased; VDM App. I.1) or i.i.d. uniform. */
    timesteps: oneOf(['uniform', 'stratified'] as const, 'for the continuous-time masked NELBO').default('stratified'),
  }).prefault({}),
  eval: diffusionEvalSection,
});

/** Discrete-time D3PM (absorbing or uniform) with T steps. */
const d3pmConfig = section({
  ...common('d3pm'),
  data: tokenData,
  model: modelSection('d3pm', ['diffusion-transformer'], {
    type: 'diffusion-transformer',
    dModel: 64,
    nLayers: 2,
    nHeads: 4,
  }),
  diffusion: section({
    process: oneOf(D3PM_KINDS, "for family 'd3pm'").default('absorbing'),
    /** 1/(T − t + 1) (Sohl-Dickstein et al. 2015), D3PM's choice for absorbing. */
    schedule: oneOf(D3PM_SCHEDULES, 'for a D3PM process').default('jsd'),
    /** 64 steps: twice n = 32, enough for the bound to be near its T → ∞ limit on the default source. */
    T: int(1, CONFIG_BOUNDS.T).default(64),
    /** 'importance' learns p(t) ∝ √E[L_t²] from the losses (Nichol & Dhariwal 2021 §3.3). */
    timesteps: oneOf(TIMESTEP_SAMPLINGS).default('stratified'),
  }).prefault({}),
  eval: diffusionEvalSection,
}).superRefine((c, ctx) => {
  if (c.eval.sampleSteps > c.diffusion.T) {
    ctx.addIssue({
      code: 'custom',
      path: ['eval', 'sampleSteps'],
      message: `expected at most diffusion.T = ${c.diffusion.T} (a D3PM sampler takes at most T steps), got ${c.eval.sampleSteps}`,
    });
  }
});

/**
 * Gaussian diffusion on vectors or images. Without `T` the loss is the continuous-time VDM NELBO (t drawn
 * 'uniform' or 'stratified'); with `T` it is the discrete-time DDPM NELBO with T steps (any of uniform,
 * stratified, antithetic). The process names its schedule (vp-cosine is VP with the cosine schedule).
 */
const gaussianConfig = section({
  ...common('gaussian'),
  data: gaussianData,
  model: modelSection('gaussian', ['mlp-denoiser', 'unet'], { type: 'mlp-denoiser' }),
  diffusion: section({
    process: oneOf(GAUSSIAN_SCHEDULES, "for family 'gaussian'").default('vp-cosine'),
    /** 'nelbo': the bound itself; 'mse': the MSE of the model's own parameterisation (ε: Ho et al. 2020 eq. 14; v: Salimans & Ho 2022). */
    loss: oneOf(['nelbo', 'mse'] as const).default('nelbo'),
    /** 'mse': training times t = tMin + (1 − tMin)·u^p, u ~ U(0, 1); p > 1 favours low noise (p = 1: uniform). */
    timePower: num('a number in [1, 16]', (x) => x >= 1 && x <= 16).optional(),
    T: int(1, CONFIG_BOUNDS.T).optional(),
    /** 'nelbo' only; default 'stratified'. */
    timesteps: oneOf(TIMESTEP_SAMPLINGS).optional(),
  })
    .prefault({})
    .superRefine((d, ctx) => {
      if (d.loss === 'mse') {
        for (const k of ['T', 'timesteps'] as const) {
          if (d[k] !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [k],
              message: `applies to loss 'nelbo' only (the 'mse' loss draws t by timePower), got ${describeValue(d[k])}`,
            });
        }
        return;
      }
      if (d.timePower !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['timePower'],
          message: `applies to loss 'mse' only, got ${d.timePower}`,
        });
      if (d.T === undefined && d.timesteps !== undefined && d.timesteps !== 'uniform' && d.timesteps !== 'stratified') {
        ctx.addIssue({
          code: 'custom',
          path: ['timesteps'],
          message: `expected uniform or stratified for continuous time (set diffusion.T for a discrete-time bound), got '${d.timesteps}'`,
        });
      }
      if (d.timesteps === 'importance') {
        ctx.addIssue({
          code: 'custom',
          path: ['timesteps'],
          message: "expected uniform, stratified or antithetic: 'importance' is implemented for family 'd3pm' only",
        });
      }
    }),
  eval: diffusionEvalSection,
}).superRefine((c, ctx) => {
  const want = c.data.source === 'images' ? 'unet' : 'mlp-denoiser';
  if (c.model['type'] !== want)
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'type'],
      message: `data.source '${c.data.source}' needs a '${want}' model, got ${describeValue(c.model['type'])}`,
    });
});

/**
 * The zod schema of a run config: a discriminated union on `family`, strict sections, bounded values. Use
 * {@link parseRunConfig} for the project's error messages.
 *
 * @example
 * ```ts
 * const result = RunConfigSchema.safeParse({ family: 'ar' }); // zod's own result
 * ```
 */
export const RunConfigSchema = z.discriminatedUnion('family', [
  arConfig,
  ssmConfig,
  maskedConfig,
  d3pmConfig,
  gaussianConfig,
]);
/**
 * A validated run config (defaults filled).
 *
 * @example
 * ```ts
 * const config: RunConfig = parseRunConfig({ family: 'ssm', model: { mixer: 's4d' } });
 * ```
 */
export type RunConfig = z.output<typeof RunConfigSchema>;
/**
 * What a config file may hold (every key but `family` optional).
 *
 * @example
 * ```ts
 * const input: RunConfigInput = { family: 'd3pm', diffusion: { T: 64 } };
 * const config = parseRunConfig(input);
 * ```
 */
export type RunConfigInput = z.input<typeof RunConfigSchema>;
/**
 * A validated run config of the 'ar' family.
 *
 * @example
 * ```ts
 * const c = parseRunConfig({ family: 'ar' }) as ArRunConfig;
 * ```
 */
export type ArRunConfig = Extract<RunConfig, { family: 'ar' }>;
/**
 * A validated run config of the 'ssm' family.
 *
 * @example
 * ```ts
 * const c = parseRunConfig({ family: 'ssm' }) as SsmRunConfig;
 * ```
 */
export type SsmRunConfig = Extract<RunConfig, { family: 'ssm' }>;
/**
 * A validated run config of the 'masked-diffusion' family.
 *
 * @example
 * ```ts
 * const c = parseRunConfig({ family: 'masked-diffusion' }) as MaskedRunConfig;
 * c.diffusion.schedule; // 'log-linear' by default
 * ```
 */
export type MaskedRunConfig = Extract<RunConfig, { family: 'masked-diffusion' }>;
/**
 * A validated run config of the 'd3pm' family.
 *
 * @example
 * ```ts
 * const c = parseRunConfig({ family: 'd3pm', diffusion: { T: 32 } }) as D3pmRunConfig;
 * ```
 */
export type D3pmRunConfig = Extract<RunConfig, { family: 'd3pm' }>;
/**
 * A validated run config of the 'gaussian' family.
 *
 * @example
 * ```ts
 * const c = parseRunConfig({ family: 'gaussian' }) as GaussianRunConfig;
 * ```
 */
export type GaussianRunConfig = Extract<RunConfig, { family: 'gaussian' }>;
/**
 * A run config of any token family (ar, ssm, masked-diffusion, d3pm).
 *
 * @example
 * ```ts
 * const seqLen = isTokenConfig(config) ? config.data.hmm.seqLen : null;
 * ```
 */
export type TokenRunConfig = ArRunConfig | SsmRunConfig | MaskedRunConfig | D3pmRunConfig;

/**
 * Validate a parsed config object (JSON, YAML, --set, URL) and fill defaults. Throws ConfigError naming the key.
 *
 * @example
 * ```ts
 * const config = parseRunConfig(JSON.parse(readFileSync('run.json', 'utf8')));
 * parseRunConfig({ family: 'ar', train: { lr: 'fast' } }); // throws ConfigError: train.lr: expected a positive number, got 'fast'
 * ```
 */
export function parseRunConfig(input: unknown): RunConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ConfigError('', `the config must be an object, got ${describeValue(input)}`);
  checkConfigTree(input);
  const family = Reflect.get(input, 'family');
  if (!FAMILIES.some((f) => f === family))
    throw new ConfigError('family', `expected one of ${FAMILIES.join(', ')}, got ${describeValue(family)}`);
  const r = RunConfigSchema.safeParse(input, { reportInput: true });
  if (!r.success) throw issueToError(r.error);
  return r.data;
}

/**
 * The defaults of a family (the config `{ family }`).
 *
 * @example
 * ```ts
 * const config = defaultRunConfig('d3pm'); // every default filled in
 * ```
 */
export function defaultRunConfig(family: Family): RunConfig {
  return parseRunConfig({ family });
}

/**
 * True for the token families (their data is the HMM source), false for 'gaussian'.
 *
 * @example
 * ```ts
 * isTokenConfig(defaultRunConfig('ar'));       // true
 * isTokenConfig(defaultRunConfig('gaussian')); // false
 * ```
 */
export function isTokenConfig(c: RunConfig): c is TokenRunConfig {
  return c.family !== 'gaussian';
}

/**
 * Fill a token model's data-dependent sizes (AR/SSM: V + 1 for BOS) and validate it fully.
 *
 * @example
 * ```ts
 * const modelConfig = resolveModelConfig(config, 32, 64); // V = 32 data tokens, N = 64
 * ```
 */
export function resolveModelConfig(c: TokenRunConfig, vocabSize: number, seqLen: number): ModelConfig {
  const m: Record<string, unknown> = { ...c.model };
  const type = m['type'];
  if (type === 'ar-transformer' || type === 'ssm-lm') m['vocabSize'] ??= vocabSize + 1; // + BOS (id = vocabSize)
  if (type === 'diffusion-transformer') m['vocabSize'] ??= vocabSize;
  if (type === 'ar-transformer' || type === 'diffusion-transformer') m['maxLen'] ??= seqLen;
  m['seed'] ??= c.train.seed;
  return validateModelConfig(m, 'model');
}
