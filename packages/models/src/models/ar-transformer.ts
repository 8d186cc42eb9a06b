/**
 * Decoder-only causal transformer (Vaswani et al. 2017; GPT-2 pre-norm layout):
 *   h = E[x] (+ P[pos]);  h += Attn(Norm(h));  h += MLP(Norm(h));  logits = Norm(h) Eᵀ (tied head).
 * Attention is 'full' (KV cache), 'sliding' (rolling window cache) or 'linear' (recurrent state).
 * Logits at position i predict token i+1; no BOS id is reserved (the caller prepends one of its tokens).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import type { ArTransformerConfig } from '../config.js';
import { Attention, type AttentionCache } from '../layers/attention.js';
import { dropout, Embedding, makeNorm, Mlp, type ForwardOptions, type Norm } from '../layers/basic.js';
import { BaseModel, checkTokens, tidyObj } from './base.js';

export interface ArState {
  /** Tokens consumed so far. */
  pos: number;
  caches: AttentionCache[];
}

interface Block {
  norm1: Norm;
  attn: Attention;
  norm2: Norm;
  mlp: Mlp;
}

export class ArTransformer extends BaseModel<ArTransformerConfig> {
  readonly vocabSize: number;
  private readonly emb: Embedding;
  private readonly pos: tf.Variable | null;
  private readonly blocks: Block[] = [];
  private readonly normF: Norm;

  constructor(config: ArTransformerConfig) {
    super(config);
    const c = config;
    this.vocabSize = c.vocabSize;
    this.emb = new Embedding(this.store, 'tok_emb', c.vocabSize, c.dModel);
    this.pos = c.positions === 'learned' ? this.store.add('pos_emb', [c.maxLen, c.dModel], { kind: 'normal', std: 0.02 }) : null;
    const outStd = 1 / Math.sqrt(c.dModel) / Math.sqrt(2 * c.nLayers);
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      this.blocks.push({
        norm1: makeNorm(c.norm, this.store, `${p}.norm1`, c.dModel),
        attn: new Attention(this.store, `${p}.attn`, {
          kind: c.attention, dModel: c.dModel, nHeads: c.nHeads, rope: c.positions === 'rope', window: c.window,
          chunk: c.linearChunk, outStd,
        }),
        norm2: makeNorm(c.norm, this.store, `${p}.norm2`, c.dModel),
        mlp: new Mlp(this.store, `${p}.mlp`, c.dModel, c.mlpRatio * c.dModel, c.mlp, outStd / Math.sqrt(c.mlpRatio)),
      });
    }
    this.normF = makeNorm(c.norm, this.store, 'norm_f', c.dModel);
  }

  /** tokens int32 (B, N) → next-token logits (B, N, V). */
  forward(tokens: tf.Tensor, opts?: ForwardOptions): tf.Tensor3D {
    checkTokens('ArTransformer.forward', tokens, 2);
    const n = tokens.shape[1] as number;
    if (this.pos && n > this.config.maxLen) {
      throw new AltarError('SEQ_TOO_LONG', `ArTransformer.forward: length ${n} exceeds maxLen ${this.config.maxLen}`);
    }
    return tf.tidy(() => {
      let h = this.emb.lookup(tokens); // (B, N, D)
      if (this.pos) h = tf.add(h, tf.slice(this.pos, [0, 0], [n, this.config.dModel]));
      h = dropout(h, this.config.dropout, opts);
      for (const blk of this.blocks) {
        h = tf.add(h, dropout(blk.attn.forward(blk.norm1.apply(h) as tf.Tensor3D), this.config.dropout, opts));
        h = tf.add(h, dropout(blk.mlp.apply(blk.norm2.apply(h)), this.config.dropout, opts));
      }
      return this.emb.logits(this.normF.apply(h)) as tf.Tensor3D;
    });
  }

  initState(batch: number): ArState {
    return { pos: 0, caches: this.blocks.map((b) => b.attn.initCache(batch)) };
  }

  /** tokens int32 (B,) at position state.pos → logits (B, V) for the next token. Does not dispose `state`. */
  step(tokens: tf.Tensor, state: ArState): { logits: tf.Tensor2D; state: ArState } {
    checkTokens('ArTransformer.step', tokens, 1);
    if (this.pos && state.pos >= this.config.maxLen) {
      throw new AltarError('SEQ_TOO_LONG', `ArTransformer.step: position ${state.pos} ≥ maxLen ${this.config.maxLen} (learned positions)`);
    }
    return tidyObj(() => {
      let h = this.emb.lookup(tokens) as tf.Tensor2D; // (B, D)
      if (this.pos) h = tf.add(h, tf.slice(this.pos, [state.pos, 0], [1, this.config.dModel]));
      const caches: AttentionCache[] = [];
      this.blocks.forEach((blk, i) => {
        const r = blk.attn.step(blk.norm1.apply(h) as tf.Tensor2D, state.caches[i] as AttentionCache);
        caches.push(r.cache);
        h = tf.add(h, r.y);
        h = tf.add(h, blk.mlp.apply(blk.norm2.apply(h)));
      });
      const logits = this.emb.logits(this.normF.apply(h)) as tf.Tensor2D;
      return { logits, state: { pos: state.pos + 1, caches } };
    });
  }

  disposeState(state: ArState): void {
    state.caches.forEach((c, i) => this.blocks[i]?.attn.disposeCache(c));
  }
}
