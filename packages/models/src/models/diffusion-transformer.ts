/**
 * Time-conditioned bidirectional transformer for discrete diffusion (D3PM / masked diffusion) with
 * adaLN-Zero conditioning (Peebles & Xie 2023, DiT §3.2): per block, c = TimeEmbed(t) gives
 * (shift₁, scale₁, gate₁, shift₂, scale₂, gate₂) = Linear(SiLU(c)) (zero-initialised), and
 *   h += gate₁ ⊙ Attn(LN(h)·(1+scale₁) + shift₁);  h += gate₂ ⊙ MLP(LN(h)·(1+scale₂) + shift₂).
 * Input vocabulary V+1 where id V is [MASK]; output logits over x0's V data tokens (tied head rows 0..V−1).
 * With `timeConditioning: false` there is no TimeEmbed: each block's (and the final) modulation is a learned
 * zero-initialised vector, so the output does not depend on t (masked diffusion needs no time input:
 * Sahoo et al. 2024, MDLM §3.2; Ou et al. 2024, RADD) and the cached masked sampler is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { DiffusionTransformerConfig } from '../config.js';
import { Attention } from '../layers/attention.js';
import { dropout, Linear, modulate, silu, type ForwardOptions } from '../layers/basic.js';
import { Embedding } from '../layers/embedding.js';
import { addNorm, LayerNorm } from '../layers/norm.js';
import { Mlp, TimeEmbedder } from '../layers/mlp.js';
import { BaseModel, checkTokens } from './base.js';
import { checkFlopsArgs, linearFlops, mlpFlops } from './flops.js';

interface Block {
  /** Time-conditioned modulation (timeConditioning) … */
  ada: Linear | null;
  /** … or a learned constant (6D,) when the model ignores t. */
  adaConst: tf.Variable | null;
  attn: Attention;
  mlp: Mlp;
}

/**
 * The bidirectional, time-conditioned (adaLN) transformer denoiser for masked and D3PM diffusion: logits over the
 * V data tokens of x0 given z_t (with [MASK] = V) and t.
 *
 * @example
 * ```ts
 * const model = createModel({ type: 'diffusion-transformer', vocabSize: 32, dModel: 64, nLayers: 2, nHeads: 4 });
 * const logits = model.predictX0Logits(zt, tf.fill([B], 0.5) as tf.Tensor1D); // (B, N, 32)
 * ```
 */
export class DiffusionTransformer extends BaseModel<DiffusionTransformerConfig> {
  /** V: number of data tokens (logits width). */
  readonly vocabSize: number;
  /** The [MASK] token id (= V). */
  readonly maskId: number;
  private readonly emb: Embedding;
  private readonly pos: tf.Variable | null;
  private readonly time: TimeEmbedder | null;
  private readonly blocks: Block[] = [];
  private readonly ln: LayerNorm;
  private readonly adaF: Linear | null;
  private readonly adaFConst: tf.Variable | null;

  constructor(config: DiffusionTransformerConfig) {
    super(config);
    const c = config;
    this.vocabSize = c.vocabSize;
    this.maskId = c.vocabSize;
    this.emb = new Embedding(this.store, 'tok_emb', c.vocabSize + 1, c.dModel);
    this.pos =
      c.positions === 'learned' ? this.store.add('pos_emb', [c.maxLen, c.dModel], { kind: 'normal', std: 0.02 }) : null;
    const tc = c.timeConditioning;
    this.time = tc ? new TimeEmbedder(this.store, 't_emb', c.dModel, c.dModel) : null;
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      this.blocks.push({
        ada: tc ? new Linear(this.store, `${p}.ada`, c.dModel, 6 * c.dModel, { zero: true }) : null,
        adaConst: tc ? null : this.store.add(`${p}.ada_const`, [6 * c.dModel], { kind: 'zeros' }),
        attn: new Attention(this.store, `${p}.attn`, {
          kind: 'bidirectional',
          dModel: c.dModel,
          nHeads: c.nHeads,
          rope: c.positions === 'rope',
        }),
        mlp: new Mlp(this.store, `${p}.mlp`, c.dModel, c.mlpRatio * c.dModel, c.mlp),
      });
    }
    this.ln = new LayerNorm(null, 'ln', c.dModel, 1e-6, false);
    this.adaF = tc ? new Linear(this.store, 'ada_f', c.dModel, 2 * c.dModel, { zero: true }) : null;
    this.adaFConst = tc ? null : this.store.add('ada_f_const', [2 * c.dModel], { kind: 'zeros' });
  }

  /**
   * zt int32 (B, N) over 0..V (V = [MASK]); t float32 (B,) in [0, 1] (or a number) → x0 logits (B, N, V).
   */
  predictX0Logits(zt: tf.Tensor, t: tf.Tensor | number, opts?: ForwardOptions): tf.Tensor3D {
    checkTokens('DiffusionTransformer.predictX0Logits', zt, 2);
    const [b, n] = zt.shape as [number, number];
    if (this.pos && n > this.config.maxLen) {
      throw new AltarError(
        'SEQ_TOO_LONG',
        `DiffusionTransformer.predictX0Logits: length ${n} exceeds maxLen ${this.config.maxLen}`,
      );
    }
    return tf.tidy(() => {
      const c = this.time ? silu(this.time.apply(t, b)) : null; // (B, D); null: t is ignored
      // (B, k·D) from the time embedding, or a learned constant (1, k·D) broadcast over the batch
      const mod = (lin: Linear | null, v: tf.Variable | null) =>
        c && lin ? lin.apply(c) : tf.reshape(v as tf.Variable, [1, -1]);
      let h = this.emb.lookup(zt); // (B, N, D)
      if (this.pos) h = tf.add(h, tf.slice(this.pos, [0, 0], [n, this.config.dModel]));
      const gate = (g: tf.Tensor, x: tf.Tensor) => tf.mul(tf.expandDims(g, 1), x);
      // Each residual add is fused with the norm that reads its sum: [h, y] = [h + r, LN(h + r)].
      let r: tf.Tensor | null = null;
      let y: tf.Tensor;
      for (const blk of this.blocks) {
        const [sh1, sc1, g1, sh2, sc2, g2] = tf.split(mod(blk.ada, blk.adaConst), 6, -1) as tf.Tensor[] as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
        ];
        [h, y] = addNorm(this.ln, h, r);
        const a = blk.attn.forward(modulate(y, sh1, sc1) as tf.Tensor3D);
        [h, y] = addNorm(this.ln, h, dropout(gate(g1, a), this.config.dropout, opts));
        const m = blk.mlp.apply(modulate(y, sh2, sc2));
        r = dropout(gate(g2, m), this.config.dropout, opts);
      }
      const [shF, scF] = tf.split(mod(this.adaF, this.adaFConst), 2, -1) as [tf.Tensor, tf.Tensor];
      const yF = addNorm(this.ln, h, r)[1]; // the last residual sum itself is unused
      return this.emb.logits(modulate(yF, shF, scF), this.vocabSize) as tf.Tensor3D;
    });
  }

  /**
   * Analytic forward FLOPs (2 × multiply-adds) of one call on (batch, seqLen = N):
   *   F = B · [ N·(L·(8d² + F_mlp) + 2dV) + L·4·d·N² + F_t ]
   * with 8d² = QKV + output projection, F_mlp = 4dh (GELU) or 6dh (SwiGLU), h = mlpRatio·d, 2dV the tied
   * head, 4·d·N per token and layer for bidirectional QKᵀ and AV, and the per-row time conditioning
   * F_t = 2(d·d + d·d) (TimeEmbed) + L·2·d·6d (adaLN) + 2·d·2d (final adaLN), 0 with timeConditioning false.
   * `contextLen` is accepted for the cost-hint interface and ignored (every position sees all N).
   */
  flops(batch: number, seqLen: number, contextLen = seqLen): number {
    checkFlopsArgs('DiffusionTransformer.flops', batch, seqLen, Math.max(contextLen, seqLen));
    const { dModel: d, nLayers: L, vocabSize: V, mlp, mlpRatio, timeConditioning } = this.config;
    const n = seqLen;
    const perToken =
      L * (linearFlops(d, 3 * d) + linearFlops(d, d) + mlpFlops(mlp, d, mlpRatio * d)) + linearFlops(d, V);
    const cond = timeConditioning
      ? linearFlops(d, d) + linearFlops(d, d) + L * linearFlops(d, 6 * d) + linearFlops(d, 2 * d)
      : 0;
    return batch * (n * perToken + L * 4 * d * n * n + cond);
  }
}
