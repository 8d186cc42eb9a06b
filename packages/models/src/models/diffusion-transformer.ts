/**
 * Time-conditioned bidirectional transformer for discrete diffusion (D3PM / masked diffusion) with
 * adaLN-Zero conditioning (Peebles & Xie 2023, DiT §3.2): per block, c = TimeEmbed(t) gives
 * (shift₁, scale₁, gate₁, shift₂, scale₂, gate₂) = Linear(SiLU(c)) (zero-initialised), and
 *   h += gate₁ ⊙ Attn(LN(h)·(1+scale₁) + shift₁);  h += gate₂ ⊙ MLP(LN(h)·(1+scale₂) + shift₂).
 * Input vocabulary V+1 where id V is [MASK]; output logits over x0's V data tokens (tied head rows 0..V−1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { DiffusionTransformerConfig } from '../config.js';
import { Attention } from '../layers/attention.js';
import { dropout, Embedding, LayerNorm, Linear, Mlp, modulate, silu, TimeEmbedder, type ForwardOptions } from '../layers/basic.js';
import { BaseModel, checkTokens } from './base.js';

interface Block {
  ada: Linear;
  attn: Attention;
  mlp: Mlp;
}

export class DiffusionTransformer extends BaseModel<DiffusionTransformerConfig> {
  /** V: number of data tokens (logits width). */
  readonly vocabSize: number;
  /** The [MASK] token id (= V). */
  readonly maskId: number;
  private readonly emb: Embedding;
  private readonly pos: tf.Variable | null;
  private readonly time: TimeEmbedder;
  private readonly blocks: Block[] = [];
  private readonly ln: LayerNorm;
  private readonly adaF: Linear;

  constructor(config: DiffusionTransformerConfig) {
    super(config);
    const c = config;
    this.vocabSize = c.vocabSize;
    this.maskId = c.vocabSize;
    this.emb = new Embedding(this.store, 'tok_emb', c.vocabSize + 1, c.dModel);
    this.pos = c.positions === 'learned' ? this.store.add('pos_emb', [c.maxLen, c.dModel], { kind: 'normal', std: 0.02 }) : null;
    this.time = new TimeEmbedder(this.store, 't_emb', c.dModel, c.dModel);
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      this.blocks.push({
        ada: new Linear(this.store, `${p}.ada`, c.dModel, 6 * c.dModel, { zero: true }),
        attn: new Attention(this.store, `${p}.attn`, { kind: 'bidirectional', dModel: c.dModel, nHeads: c.nHeads, rope: c.positions === 'rope' }),
        mlp: new Mlp(this.store, `${p}.mlp`, c.dModel, c.mlpRatio * c.dModel, c.mlp),
      });
    }
    this.ln = new LayerNorm(null, 'ln', c.dModel, 1e-6, false);
    this.adaF = new Linear(this.store, 'ada_f', c.dModel, 2 * c.dModel, { zero: true });
  }

  /**
   * zt int32 (B, N) over 0..V (V = [MASK]); t float32 (B,) in [0, 1] (or a number) → x0 logits (B, N, V).
   */
  predictX0Logits(zt: tf.Tensor, t: tf.Tensor | number, opts?: ForwardOptions): tf.Tensor3D {
    checkTokens('DiffusionTransformer.predictX0Logits', zt, 2);
    const [b, n] = zt.shape as [number, number];
    if (this.pos && n > this.config.maxLen) {
      throw new AltarError('SEQ_TOO_LONG', `DiffusionTransformer.predictX0Logits: length ${n} exceeds maxLen ${this.config.maxLen}`);
    }
    return tf.tidy(() => {
      const c = silu(this.time.apply(t, b)); // (B, D)
      let h = this.emb.lookup(zt); // (B, N, D)
      if (this.pos) h = tf.add(h, tf.slice(this.pos, [0, 0], [n, this.config.dModel]));
      const gate = (g: tf.Tensor, x: tf.Tensor) => tf.mul(tf.expandDims(g, 1), x);
      for (const blk of this.blocks) {
        const [sh1, sc1, g1, sh2, sc2, g2] = tf.split(blk.ada.apply(c), 6, -1) as tf.Tensor[] as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const a = blk.attn.forward(modulate(this.ln.apply(h), sh1, sc1) as tf.Tensor3D);
        h = tf.add(h, dropout(gate(g1, a), this.config.dropout, opts));
        const m = blk.mlp.apply(modulate(this.ln.apply(h), sh2, sc2));
        h = tf.add(h, dropout(gate(g2, m), this.config.dropout, opts));
      }
      const [shF, scF] = tf.split(this.adaF.apply(c), 2, -1) as [tf.Tensor, tf.Tensor];
      return this.emb.logits(modulate(this.ln.apply(h), shF, scF), this.vocabSize) as tf.Tensor3D;
    });
  }
}
