/**
 * Small shared layers. Each is a class that registers its tf.Variables in the model's ParamStore and
 * exposes tidy-wrapped tensor functions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { biasGelu, FUSED_KERNELS, layerNormFused, useFused, type Rng } from '@altar/backend';
import type { ParamStore } from './params.js';

/**
 * Options accepted by every forward-type method. Dropout is active only when `training` is true.
 *
 * @example
 * ```ts
 * model.forward(tokens, { training: true, rng: new Rng(step) }); // dropout on, masks from rng
 * ```
 */
export interface ForwardOptions {
  training?: boolean;
  /** Source of dropout masks; required when training with dropout > 0. */
  rng?: Rng;
}

/**
 * 2-D matmul x (M, K) @ w (K, N) whose gradient uses only untransposed matmuls:
 * dx = dy @ wᵀ, dw = xᵀ @ dy with explicit transposes. On the wasm backend, BatchMatMul with a
 * transposed operand skips XNNPACK and runs 10–60× slower than transpose + plain matmul, and tfjs's
 * own MatMul gradient uses exactly those transposed forms.
 *
 * @example
 * ```ts
 * const y = mm2d(x, w); // (M, K) @ (K, N), gradients without transposed-operand matmuls
 * ```
 */
export const mm2d: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
      },
    };
  },
) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/**
 * Whether tfjs is recording a gradient tape (inside tf.grads / variableGrads, outside any kernel).
 * Reads the engine's own test (not in tfjs's typings); assumes a tape when it is missing.
 */
export function tapeOn(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return engine.isTapeOn ? engine.isTapeOn() : true;
}

/** x @ w: mm2d under a gradient tape; plain matMul otherwise (the custom-gradient wrapper is pure overhead there). */
export function mm(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tapeOn() ? mm2d(x, w) : tf.matMul(x, w);
}

/**
 * Apply `x @ w` over the last axis of a tensor of any rank ≥ 2.
 *
 * @example
 * ```ts
 * matmulLast(tf.ones([2, 3, 4]), tf.ones([4, 5])); // (2, 3, 5)
 * ```
 */
export function matmulLast(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1] as number;
    const outDim = w.shape[1] as number;
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]) as tf.Tensor2D; // (M, in)
    const y = mm(x2, w as tf.Tensor2D); // (M, out)
    return tf.reshape(y, [...lead, outDim]);
  });
}

/**
 * Vocabularies up to this size embed through oneHot @ E (a fast matmul and matmul gradient everywhere).
 *
 * @example
 * ```ts
 * const viaOneHot = vocabSize <= ONE_HOT_EMBED_MAX_VOCAB;
 * ```
 */
export const ONE_HOT_EMBED_MAX_VOCAB = 4096;

/**
 * y = x W + b over the last axis; W (in, out) initialised N(0, 1/in) unless given, b zero.
 *
 * @example
 * ```ts
 * const store = new ParamStore(new Rng(0));
 * const proj = new Linear(store, 'proj', 64, 128);
 * const y = proj.apply(tf.ones([2, 10, 64])); // (2, 10, 128)
 * ```
 */
export class Linear {
  readonly w: tf.Variable;
  readonly b: tf.Variable | null;
  constructor(
    store: ParamStore,
    name: string,
    readonly inDim: number,
    readonly outDim: number,
    opts: { bias?: boolean; std?: number; zero?: boolean } = {},
  ) {
    const std = opts.std ?? 1 / Math.sqrt(inDim);
    this.w = store.add(`${name}.w`, [inDim, outDim], opts.zero ? { kind: 'zeros' } : { kind: 'normal', std });
    this.b = opts.bias === false ? null : store.add(`${name}.b`, [outDim], { kind: 'zeros' });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = matmulLast(x, this.w);
      return this.b ? tf.add(y, this.b) : y;
    });
  }
}

/** Largest row count for which the tied head computes (E hᵀ)ᵀ on wasm (see Embedding.logits). */
const FLIP_HEAD_MAX_ROWS = 256;

/**
 * Token embedding E (V, D); `logits(h) = h Eᵀ` is the tied output head (Press & Wolf 2017).
 *
 * @example
 * ```ts
 * const emb = new Embedding(store, 'tok_emb', 256, 64);
 * const h = emb.lookup(tokens); // (B, N) → (B, N, 64)
 * const logits = emb.logits(h); // tied head: (B, N, 256)
 * ```
 */
export class Embedding {
  readonly table: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly vocab: number,
    readonly dim: number,
    std = 0.02,
  ) {
    this.table = store.add(`${name}.weight`, [vocab, dim], { kind: 'normal', std });
  }
  /**
   * tokens int32 (...) → (..., D). Small vocabularies use oneHot(tokens) @ E, whose gradient is a matmul;
   * large ones tf.gather (its gradient, UnsortedSegmentSum, is filled in on wasm by @altar/backend).
   */
  lookup(tokens: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ids = tf.cast(tokens, 'int32');
      if (this.vocab > ONE_HOT_EMBED_MAX_VOCAB) return tf.gather(this.table, ids);
      const oh = tf.oneHot(tf.reshape(ids, [-1]), this.vocab) as tf.Tensor2D; // (M, V)
      return tf.reshape(mm(tf.cast(oh, 'float32') as tf.Tensor2D, this.table as tf.Tensor2D), [
        ...tokens.shape,
        this.dim,
      ]);
    });
  }
  /** Tied head over the first `rows` vocabulary entries: h (..., D) → (..., rows). */
  logits(h: tf.Tensor, rows = this.vocab): tf.Tensor {
    return tf.tidy(() => {
      const e = rows === this.vocab ? this.table : tf.slice(this.table, [0, 0], [rows, this.dim]);
      const d = h.shape[h.rank - 1] as number;
      const lead = h.shape.slice(0, -1);
      const h2 = tf.reshape(h, [-1, d]) as tf.Tensor2D; // (M, D)
      // wasm's matmul (XNNPACK) repacks its right operand whenever it is a new tensor: a fresh Eᵀ costs
      // ~300 µs per call, several times the product itself when M is small (decoding). There, compute
      // (E hᵀ)ᵀ instead, whose right operand hᵀ is tiny (decode 400 → 95 µs per token).
      const flip = h2.shape[0] <= FLIP_HEAD_MAX_ROWS && tf.getBackend() === 'wasm';
      const y = flip
        ? tf.transpose(mm(e as tf.Tensor2D, tf.transpose(h2))) // (rows, M)ᵀ
        : mm(h2, tf.transpose(e) as tf.Tensor2D); // (M, rows)
      return tf.reshape(y, [...lead, rows]);
    });
  }
}

/**
 * LayerNorm (Ba et al. 2016) over the last axis; `affine: false` for adaLN (DiT).
 *
 * @example
 * ```ts
 * const norm = new LayerNorm(store, 'ln', 64);
 * const y = norm.apply(x); // zero mean, unit variance over the last axis, then gain and bias
 * ```
 */
export class LayerNorm {
  readonly g: tf.Variable | null;
  readonly b: tf.Variable | null;
  constructor(
    store: ParamStore | null,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    this.g = affine && store ? store.add(`${name}.g`, [dim], { kind: 'ones' }) : null;
    this.b = affine && store ? store.add(`${name}.b`, [dim], { kind: 'zeros' }) : null;
  }
  apply(x: tf.Tensor): tf.Tensor {
    if (this.g && this.b) return layerNormFused(x, this.g, this.b, this.eps); // one kernel each way on cpu/wasm
    if (!this.g && !this.b && useFused(FUSED_KERNELS.layerNorm)) {
      return tf.tidy(() => layerNormFused(x, tf.ones([this.dim]), tf.zeros([this.dim]), this.eps));
    }
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const xc = tf.sub(x, mean);
      const variance = tf.mean(tf.square(xc), -1, true);
      let y = tf.mul(xc, tf.rsqrt(tf.add(variance, this.eps)));
      if (this.g) y = tf.mul(y, this.g);
      if (this.b) y = tf.add(y, this.b);
      return y;
    });
  }
}

/**
 * RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · g.
 *
 * @example
 * ```ts
 * const norm = new RMSNorm(store, 'rms', 64);
 * const y = norm.apply(x);
 * ```
 */
export class RMSNorm {
  readonly g: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    this.g = store.add(`${name}.g`, [dim], { kind: 'ones' });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ms = tf.mean(tf.square(x), -1, true);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.eps))), this.g);
    });
  }
}

/**
 * Which normalisation a block uses: 'layernorm' (GPT-2) or 'rmsnorm' (LLaMA).
 *
 * @example
 * ```ts
 * const norm = makeNorm('rmsnorm' as NormKind, store, 'ln_f', 64);
 * ```
 */
export type NormKind = 'layernorm' | 'rmsnorm';
/**
 * A {@link LayerNorm} or an {@link RMSNorm}: both `apply(x)` over the last axis.
 *
 * @example
 * ```ts
 * const norm: Norm = makeNorm(config.norm, store, 'ln1', config.dModel);
 * ```
 */
export type Norm = LayerNorm | RMSNorm;
/**
 * Build the {@link Norm} a config names.
 *
 * @example
 * ```ts
 * const norm = makeNorm('layernorm', store, 'block0.ln1', 64);
 * ```
 */
export function makeNorm(kind: NormKind, store: ParamStore, name: string, dim: number): Norm {
  return kind === 'rmsnorm' ? new RMSNorm(store, name, dim) : new LayerNorm(store, name, dim);
}

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
 *
 * @example
 * ```ts
 * gelu(tf.tensor1d([0, 1])); // ≈ [0, 0.8412]
 * ```
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x)))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/**
 * SiLU / swish: x·σ(x).
 *
 * @example
 * ```ts
 * silu(tf.tensor1d([0, 1])); // [0, 0.7311]
 * ```
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/**
 * Inverted dropout with masks drawn from `rng` (never tf.dropout, which is unseeded).
 *
 * @example
 * ```ts
 * const h = dropout(x, 0.1, { training: true, rng }); // identity when not training
 * ```
 */
export function dropout(x: tf.Tensor, rate: number, opts: ForwardOptions | undefined): tf.Tensor {
  if (!opts?.training || rate <= 0) return x;
  const rng = opts.rng;
  if (!rng) throw new Error('dropout: training with dropout > 0 needs opts.rng (an @altar/backend Rng)');
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(rng.uniform(x.shape), rate), 'float32');
    return tf.mul(x, tf.div(keep, 1 - rate));
  });
}

/**
 * The MLP of a block: 'gelu' (GPT-2) or 'swiglu' (LLaMA, a gated linear unit).
 *
 * @example
 * ```ts
 * new Mlp(store, 'mlp', 64, 256, 'swiglu' as MlpKind);
 * ```
 */
export type MlpKind = 'gelu' | 'swiglu';

/**
 * Position-wise MLP: GELU (Vaswani 2017 / GPT-2) or SwiGLU (Shazeer 2020): W2(silu(W1 x) ⊙ W3 x).
 *
 * @example
 * ```ts
 * const mlp = new Mlp(store, 'block0.mlp', 64, 256, 'gelu');
 * const y = mlp.apply(x); // (…, 64) → (…, 64)
 * ```
 */
export class Mlp {
  readonly w1: Linear;
  readonly w2: Linear;
  readonly w3: Linear | null;
  constructor(
    store: ParamStore,
    name: string,
    dim: number,
    hidden: number,
    readonly kind: MlpKind,
    outStd?: number,
  ) {
    this.w1 = new Linear(store, `${name}.w1`, dim, hidden);
    this.w3 = kind === 'swiglu' ? new Linear(store, `${name}.w3`, dim, hidden) : null;
    this.w2 = new Linear(store, `${name}.w2`, hidden, dim, outStd === undefined ? {} : { std: outStd });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const w1 = this.w1;
      // GELU with its bias in one kernel (forward and backward) where the backend has it.
      const act = () => (w1.b ? biasGelu(matmulLast(x, w1.w), w1.b) : gelu(w1.apply(x)));
      const h = this.w3 ? tf.mul(silu(w1.apply(x)), this.w3.apply(x)) : act();
      return this.w2.apply(h);
    });
  }
}

/**
 * Sinusoidal embedding of a continuous time t ∈ [0,1] (Vaswani 2017 §3.5, as used for diffusion time
 * by Ho et al. 2020): [cos(s·t·ω_i), sin(s·t·ω_i)], ω_i = 10000^(-i/(dim/2)), s = 1000. t (B,) → (B, dim).
 *
 * @example
 * ```ts
 * timestepEmbedding(tf.tensor1d([0, 0.5]), 64); // (2, 64)
 * ```
 */
export function timestepEmbedding(t: tf.Tensor, dim: number, scale = 1000): tf.Tensor {
  return tf.tidy(() => {
    const half = Math.floor(dim / 2);
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
    const args = tf.mul(tf.reshape(tf.mul(tf.cast(t, 'float32'), scale), [-1, 1]), tf.tensor2d(freqs, [1, half])); // (B, half)
    let emb = tf.concat([tf.cos(args), tf.sin(args)], -1); // (B, 2·half)
    if (dim % 2 === 1)
      emb = tf.pad(emb, [
        [0, 0],
        [0, 1],
      ]);
    return emb;
  });
}

/**
 * Time conditioning: sinusoidal features → Linear → SiLU → Linear (DiT's TimestepEmbedder).
 *
 * @example
 * ```ts
 * const temb = new TimeEmbedder(store, 't_emb', 256, 128);
 * const c = temb.apply(t, B); // t (B,) in [0, 1] → (B, 128)
 * ```
 */
export class TimeEmbedder {
  readonly l1: Linear;
  readonly l2: Linear;
  constructor(
    store: ParamStore,
    name: string,
    readonly freqDim: number,
    readonly dim: number,
  ) {
    this.l1 = new Linear(store, `${name}.l1`, freqDim, dim);
    this.l2 = new Linear(store, `${name}.l2`, dim, dim);
  }
  /** t (B,) in [0,1] → (B, dim). A plain number is broadcast to `batch`. */
  apply(t: tf.Tensor | number, batch: number): tf.Tensor {
    return tf.tidy(() => {
      const tt = typeof t === 'number' ? tf.fill([batch], t) : t;
      return this.l2.apply(silu(this.l1.apply(timestepEmbedding(tt, this.freqDim))));
    });
  }
}

/**
 * Random Fourier features of low-dimensional inputs (Tancik et al. 2020, "Fourier Features Let Networks
 * Learn High Frequency Functions in Low Dimensional Domains", eq. 5 with Gaussian B):
 *   γ(x) = [x, sin(2π x B), cos(2π x B)],  B ∈ R^{d×m}, B_ij ~ N(0, scale²), fixed (not trained).
 * An MLP on raw 2-D coordinates is biased toward smooth functions (spectral bias) and blurs tight
 * clusters; γ lets it represent a sharp piecewise map such as the denoiser's x̂0 near t = 0.
 * B is drawn from `rng` at construction; the owner must `dispose()` it. x (…, d) → (…, d + 2m).
 *
 * @example
 * ```ts
 * const ff = new FourierFeatures(new Rng(0), 2, 16, 1);
 * const gx = ff.apply(x); // (B, 2) → (B, 2 + 32)
 * ff.dispose();
 * ```
 */
export class FourierFeatures {
  /** The frequency matrix B (d, m), already multiplied by 2π. */
  readonly freqs: tf.Tensor2D;
  readonly outDim: number;
  constructor(
    rng: Rng,
    readonly inDim: number,
    readonly count: number,
    readonly scale: number,
  ) {
    if (!Number.isInteger(inDim) || inDim < 1)
      throw new Error(`FourierFeatures: inDim must be an integer ≥ 1, got ${inDim}`);
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`FourierFeatures: count must be an integer ≥ 1, got ${count}`);
    if (!(scale > 0) || !Number.isFinite(scale))
      throw new Error(`FourierFeatures: scale must be a finite number > 0, got ${scale}`);
    const b = rng.normalArray(inDim * count, 0, scale); // (d, m) row-major
    for (let i = 0; i < b.length; i++) b[i] = 2 * Math.PI * b[i]!;
    this.freqs = tf.tensor2d(b, [inDim, count]);
    this.outDim = inDim + 2 * count;
  }
  /** The frequency matrix 2πB as a host array (d·m, row-major), for tests and inspection. */
  async frequencies(): Promise<Float32Array> {
    return (await this.freqs.data()) as Float32Array;
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const proj = matmulLast(x, this.freqs); // (…, m)
      return tf.concat([x, tf.sin(proj), tf.cos(proj)], -1); // (…, d + 2m)
    });
  }
  dispose(): void {
    this.freqs.dispose();
  }
}

/**
 * adaLN modulation (Peebles & Xie 2023, DiT): x·(1 + scale) + shift; shift/scale (B, D) broadcast over N.
 *
 * @example
 * ```ts
 * const y = modulate(norm.apply(x), shift, scale); // x (B, N, D), shift/scale (B, D)
 * ```
 */
export function modulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const b = shift.shape[0] as number;
    const d = shift.shape[1] as number;
    const expand = (t: tf.Tensor) => (x.rank === 3 ? tf.reshape(t, [b, 1, d]) : t);
    return tf.add(tf.mul(x, tf.add(1, expand(scale))), expand(shift));
  });
}
