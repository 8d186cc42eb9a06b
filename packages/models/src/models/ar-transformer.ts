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
import { dropout, type ForwardOptions } from '../layers/basic.js';
import { Embedding } from '../layers/embedding.js';
import { addNorm, makeNorm, type Norm } from '../layers/norm.js';
import { Mlp } from '../layers/mlp.js';
import { BaseModel, checkTokens, tidyObj } from './base.js';
import { checkFlopsArgs, linearFlops, mlpFlops, sumMinContext } from './flops.js';

/**
 * The decoding state of an {@link ArTransformer}: tokens consumed and one attention cache per layer.
 *
 * @example
 * ```ts
 * let state: ArState = lm.initState(1);
 * const r = lm.step(tf.tensor1d([0], 'int32'), state);
 * lm.disposeState(state);
 * state = r.state;
 * ```
 */
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

/**
 * The causal transformer language model (GPT-style; full, sliding-window or linear attention), with `forward` for
 * training and a cached `step` for decoding; `flops()` counts its work analytically.
 *
 * @example
 * ```ts
 * const lm = new ArTransformer(validateModelConfig({ type: 'ar-transformer', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4 }) as ArTransformerConfig);
 * const logits = lm.forward(tokens); // (B, N) → (B, N, 256)
 * const { samples } = await sampleAr(lm, { prompt: [[0]], length: 32, rng: new Rng(0) });
 * ```
 */
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
    this.pos =
      c.positions === 'learned' ? this.store.add('pos_emb', [c.maxLen, c.dModel], { kind: 'normal', std: 0.02 }) : null;
    const outStd = 1 / Math.sqrt(c.dModel) / Math.sqrt(2 * c.nLayers);
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      this.blocks.push({
        norm1: makeNorm(c.norm, this.store, `${p}.norm1`, c.dModel),
        attn: new Attention(this.store, `${p}.attn`, {
          kind: c.attention,
          dModel: c.dModel,
          nHeads: c.nHeads,
          rope: c.positions === 'rope',
          window: c.window,
          chunk: c.linearChunk,
          outStd,
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
      // Each residual add is fused with the norm that reads its sum: [h, y] = [h + r, norm(h + r)].
      let r: tf.Tensor | null = null;
      let y: tf.Tensor;
      for (const blk of this.blocks) {
        [h, y] = addNorm(blk.norm1, h, r);
        r = dropout(blk.attn.forward(y as tf.Tensor3D), this.config.dropout, opts);
        [h, y] = addNorm(blk.norm2, h, r);
        r = dropout(blk.mlp.apply(y), this.config.dropout, opts);
      }
      return this.emb.logits(addNorm(this.normF, h, r)[1]) as tf.Tensor3D;
    });
  }

  initState(batch: number): ArState {
    return { pos: 0, caches: this.blocks.map((b) => b.attn.initCache(batch)) };
  }

  /** tokens int32 (B,) at position state.pos → logits (B, V) for the next token. Does not dispose `state`. */
  step(tokens: tf.Tensor, state: ArState): { logits: tf.Tensor2D; state: ArState } {
    checkTokens('ArTransformer.step', tokens, 1);
    if (this.pos && state.pos >= this.config.maxLen) {
      throw new AltarError(
        'SEQ_TOO_LONG',
        `ArTransformer.step: position ${state.pos} ≥ maxLen ${this.config.maxLen} (learned positions)`,
      );
    }
    return tidyObj(() => {
      let h: tf.Tensor = this.emb.lookup(tokens); // (B, D)
      if (this.pos) h = tf.add(h, tf.slice(this.pos, [state.pos, 0], [1, this.config.dModel]));
      const caches: AttentionCache[] = [];
      let r: tf.Tensor | null = null;
      let y: tf.Tensor;
      this.blocks.forEach((blk, i) => {
        [h, y] = addNorm(blk.norm1, h, r);
        const a = blk.attn.step(y as tf.Tensor2D, state.caches[i] as AttentionCache);
        caches.push(a.cache);
        [h, y] = addNorm(blk.norm2, h, a.y);
        r = blk.mlp.apply(y);
      });
      const logits = this.emb.logits(addNorm(this.normF, h, r)[1]) as tf.Tensor2D;
      return { logits, state: { pos: state.pos + 1, caches } };
    });
  }

  /**
   * Analytic forward FLOPs (2 × multiply-adds) of one call on `seqLen` new tokens per row whose last token
   * sees `contextLen` positions (forward: contextLen = seqLen; cached step at state.pos: seqLen 1,
   * contextLen pos + 1). The new tokens sit at 1-based positions p = contextLen − seqLen + 1 .. contextLen:
   *   F = B · [ n·(L·(8d² + F_mlp) + 2dV) + L·Σ_p A(p) ]
   * with 8d² = QKV (2·d·3d) + output projection (2·d·d), F_mlp = 4dh (GELU) or 6dh (SwiGLU), h = mlpRatio·d,
   * 2dV the tied head, and attention per token and layer
   *   full: A(p) = 4·d·p (QKᵀ and AV over p keys); sliding: 4·d·min(p, W);
   *   linear: A = 4·d·d_h + 2d (S += φ(k)ᵀv, φ(q)S and the normaliser φ(q)·z; Katharopoulos et al. 2020).
   * The useful causal work is counted (the uncached tfjs forward also evaluates masked scores).
   */
  flops(batch: number, seqLen: number, contextLen = seqLen): number {
    checkFlopsArgs('ArTransformer.flops', batch, seqLen, contextLen);
    const { dModel: d, nLayers: L, nHeads, vocabSize: V, mlp, mlpRatio, attention, window } = this.config;
    const dense = L * (linearFlops(d, 3 * d) + linearFlops(d, d) + mlpFlops(mlp, d, mlpRatio * d)) + linearFlops(d, V);
    const attn =
      attention === 'linear'
        ? seqLen * (4 * d * (d / nHeads) + 2 * d)
        : 4 * d * sumMinContext(contextLen - seqLen + 1, contextLen, attention === 'sliding' ? window : Infinity);
    return batch * (seqLen * dense + L * attn);
  }

  disposeState(state: ArState): void {
    state.caches.forEach((c, i) => this.blocks[i]?.attn.disposeCache(c));
  }
}
