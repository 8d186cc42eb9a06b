/**
 * Time-conditioned MLP denoiser for vectors (the 2-D and d-dimensional Gaussian mixtures):
 *   h = W_in γ(x);  per block h += W₂ GELU(W₁ (LN(h)(1+scale) + shift)), (shift, scale) = Linear(SiLU(TimeEmbed(t)))
 *   (adaLN conditioning, Peebles & Xie 2023);  out = W_out LN(h).
 * γ(x) = x, or with `fourierFeatures` = m > 0 the random Fourier features [x, sin(2πxB), cos(2πxB)]
 * (Tancik et al. 2020), B (d, m) fixed and drawn from Rng(seed).fork('fourier') — not a weight, so
 * checkpoints hold the same tensors as before and the config (seed) rebuilds B.
 * Output is the declared `prediction` (eps, x0 or v; Ho et al. 2020; Salimans & Ho 2022 for v).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import type { MlpDenoiserConfig, PredictionKind } from '../config.js';
import { gelu, Linear, modulate, silu, type ForwardOptions } from '../layers/basic.js';
import { LayerNorm } from '../layers/norm.js';
import { TimeEmbedder } from '../layers/mlp.js';
import { FourierFeatures } from '../layers/fourier.js';
import { BaseModel } from './base.js';
import { checkFlopsArgs, linearFlops } from './flops.js';

interface Block {
  ada: Linear;
  w1: Linear;
  w2: Linear;
}

/**
 * A time-conditioned MLP denoiser for vectors (the 2-D mixtures), predicting ε, x0 or v.
 *
 * @example
 * ```ts
 * const model = createModel({ type: 'mlp-denoiser', dim: 2, prediction: 'eps' });
 * const epsHat = model.predict(zt, t); // zt (B, 2), t (B,) → (B, 2)
 * ```
 */
export class MlpDenoiser extends BaseModel<MlpDenoiserConfig> {
  readonly prediction: PredictionKind;
  private readonly inp: Linear;
  private readonly fourier: FourierFeatures | null;
  private readonly time: TimeEmbedder;
  private readonly blocks: Block[] = [];
  private readonly ln: LayerNorm;
  private readonly out: Linear;

  constructor(config: MlpDenoiserConfig) {
    super(config);
    const c = config;
    this.prediction = c.prediction;
    this.fourier =
      c.fourierFeatures > 0
        ? new FourierFeatures(new Rng(c.seed).fork('fourier'), c.dim, c.fourierFeatures, c.fourierScale)
        : null;
    this.inp = new Linear(this.store, 'in', this.fourier ? this.fourier.outDim : c.dim, c.hidden);
    this.time = new TimeEmbedder(this.store, 't_emb', Math.max(16, c.hidden), c.hidden);
    for (let i = 0; i < c.nLayers; i++) {
      this.blocks.push({
        ada: new Linear(this.store, `blocks.${i}.ada`, c.hidden, 2 * c.hidden, { zero: true }),
        w1: new Linear(this.store, `blocks.${i}.w1`, c.hidden, 2 * c.hidden),
        w2: new Linear(this.store, `blocks.${i}.w2`, 2 * c.hidden, c.hidden, {
          std: 1 / Math.sqrt(2 * c.hidden * c.nLayers),
        }),
      });
    }
    this.ln = new LayerNorm(null, 'ln', c.hidden, 1e-6, false);
    this.out = new Linear(this.store, 'out', c.hidden, c.dim);
  }

  /** zt (B, d), t (B,) in [0, 1] (or a number) → prediction (B, d). */
  predict(zt: tf.Tensor, t: tf.Tensor | number, _opts?: ForwardOptions): tf.Tensor {
    if (zt.rank !== 2 || zt.shape[1] !== this.config.dim) {
      throw new Error(`MlpDenoiser.predict: expected zt of shape (B, ${this.config.dim}), got [${zt.shape}]`);
    }
    return tf.tidy(() => {
      const c = silu(this.time.apply(t, zt.shape[0] as number)); // (B, H)
      let h = this.inp.apply(this.fourier ? this.fourier.apply(zt) : zt); // (B, H)
      for (const blk of this.blocks) {
        const [sh, sc] = tf.split(blk.ada.apply(c), 2, -1) as [tf.Tensor, tf.Tensor];
        h = tf.add(h, blk.w2.apply(gelu(blk.w1.apply(modulate(this.ln.apply(h), sh, sc)))));
      }
      return this.out.apply(this.ln.apply(h));
    });
  }

  /**
   * Analytic forward FLOPs (2 × multiply-adds) of one call on `batch` vectors (seqLen rows each, 1 for
   * predict's (B, d) input; `contextLen` ignored), H = hidden, F = max(16, H) time features,
   * D = dim (+ 2m with m Fourier features, which add 2·dim·m for xB; sin/cos not counted):
   *   F = B · n · [ 2·dim·m + 2·D·H (in) + 2(F·H + H·H) (TimeEmbed) + L·(2·H·2H (adaLN) + 2·H·2H + 2·2H·H) + 2·H·dim (out) ].
   */
  flops(batch: number, seqLen = 1, contextLen = seqLen): number {
    checkFlopsArgs('MlpDenoiser.flops', batch, seqLen, Math.max(contextLen, seqLen));
    const { dim, hidden: H, nLayers: L, fourierFeatures: m } = this.config;
    const D = dim + 2 * m;
    const perRow =
      2 * dim * m +
      linearFlops(D, H) +
      linearFlops(Math.max(16, H), H) +
      linearFlops(H, H) +
      L * (linearFlops(H, 2 * H) + linearFlops(H, 2 * H) + linearFlops(2 * H, H)) +
      linearFlops(H, dim);
    return batch * seqLen * perRow;
  }

  /** The Fourier frequency matrix 2πB (dim·m, row-major), or null without Fourier features. */
  async fourierFrequencies(): Promise<Float32Array | null> {
    return this.fourier ? this.fourier.frequencies() : null;
  }

  override dispose(): void {
    this.fourier?.dispose();
    super.dispose();
  }
}
