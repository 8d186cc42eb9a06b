/**
 * State-space language model: token embedding, nLayers residual blocks h += Mixer(Norm(h)) (optionally
 * h += MLP(Norm(h))), final norm and tied head. Mixer 'selective' is Mamba's block (Gu & Dao 2023);
 * 's4d' is S4D (Gu et al. 2022) followed by GELU and an output projection (the S4D block of §5).
 * `forward` uses each mixer's parallel/convolution mode, `step` its recurrence; both agree.
 * Logits at position i predict token i+1; no BOS id is reserved.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SsmLmConfig } from '../config.js';
import { dropout, gelu, Linear, type ForwardOptions } from '../layers/basic.js';
import { Embedding } from '../layers/embedding.js';
import { addNorm, makeNorm, type Norm } from '../layers/norm.js';
import { Mlp } from '../layers/mlp.js';
import { S4d, type S4dState } from '../layers/s4d.js';
import { SelectiveSsm, type SelectiveState } from '../layers/selective.js';
import type { ParamStore } from '../layers/params.js';
import { BaseModel, checkTokens, tidyObj } from './base.js';
import { checkFlopsArgs, linearFlops } from './flops.js';

/**
 * The recurrent state of one SSM layer: S4D's or the selective mixer's.
 *
 * @example
 * ```ts
 * const layer0: MixerState = state.layers[0]!;
 * ```
 */
export type MixerState = S4dState | SelectiveState;
/**
 * The decoding state of an {@link SsmLm}: tokens consumed and one mixer state per layer.
 *
 * @example
 * ```ts
 * let state: SsmState = ssm.initState(1);
 * ```
 */
export interface SsmState {
  pos: number;
  layers: MixerState[];
}

/** S4D block mixer: y = W_out GELU(S4D(u)) (channel mixing after the per-channel SSM). */
class S4dMixer {
  readonly ssm: S4d;
  readonly out: Linear;
  constructor(store: ParamStore, name: string, c: SsmLmConfig, outStd: number) {
    this.ssm = new S4d(store, `${name}.s4d`, { dModel: c.dModel, dState: c.dState, chunk: c.s4dChunk });
    this.out = new Linear(store, `${name}.out`, c.dModel, c.dModel, { std: outStd });
  }
  forward(u: tf.Tensor3D): tf.Tensor3D {
    return this.out.apply(gelu(this.ssm.forward(u))) as tf.Tensor3D;
  }
  initState(batch: number): S4dState {
    return this.ssm.initState(batch);
  }
  step(u: tf.Tensor2D, s: MixerState): { y: tf.Tensor2D; state: MixerState } {
    const r = this.ssm.step(u, s as S4dState);
    return { y: this.out.apply(gelu(r.y)) as tf.Tensor2D, state: r.state };
  }
  disposeState(s: MixerState): void {
    this.ssm.disposeState(s as S4dState);
  }
}

class SelectiveMixer {
  readonly ssm: SelectiveSsm;
  constructor(store: ParamStore, name: string, c: SsmLmConfig, outStd: number) {
    this.ssm = new SelectiveSsm(store, `${name}.mamba`, {
      dModel: c.dModel,
      dState: c.dState,
      expand: c.expand,
      convKernel: c.convKernel,
      scanChunk: c.scanChunk,
      outStd,
    });
  }
  forward(u: tf.Tensor3D): tf.Tensor3D {
    return this.ssm.forward(u);
  }
  initState(batch: number): SelectiveState {
    return this.ssm.initState(batch);
  }
  step(u: tf.Tensor2D, s: MixerState): { y: tf.Tensor2D; state: MixerState } {
    return this.ssm.step(u, s as SelectiveState);
  }
  disposeState(s: MixerState): void {
    this.ssm.disposeState(s as SelectiveState);
  }
}

interface Block {
  norm: Norm;
  mixer: S4dMixer | SelectiveMixer;
  norm2: Norm | null;
  mlp: Mlp | null;
}

/**
 * The state-space language model: S4D or selective (Mamba-style) mixers, `forward` in parallel for training and
 * `step` as a recurrence for generation (constant memory per token).
 *
 * @example
 * ```ts
 * const ssm = createModel({ type: 'ssm-lm', vocabSize: 256, dModel: 64, nLayers: 2, mixer: 'selective' });
 * const logits = ssm.forward(tokens); // (B, N, 256)
 * ```
 */
export class SsmLm extends BaseModel<SsmLmConfig> {
  readonly vocabSize: number;
  private readonly emb: Embedding;
  private readonly blocks: Block[] = [];
  private readonly normF: Norm;

  constructor(config: SsmLmConfig) {
    super(config);
    const c = config;
    this.vocabSize = c.vocabSize;
    this.emb = new Embedding(this.store, 'tok_emb', c.vocabSize, c.dModel);
    const outStd = 1 / Math.sqrt(c.expand * c.dModel) / Math.sqrt(2 * c.nLayers);
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blocks.${i}`;
      const mixer =
        c.mixer === 's4d'
          ? new S4dMixer(this.store, `${p}`, c, outStd)
          : new SelectiveMixer(this.store, `${p}`, c, outStd);
      this.blocks.push({
        norm: makeNorm(c.norm, this.store, `${p}.norm`, c.dModel),
        mixer,
        norm2: c.mlpRatio > 0 ? makeNorm(c.norm, this.store, `${p}.norm2`, c.dModel) : null,
        mlp: c.mlpRatio > 0 ? new Mlp(this.store, `${p}.mlp`, c.dModel, c.mlpRatio * c.dModel, 'gelu') : null,
      });
    }
    this.normF = makeNorm(c.norm, this.store, 'norm_f', c.dModel);
  }

  /** tokens int32 (B, N) → next-token logits (B, N, V). */
  forward(tokens: tf.Tensor, opts?: ForwardOptions): tf.Tensor3D {
    checkTokens('SsmLm.forward', tokens, 2);
    return tf.tidy(() => {
      let h = this.emb.lookup(tokens); // (B, N, D)
      // Each residual add is fused with the norm that reads its sum: [h, y] = [h + r, norm(h + r)].
      let r: tf.Tensor | null = null;
      let y: tf.Tensor;
      for (const blk of this.blocks) {
        [h, y] = addNorm(blk.norm, h, r);
        r = dropout(blk.mixer.forward(y as tf.Tensor3D), this.config.dropout, opts);
        if (blk.mlp && blk.norm2) {
          [h, y] = addNorm(blk.norm2, h, r);
          r = dropout(blk.mlp.apply(y), this.config.dropout, opts);
        }
      }
      return this.emb.logits(addNorm(this.normF, h, r)[1]) as tf.Tensor3D;
    });
  }

  initState(batch: number): SsmState {
    return { pos: 0, layers: this.blocks.map((b) => b.mixer.initState(batch)) };
  }

  /** tokens int32 (B,) → logits (B, V); does not dispose `state`. */
  step(tokens: tf.Tensor, state: SsmState): { logits: tf.Tensor2D; state: SsmState } {
    checkTokens('SsmLm.step', tokens, 1);
    return tidyObj(() => {
      let h: tf.Tensor = this.emb.lookup(tokens); // (B, D)
      const layers: MixerState[] = [];
      let r: tf.Tensor | null = null;
      let y: tf.Tensor;
      this.blocks.forEach((blk, i) => {
        [h, y] = addNorm(blk.norm, h, r);
        const m = blk.mixer.step(y as tf.Tensor2D, state.layers[i] as MixerState);
        layers.push(m.state);
        r = m.y;
        if (blk.mlp && blk.norm2) {
          [h, y] = addNorm(blk.norm2, h, r);
          r = blk.mlp.apply(y);
        }
      });
      const logits = this.emb.logits(addNorm(this.normF, h, r)[1]) as tf.Tensor2D;
      return { logits, state: { pos: state.pos + 1, layers } };
    });
  }

  disposeState(state: SsmState): void {
    state.layers.forEach((s, i) => this.blocks[i]?.mixer.disposeState(s));
  }

  /**
   * Analytic forward FLOPs (2 × multiply-adds) of one call on (batch, seqLen) tokens, forward or step alike
   * (the recurrence costs the same per token at any context; `contextLen` is ignored):
   *   F = B · n · [ L·(F_mix + 4dh·[mlpRatio > 0]) + 2dV ],  h = mlpRatio·d,
   * selective (Gu & Dao 2023, Alg. 2), E = expand·d, R = dt rank, N = dState, K = conv width:
   *   F_mix = 2·d·2E (in_proj) + 2KE (depthwise conv) + 2E(R + 2N) (x_proj) + 2RE (dt_proj)
   *         + 6EN (h = Āh + B̄x and y = Ch) + 2Ed (out_proj);
   * s4d (Gu et al. 2022), N complex modes per channel: F_mix = 16dN (complex Āh + B̄u: 6 real MACs,
   *   Re(Ch): 2 real MACs) + 2d² (output Linear). Counted in recurrent form whatever mode tfjs runs.
   */
  flops(batch: number, seqLen: number, contextLen = seqLen): number {
    checkFlopsArgs('SsmLm.flops', batch, seqLen, Math.max(contextLen, seqLen));
    const { dModel: d, vocabSize: V, mlpRatio } = this.config;
    let perToken = linearFlops(d, V);
    for (const blk of this.blocks) {
      const m = blk.mixer;
      if (m instanceof SelectiveMixer) {
        const { e, n, k, r } = m.ssm;
        perToken +=
          linearFlops(d, 2 * e) +
          2 * k * e +
          linearFlops(e, r + 2 * n) +
          linearFlops(r, e) +
          6 * e * n +
          linearFlops(e, d);
      } else {
        perToken += 16 * d * m.ssm.n + linearFlops(d, d);
      }
      if (blk.mlp) perToken += 2 * linearFlops(d, mlpRatio * d);
    }
    return batch * seqLen * perToken;
  }
}
