/**
 * Small U-Net denoiser for images (Ronneberger et al. 2015; the DDPM variant of Ho et al. 2020):
 * residual blocks with time embedding added after the first conv, an encoder that halves the resolution
 * per level, a middle block, and a decoder that concatenates the encoder's skip at each level.
 * NHWC tensors (B, H, W, C). 3×3 convs are im2col + matmul and resampling is space-to-depth /
 * depth-to-space + 1×1 projections, so every op has a gradient on cpu, wasm and webgpu (the wasm
 * backend has no Conv2DBackpropFilter kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PredictionKind, UNetConfig } from '../config.js';
import { Linear, silu, type ForwardOptions } from '../layers/basic.js';
import { LayerNorm } from '../layers/norm.js';
import { TimeEmbedder } from '../layers/mlp.js';
import type { ParamStore } from '../layers/params.js';
import { BaseModel } from './base.js';
import { checkFlopsArgs, linearFlops } from './flops.js';

/**
 * 3×3 'same' convolution as im2col (9 shifted slices) + one matmul: x (B,H,W,Cin) → (B,H,W,Cout).
 *
 * @example
 * ```ts
 * const conv = new Conv3x3(store, 'conv_in', 3, 32);
 * const y = conv.apply(x); // (B, H, W, 3) → (B, H, W, 32)
 * ```
 */
export class Conv3x3 {
  readonly lin: Linear;
  constructor(store: ParamStore, name: string, cin: number, cout: number, std?: number) {
    this.lin = new Linear(store, name, 9 * cin, cout, std === undefined ? {} : { std });
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w, c] = x.shape;
      const xp = tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]);
      const cols: tf.Tensor[] = [];
      for (let dy = 0; dy < 3; dy++)
        for (let dx = 0; dx < 3; dx++) cols.push(tf.slice(xp, [0, dy, dx, 0], [b, h, w, c]));
      return this.lin.apply(tf.concat(cols, 3)) as tf.Tensor4D; // (B, H, W, 9·Cin) → (B, H, W, Cout)
    });
  }
}

class ResBlock {
  readonly n1: LayerNorm;
  readonly c1: Conv3x3;
  readonly t: Linear;
  readonly n2: LayerNorm;
  readonly c2: Conv3x3;
  readonly skip: Linear | null;
  constructor(store: ParamStore, name: string, cin: number, cout: number, tdim: number) {
    this.n1 = new LayerNorm(store, `${name}.n1`, cin);
    this.c1 = new Conv3x3(store, `${name}.c1`, cin, cout);
    this.t = new Linear(store, `${name}.t`, tdim, cout);
    this.n2 = new LayerNorm(store, `${name}.n2`, cout);
    this.c2 = new Conv3x3(store, `${name}.c2`, cout, cout, 0.1 / Math.sqrt(9 * cout));
    this.skip = cin === cout ? null : new Linear(store, `${name}.skip`, cin, cout);
  }
  apply(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D {
    const [b] = x.shape;
    let h = this.c1.apply(silu(this.n1.apply(x)) as tf.Tensor4D);
    const tt = this.t.apply(temb); // (B, Cout)
    h = tf.add(h, tf.reshape(tt, [b, 1, 1, -1]));
    h = this.c2.apply(silu(this.n2.apply(h)) as tf.Tensor4D);
    return tf.add(this.skip ? this.skip.apply(x) : x, h) as tf.Tensor4D;
  }
}

/** (B, H, W, C) → (B, H/2, W/2, 4C) (space-to-depth with rank ≤ 5 transposes). */
function spaceToDepth(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const t = tf.reshape(x, [b, h / 2, 2, w / 2, 2 * c]); // (B, H/2, 2, W/2, 2C)
  return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4]), [b, h / 2, w / 2, 4 * c]);
}
/** (B, h, w, 4C) → (B, 2h, 2w, C), the inverse of spaceToDepth. */
function depthToSpace(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c4] = x.shape;
  const c = c4 / 4;
  const t = tf.reshape(x, [b, h, w, 2, 2 * c]); // (B, h, w, 2, 2C)
  return tf.reshape(tf.transpose(t, [0, 1, 3, 2, 4]), [b, 2 * h, 2 * w, c]);
}

/**
 * The time-conditioned U-Net denoiser for images (NHWC), predicting ε, x0 or v.
 *
 * @example
 * ```ts
 * const unet = createModel({ type: 'unet', imageSize: 16, channels: 1, prediction: 'eps' });
 * const epsHat = unet.predict(zt, t); // (B, 16, 16, 1)
 * ```
 */
export class UNet extends BaseModel<UNetConfig> {
  readonly prediction: PredictionKind;
  private readonly time: TimeEmbedder;
  private readonly inConv: Conv3x3;
  private readonly down: ResBlock[] = [];
  private readonly downs: Linear[] = [];
  private readonly mid: ResBlock;
  private readonly up: ResBlock[] = [];
  private readonly ups: Linear[] = [];
  private readonly nOut: LayerNorm;
  private readonly outConv: Conv3x3;

  constructor(config: UNetConfig) {
    super(config);
    const c = config;
    this.prediction = c.prediction;
    const ch = c.channelMults.map((m) => m * c.baseChannels);
    const tdim = 4 * c.baseChannels;
    this.time = new TimeEmbedder(this.store, 't_emb', c.baseChannels, tdim);
    this.inConv = new Conv3x3(this.store, 'in', c.channels, ch[0] as number);
    const levels = ch.length;
    for (let i = 0; i < levels; i++) {
      const ci = ch[i] as number;
      this.down.push(new ResBlock(this.store, `down.${i}`, ci, ci, tdim));
      if (i < levels - 1) this.downs.push(new Linear(this.store, `down.${i}.pool`, 4 * ci, ch[i + 1] as number));
    }
    const last = ch[levels - 1] as number;
    this.mid = new ResBlock(this.store, 'mid', last, last, tdim);
    for (let i = levels - 1; i >= 0; i--) {
      const ci = ch[i] as number;
      this.up.push(new ResBlock(this.store, `up.${i}`, 2 * ci, ci, tdim));
      if (i > 0) this.ups.push(new Linear(this.store, `up.${i}.unpool`, ci, 4 * (ch[i - 1] as number)));
    }
    this.nOut = new LayerNorm(this.store, 'out.norm', ch[0] as number);
    this.outConv = new Conv3x3(
      this.store,
      'out.conv',
      ch[0] as number,
      c.channels,
      0.1 / Math.sqrt(9 * (ch[0] as number)),
    );
  }

  /** zt (B, S, S, C) NHWC, t (B,) in [0, 1] (or a number) → prediction (B, S, S, C). */
  predict(zt: tf.Tensor, t: tf.Tensor | number, _opts?: ForwardOptions): tf.Tensor {
    const { imageSize: s, channels } = this.config;
    if (zt.rank !== 4 || zt.shape[1] !== s || zt.shape[2] !== s || zt.shape[3] !== channels) {
      throw new Error(`UNet.predict: expected zt of shape (B, ${s}, ${s}, ${channels}), got [${zt.shape}]`);
    }
    return tf.tidy(() => {
      const temb = silu(this.time.apply(t, zt.shape[0] as number)) as tf.Tensor2D; // (B, tdim)
      let h = this.inConv.apply(zt as tf.Tensor4D);
      const skips: tf.Tensor4D[] = [];
      this.down.forEach((blk, i) => {
        h = blk.apply(h, temb);
        skips.push(h);
        const pool = this.downs[i];
        if (pool) h = pool.apply(spaceToDepth(h)) as tf.Tensor4D; // halve the resolution
      });
      h = this.mid.apply(h, temb);
      this.up.forEach((blk, j) => {
        const skip = skips[skips.length - 1 - j] as tf.Tensor4D;
        h = blk.apply(tf.concat([h, skip], 3) as tf.Tensor4D, temb);
        const unpool = this.ups[j];
        if (unpool) h = depthToSpace(unpool.apply(h) as tf.Tensor4D); // double the resolution
      });
      return this.outConv.apply(silu(this.nOut.apply(h)) as tf.Tensor4D);
    });
  }

  /**
   * Analytic forward FLOPs (2 × multiply-adds) of one call on `batch` images (seqLen images per row, 1 for
   * predict's input; `contextLen` ignored). With c_i = channelMults[i]·base, P_i = (S/2^i)² pixels at level i,
   * a 3×3 conv Cin→Cout costs P·2·9·Cin·Cout and a ResBlock(Cin→Cout) at P pixels
   *   R(Cin, Cout, P) = P·(2·9·Cin·Cout + 2·9·Cout² + 2·Cin·Cout·[Cin ≠ Cout]) + 2·tdim·Cout,
   * so F = B · [ 2(base·tdim + tdim²) + P_0·2·9·C·c_0 + Σ_i R(c_i, c_i, P_i) + Σ_{i<last} P_{i+1}·2·4c_i·c_{i+1}
   *   + R(c_last, c_last, P_last) + Σ_i R(2c_i, c_i, P_i) + Σ_{i>0} P_i·2·c_i·4c_{i−1} + P_0·2·9·c_0·C ], tdim = 4·base.
   */
  flops(batch: number, seqLen = 1, contextLen = seqLen): number {
    checkFlopsArgs('UNet.flops', batch, seqLen, Math.max(contextLen, seqLen));
    const { imageSize: S, channels: C, baseChannels: base, channelMults } = this.config;
    const ch = channelMults.map((m) => m * base);
    const tdim = 4 * base;
    const P = (i: number) => (S / 2 ** i) ** 2;
    const conv = (cin: number, cout: number, p: number) => p * linearFlops(9 * cin, cout);
    const res = (cin: number, cout: number, p: number) =>
      conv(cin, cout, p) +
      conv(cout, cout, p) +
      (cin !== cout ? p * linearFlops(cin, cout) : 0) +
      linearFlops(tdim, cout);
    const last = ch.length - 1;
    let f =
      linearFlops(base, tdim) +
      linearFlops(tdim, tdim) +
      conv(C, ch[0] as number, P(0)) +
      conv(ch[0] as number, C, P(0));
    ch.forEach((ci, i) => {
      f += res(ci, ci, P(i)) + res(2 * ci, ci, P(i));
      if (i < last) f += P(i + 1) * linearFlops(4 * ci, ch[i + 1] as number);
      if (i > 0) f += P(i) * linearFlops(ci, 4 * (ch[i - 1] as number));
    });
    f += res(ch[last] as number, ch[last] as number, P(last));
    return batch * seqLen * f;
  }
}
