/**
 * Typed model configs, validated at the boundary (CLI, files, URL state). `validateModelConfig`
 * fills documented defaults, rejects unknown keys and wrong types with a ConfigError naming the key.
 */
import { ConfigError } from '@altar/backend';
import type { AttentionKind } from './layers/attention.js';
import type { NormKind } from './layers/norm.js';
import type { MlpKind } from './layers/mlp.js';

/**
 * What a continuous denoiser (MLP, U-Net) predicts: the noise ε, the clean data x0, or v = α ε − σ x0.
 *
 * @example
 * ```ts
 * createModel({ type: 'unet', imageSize: 16, channels: 1, prediction: 'v' as PredictionKind });
 * ```
 */
export type PredictionKind = 'eps' | 'x0' | 'v';
/**
 * The attention a causal model can use: 'full' (KV cache), 'sliding' (rolling window cache), 'linear' (recurrent state).
 *
 * @example
 * ```ts
 * const attention: CausalAttention = 'sliding';
 * createModel({ type: 'ar-transformer', vocabSize: 256, attention, window: 32 });
 * ```
 */
export type CausalAttention = Exclude<AttentionKind, 'bidirectional'>;

/**
 * The causal (AR) transformer's config; every field has a default with its reason (see `validateModelConfig`).
 *
 * @example
 * ```ts
 * const config: ArTransformerConfig = validateModelConfig({ type: 'ar-transformer', vocabSize: 256, nLayers: 4 }) as ArTransformerConfig;
 * ```
 */
export interface ArTransformerConfig {
  type: 'ar-transformer';
  /** Token vocabulary V (a byte LM uses 256). No BOS id is reserved: callers prepend one of their tokens. */
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Longest sequence (size of the learned position table; the step cap for learned positions). */
  maxLen: number;
  /** 'full' (KV cache), 'sliding' (window W, rolling cache), 'linear' (recurrent state). */
  attention: CausalAttention;
  /** Sliding window W (positions i−W+1..i); default 64, a typical local context for byte models. */
  window: number;
  /** 'rope' (default: relative, works with every attention and any length) or 'learned'. */
  positions: 'learned' | 'rope';
  /** 'layernorm' (GPT-2 default) or 'rmsnorm' (LLaMA). */
  norm: NormKind;
  /** 'gelu' (GPT-2) or 'swiglu' (LLaMA). */
  mlp: MlpKind;
  /** MLP hidden = mlpRatio·dModel; 4 as in Vaswani et al. */
  mlpRatio: number;
  /** Residual dropout (training only); 0 for small data-rich synthetic sources. */
  dropout: number;
  /** Chunk length of linear attention's parallel form; 64 balances O(N·C) intra vs O(N/C) state work. */
  linearChunk: number;
  /** Init seed (all randomness goes through Rng). */
  seed: number;
}

/**
 * The bidirectional, time-conditioned transformer denoiser's config (masked and D3PM diffusion).
 *
 * @example
 * ```ts
 * const model = createModel({ type: 'diffusion-transformer', vocabSize: 32, dModel: 128, nLayers: 4, nHeads: 4 });
 * ```
 */
export interface DiffusionTransformerConfig {
  type: 'diffusion-transformer';
  /** V data tokens; the input vocabulary is V+1 with [MASK] = V. Logits cover the V data tokens only. */
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  maxLen: number;
  positions: 'learned' | 'rope';
  mlp: MlpKind;
  mlpRatio: number;
  dropout: number;
  /**
   * true (default): adaLN-Zero modulation from TimeEmbed(t). false: the model ignores t and the
   * modulation is a learned (zero-initialised) constant — enough for masked diffusion, where the number
   * of [MASK] tokens carries the time (Sahoo et al. 2024, MDLM §3.2; Ou et al. 2024, RADD), and required
   * for the cached masked sampler to be exact.
   */
  timeConditioning: boolean;
  seed: number;
}

/**
 * The state-space language model's config: a selective (Mamba-style) or S4D mixer per layer.
 *
 * @example
 * ```ts
 * const ssm = createModel({ type: 'ssm-lm', vocabSize: 256, dModel: 128, nLayers: 4, mixer: 'selective', dState: 16 });
 * ```
 */
export interface SsmLmConfig {
  type: 'ssm-lm';
  vocabSize: number;
  dModel: number;
  nLayers: number;
  /** 'selective' (Mamba) or 's4d' (diagonal LTI). */
  mixer: 'selective' | 's4d';
  /** State size N per channel: 16 as in Mamba; S4D uses N complex modes. */
  dState: number;
  /** Selective: inner width E = expand·dModel (Mamba uses 2). */
  expand: number;
  /** Selective: causal depthwise conv width (Mamba uses 4); ≥ 2. */
  convKernel: number;
  /** Selective: chunk length C of the training scan, 1..8 (cumsum-parallel inside, L/C sequential hops). */
  scanChunk: number;
  /** S4D: chunk length of the convolution mode. */
  s4dChunk: number;
  /** Optional MLP after each mixer (hidden = mlpRatio·dModel); 0 disables (Mamba has none). */
  mlpRatio: number;
  norm: NormKind;
  dropout: number;
  seed: number;
}

/**
 * The MLP denoiser's config: a time-conditioned MLP over d-dimensional vectors (2-D mixtures).
 *
 * @example
 * ```ts
 * const mlp = createModel({ type: 'mlp-denoiser', dim: 2, hidden: 256, nLayers: 4, prediction: 'eps', fourierFeatures: 16 });
 * ```
 */
export interface MlpDenoiserConfig {
  type: 'mlp-denoiser';
  /** Data dimension d (2 for the 2-D mixtures). */
  dim: number;
  hidden: number;
  nLayers: number;
  prediction: PredictionKind;
  /**
   * Random Fourier features of the input (Tancik et al. 2020): m frequencies, input γ(x) =
   * [x, sin(2πxB), cos(2πxB)] of width d + 2m. 0 (default) feeds x itself, as older checkpoints expect.
   * Tight clusters in 2-D (the 'grid' mixture, std 0.08) need m ≈ 32–64: a plain MLP blurs them.
   */
  fourierFeatures: number;
  /**
   * Standard deviation of B's entries, in input units (B_ij ~ N(0, scale²)). It sets the finest
   * resolvable detail (≈ 1/scale); ignored when fourierFeatures = 0. Default 1, for unit-variance data.
   */
  fourierScale: number;
  seed: number;
}

/**
 * The U-Net denoiser's config: square NHWC images, channel widths per level, the prediction kind.
 *
 * @example
 * ```ts
 * const unet = createModel({ type: 'unet', imageSize: 32, channels: 3, baseChannels: 32, channelMults: [1, 2, 2], prediction: 'eps' });
 * ```
 */
export interface UNetConfig {
  type: 'unet';
  /** Square images of this side (divisible by 2^(levels−1)); 16 or 32 in altar. */
  imageSize: number;
  /** 1 (grey) or 3 (RGB); tensors are NHWC. */
  channels: number;
  /** Width of the first level. */
  baseChannels: number;
  /** Width multiplier per level; each level after the first halves the resolution. */
  channelMults: number[];
  prediction: PredictionKind;
  seed: number;
}

/**
 * A complete model config of any family, told apart by `type`.
 *
 * @example
 * ```ts
 * function describe(c: ModelConfig): string {
 *   return c.type === 'unet' ? `${c.imageSize}² U-Net` : `${c.type} (${c.nLayers} layers)`;
 * }
 * ```
 */
export type ModelConfig =
  ArTransformerConfig | DiffusionTransformerConfig | SsmLmConfig | MlpDenoiserConfig | UNetConfig;
/**
 * The `type` of a model config: 'ar-transformer', 'diffusion-transformer', 'ssm-lm', 'mlp-denoiser' or 'unet'.
 *
 * @example
 * ```ts
 * const type: ModelType = 'ssm-lm';
 * ```
 */
export type ModelType = ModelConfig['type'];
/**
 * Every {@link ModelType}, for validating a config value.
 *
 * @example
 * ```ts
 * MODEL_TYPES.includes('unet'); // true
 * ```
 */
export const MODEL_TYPES: readonly ModelType[] = [
  'ar-transformer',
  'diffusion-transformer',
  'ssm-lm',
  'mlp-denoiser',
  'unet',
];

type Input<C extends { type: string }> = { type: C['type'] } & Partial<Omit<C, 'type'>>;
/**
 * A config as a user writes it: the `type` and any subset of the other keys (the rest take their defaults).
 *
 * @example
 * ```ts
 * const input: ModelConfigInput = { type: 'ar-transformer', vocabSize: 256 };
 * const model = createModel(input);
 * ```
 */
export type ModelConfigInput =
  | Input<ArTransformerConfig>
  | Input<DiffusionTransformerConfig>
  | Input<SsmLmConfig>
  | Input<MlpDenoiserConfig>
  | Input<UNetConfig>;

const DEFAULTS: { [K in ModelType]: Omit<Extract<ModelConfig, { type: K }>, 'type'> } = {
  'ar-transformer': {
    vocabSize: 256,
    dModel: 128,
    nLayers: 4,
    nHeads: 4,
    maxLen: 256,
    attention: 'full',
    window: 64,
    positions: 'rope',
    norm: 'layernorm',
    mlp: 'gelu',
    mlpRatio: 4,
    dropout: 0,
    linearChunk: 64,
    seed: 0,
  },
  'diffusion-transformer': {
    vocabSize: 256,
    dModel: 128,
    nLayers: 4,
    nHeads: 4,
    maxLen: 256,
    positions: 'learned',
    mlp: 'gelu',
    mlpRatio: 4,
    dropout: 0,
    timeConditioning: true,
    seed: 0,
  },
  'ssm-lm': {
    vocabSize: 256,
    dModel: 128,
    nLayers: 4,
    mixer: 'selective',
    dState: 16,
    expand: 2,
    convKernel: 4,
    scanChunk: 8,
    s4dChunk: 64,
    mlpRatio: 0,
    norm: 'rmsnorm',
    dropout: 0,
    seed: 0,
  },
  'mlp-denoiser': { dim: 2, hidden: 128, nLayers: 3, prediction: 'eps', fourierFeatures: 0, fourierScale: 1, seed: 0 },
  unet: { imageSize: 16, channels: 1, baseChannels: 16, channelMults: [1, 2], prediction: 'eps', seed: 0 },
};

const ENUMS: Record<string, readonly string[]> = {
  attention: ['full', 'sliding', 'linear'],
  positions: ['learned', 'rope'],
  norm: ['layernorm', 'rmsnorm'],
  mlp: ['gelu', 'swiglu'],
  mixer: ['selective', 's4d'],
  prediction: ['eps', 'x0', 'v'],
};

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPosInt(key: string, v: unknown, min = 1): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ConfigError(key, `expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
}

/**
 * Validate and complete a config. Throws ConfigError(path) naming the offending key.
 *
 * @example
 * ```ts
 * validateModelConfig({ type: 'ssm-lm', vocabSize: 256 });           // complete config, defaults filled in
 * validateModelConfig({ type: 'ssm-lm', vocabSize: 256, dState: 0 }); // throws ConfigError at model.dState
 * ```
 */
export function validateModelConfig(input: unknown, path = 'model'): ModelConfig {
  if (!isObj(input)) throw new ConfigError(path, `expected an object, got ${JSON.stringify(input)}`);
  const type = input['type'];
  if (typeof type !== 'string' || !(MODEL_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError(
      `${path}.type`,
      `unknown model type ${JSON.stringify(type)}; expected one of ${MODEL_TYPES.join(', ')}`,
    );
  }
  const defaults = DEFAULTS[type as ModelType] as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type };
  for (const key of Object.keys(input)) {
    if (key !== 'type' && input[key] !== undefined && !(key in defaults)) {
      throw new ConfigError(
        `${path}.${key}`,
        `unknown key for '${type}'; allowed: ${Object.keys(defaults).join(', ')}`,
      );
    }
  }
  for (const [key, def] of Object.entries(defaults)) {
    const v = input[key] === undefined ? def : input[key];
    const p = `${path}.${key}`;
    if (ENUMS[key]) {
      if (typeof v !== 'string' || !ENUMS[key].includes(v))
        throw new ConfigError(p, `expected one of ${ENUMS[key].join(', ')}, got ${JSON.stringify(v)}`);
    } else if (key === 'dropout') {
      if (typeof v !== 'number' || !(v >= 0 && v < 1))
        throw new ConfigError(p, `expected a number in [0, 1), got ${JSON.stringify(v)}`);
    } else if (key === 'timeConditioning') {
      if (typeof v !== 'boolean') throw new ConfigError(p, `expected true or false, got ${JSON.stringify(v)}`);
    } else if (key === 'seed') {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ConfigError(p, `expected a finite number, got ${JSON.stringify(v)}`);
    } else if (key === 'channelMults') {
      if (!Array.isArray(v) || v.length === 0)
        throw new ConfigError(p, `expected a non-empty array of positive integers, got ${JSON.stringify(v)}`);
      v.forEach((m, i) => checkPosInt(`${p}[${i}]`, m));
    } else if (key === 'fourierScale') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
        throw new ConfigError(p, `expected a finite number > 0, got ${JSON.stringify(v)}`);
    } else if (key === 'fourierFeatures') {
      checkPosInt(p, v, 0);
    } else if (key === 'mlpRatio') {
      checkPosInt(p, v, type === 'ssm-lm' ? 0 : 1);
    } else {
      checkPosInt(p, v, key === 'convKernel' ? 2 : 1);
    }
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  const c = out as unknown as ModelConfig;
  if (c.type === 'ar-transformer' || c.type === 'diffusion-transformer') {
    if (c.dModel % c.nHeads !== 0)
      throw new ConfigError(`${path}.nHeads`, `dModel ${c.dModel} is not divisible by nHeads ${c.nHeads}`);
    if (c.positions === 'rope' && (c.dModel / c.nHeads) % 2 !== 0) {
      throw new ConfigError(`${path}.positions`, `rope needs an even head dimension, got ${c.dModel / c.nHeads}`);
    }
  }
  if (c.type === 'ssm-lm' && c.scanChunk > 8) {
    throw new ConfigError(`${path}.scanChunk`, `must be ≤ 8 (float32 range of the chunked scan), got ${c.scanChunk}`);
  }
  if (c.type === 'unet') {
    if (c.channels !== 1 && c.channels !== 3)
      throw new ConfigError(`${path}.channels`, `expected 1 or 3, got ${c.channels}`);
    const f = 2 ** (c.channelMults.length - 1);
    if (c.imageSize % f !== 0)
      throw new ConfigError(`${path}.imageSize`, `${c.imageSize} is not divisible by 2^(levels−1) = ${f}`);
  }
  return c;
}
