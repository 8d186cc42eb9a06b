/**
 * Multi-head attention in four forms behind one interface (`AttentionLayer`), so a model swaps them by
 * config:
 *   - 'full'          causal softmax attention (Vaswani et al. 2017, eq. 1) with a growing KV cache;
 *   - 'bidirectional' unmasked softmax attention (denoisers); no step;
 *   - 'sliding'       causal attention to the last W positions (Beltagy et al. 2020, Longformer; Mistral's
 *                     rolling-buffer cache): training is blocked O(N·W), decoding keeps a ring buffer of W keys;
 *   - 'linear'        causal linear attention (Katharopoulos et al. 2020, eq. 4–6) with φ(x) = elu(x)+1:
 *                     y_i = φ(q_i)ᵀ S_i / φ(q_i)ᵀ z_i, S_i = Σ_{j≤i} φ(k_j) v_jᵀ, z_i = Σ_{j≤i} φ(k_j).
 *                     Training uses a chunked parallel form (quadratic inside chunks of C, the state S
 *                     carried across chunks by an exclusive cumsum), decoding the recurrent state (S, z).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, attentionFused, canFuseDecodeAttention, decodeAttention } from '@altar/backend';
import { Linear } from './basic.js';
import { tidyObj, type ParamStore } from './params.js';
import { applyRope } from './rope.js';

/**
 * Which attention a layer computes: 'full' causal, 'bidirectional' (denoisers), 'sliding' window, or 'linear'.
 *
 * @example
 * ```ts
 * new Attention(store, 'attn', { kind: 'sliding', dModel: 64, nHeads: 4, rope: true, window: 32 });
 * ```
 */
export type AttentionKind = 'full' | 'bidirectional' | 'sliding' | 'linear';

/**
 * Options of {@link Attention}: kind, width, heads, rotary positions, window, linear chunk, output init.
 *
 * @example
 * ```ts
 * const opts: AttentionOptions = { kind: 'linear', dModel: 128, nHeads: 4, rope: false, chunk: 64 };
 * ```
 */
export interface AttentionOptions {
  kind: AttentionKind;
  dModel: number;
  nHeads: number;
  /** Rotary positions (RoFormer) on q and k. */
  rope: boolean;
  /** Window W for 'sliding' (position i sees i−W+1..i). */
  window?: number;
  /** Chunk length for linear attention's parallel form. */
  chunk?: number;
  /** Std of the output projection init (GPT-2 scales it by 1/√(2·layers)). */
  outStd?: number;
}

/**
 * Decoding cache. `pos` = number of tokens already consumed. Tensors are owned by the cache.
 *
 * @example
 * ```ts
 * let cache: AttentionCache = attn.initCache(1);
 * const { y, cache: next } = attn.step(x, cache); // x (1, D)
 * attn.disposeCache(cache);
 * cache = next;
 * ```
 */
export type AttentionCache =
  | { kind: 'full'; pos: number; k: tf.Tensor4D | null; v: tf.Tensor4D | null } // (B, H, pos, dh)
  | { kind: 'sliding'; pos: number; k: tf.Tensor4D; v: tf.Tensor4D } // ring buffers (B, H, W, dh)
  | { kind: 'linear'; pos: number; s: tf.Tensor4D; z: tf.Tensor3D }; // S (B, H, dh, dh), z (B, H, dh)

/**
 * The attention contract: `forward` over a whole sequence, `step` one position with an explicit cache; a test
 * proves stepping reproduces forward.
 *
 * @example
 * ```ts
 * function decode(layer: AttentionLayer, xs: tf.Tensor2D[]): tf.Tensor2D[] {
 *   let cache = layer.initCache(1);
 *   const ys = xs.map((x) => { const r = layer.step(x, cache); layer.disposeCache(cache); cache = r.cache; return r.y; });
 *   layer.disposeCache(cache);
 *   return ys;
 * }
 * ```
 */
export interface AttentionLayer {
  readonly kind: AttentionKind;
  /** x (B, N, D) at positions 0..N-1 → (B, N, D). */
  forward(x: tf.Tensor3D): tf.Tensor3D;
  initCache(batch: number): AttentionCache;
  /** One position: x (B, D) → y (B, D) and a new cache (shares no tensors with the old one). */
  step(x: tf.Tensor2D, cache: AttentionCache): { y: tf.Tensor2D; cache: AttentionCache };
  disposeCache(cache: AttentionCache): void;
}

const NEG = -1e9;
const LIN_EPS = 1e-6;

/**
 * elu(x) + 1 > 0, the feature map of Katharopoulos et al. 2020 (eq. 7).
 *
 * @example
 * ```ts
 * eluFeature(tf.tensor1d([-1, 0, 2])); // [e^{-1}, 1, 3]
 * ```
 */
export function eluFeature(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.elu(x), 1));
}

/**
 * Multi-head attention of any {@link AttentionKind}, with rotary positions and a decoding cache (KV cache, ring
 * buffer or recurrent state).
 *
 * @example
 * ```ts
 * const store = new ParamStore(new Rng(0));
 * const attn = new Attention(store, 'attn', { kind: 'full', dModel: 32, nHeads: 4, rope: true });
 * const y = attn.forward(x); // x (B, N, 32) → (B, N, 32), causal
 * store.dispose();
 * ```
 */
export class Attention implements AttentionLayer {
  readonly kind: AttentionKind;
  readonly nHeads: number;
  readonly dHead: number;
  readonly window: number;
  readonly chunk: number;
  readonly rope: boolean;
  readonly wqkv: Linear;
  readonly wo: Linear;

  constructor(
    store: ParamStore,
    name: string,
    readonly opts: AttentionOptions,
  ) {
    const { dModel, nHeads } = opts;
    if (dModel % nHeads !== 0)
      throw new AltarError('BAD_SHAPE', `Attention(${name}): dModel ${dModel} not divisible by nHeads ${nHeads}`);
    this.kind = opts.kind;
    this.nHeads = nHeads;
    this.dHead = dModel / nHeads;
    if (opts.rope && this.dHead % 2 !== 0)
      throw new AltarError('BAD_SHAPE', `Attention(${name}): rope needs an even head dim, got ${this.dHead}`);
    this.window = opts.window ?? Infinity;
    this.chunk = opts.chunk ?? 64;
    this.rope = opts.rope;
    this.wqkv = new Linear(store, `${name}.wqkv`, dModel, 3 * dModel, { bias: false });
    this.wo = new Linear(store, `${name}.wo`, dModel, dModel, {
      bias: false,
      ...(opts.outStd === undefined ? {} : { std: opts.outStd }),
    });
  }

  /** (B, N, D) → q, k, v each (B, H, N, dh), rotary applied to q, k from position pos0. */
  private heads(x: tf.Tensor3D, pos0: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    const [b, n] = x.shape;
    const qkv = this.wqkv.apply(x); // (B, N, 3D)
    const parts = tf.split(qkv, 3, -1).map(
      (t) => tf.transpose(tf.reshape(t, [b, n, this.nHeads, this.dHead]), [0, 2, 1, 3]), // (B, H, N, dh)
    ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    if (this.rope) {
      parts[0] = applyRope(parts[0], pos0) as tf.Tensor4D;
      parts[1] = applyRope(parts[1], pos0) as tf.Tensor4D;
    }
    return parts;
  }

  /** (B, H, N, dh) → (B, N, D) → output projection. */
  private merge(y: tf.Tensor, b: number, n: number): tf.Tensor {
    const t = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b, n, this.nHeads * this.dHead]); // (B, N, D)
    return this.wo.apply(t);
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, n] = x.shape;
      const [q, k, v] = this.heads(x, 0);
      // Softmax kinds: one fused kernel each way where the backend has it (@altar/backend's attentionFused:
      // flash-style, a window computed in O(N·W)), else its composition (masked dense, or blocked when sliding).
      const y =
        this.kind === 'linear'
          ? this.linearParallel(q, k, v)
          : attentionFused(q, k, v, {
              causal: this.kind !== 'bidirectional',
              ...(this.kind === 'sliding' ? { window: this.window } : {}),
            });
      return this.merge(y, b, n) as tf.Tensor3D;
    });
  }

  /** Chunked causal linear attention: exact, O(N·C·dh + N·dh²). */
  private linearParallel(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor {
    const [b, h, n, dh] = q.shape;
    const c = Math.min(this.chunk, n);
    const nc = Math.ceil(n / c);
    const np = nc * c;
    const prep = (t: tf.Tensor) =>
      tf.reshape(
        np === n
          ? t
          : tf.pad(t, [
              [0, 0],
              [0, 0],
              [0, np - n],
              [0, 0],
            ]),
        [b, h, nc, c, dh],
      ); // (B, H, nc, C, dh)
    const fq = prep(eluFeature(q));
    const fk = prep(eluFeature(k));
    const vc = prep(v);
    const tri = new Float32Array(c * c);
    for (let i = 0; i < c; i++) for (let j = 0; j <= i; j++) tri[i * c + j] = 1;
    const a = tf.mul(tf.matMul(fq, fk, false, true), tf.tensor2d(tri, [c, c])); // (B, H, nc, C, C)
    const numIntra = tf.matMul(a, vc); // (B, H, nc, C, dh)
    const denIntra = tf.sum(a, -1, true); // (B, H, nc, C, 1)
    const kv = tf.matMul(fk, vc, true, false); // (B, H, nc, dh, dh)
    const ks = tf.sum(fk, 3, true); // (B, H, nc, 1, dh)
    const sPrev = tf.cumsum(kv, 2, true); // state before each chunk, (B, H, nc, dh, dh)
    const zPrev = tf.cumsum(ks, 2, true); // (B, H, nc, 1, dh)
    const num = tf.add(numIntra, tf.matMul(fq, sPrev)); // (B, H, nc, C, dh)
    const den = tf.add(denIntra, tf.sum(tf.mul(fq, zPrev), -1, true)); // (B, H, nc, C, 1)
    const y = tf.reshape(tf.div(num, tf.add(den, LIN_EPS)), [b, h, np, dh]);
    return np === n ? y : tf.slice(y, [0, 0, 0, 0], [b, h, n, dh]);
  }

  initCache(batch: number): AttentionCache {
    const h = this.nHeads;
    const dh = this.dHead;
    switch (this.kind) {
      case 'full':
        return { kind: 'full', pos: 0, k: null, v: null };
      case 'sliding':
        return {
          kind: 'sliding',
          pos: 0,
          k: tf.zeros([batch, h, this.window, dh]),
          v: tf.zeros([batch, h, this.window, dh]),
        };
      case 'linear':
        return { kind: 'linear', pos: 0, s: tf.zeros([batch, h, dh, dh]), z: tf.zeros([batch, h, dh]) };
      case 'bidirectional':
        throw new AltarError('NO_STEP', 'Attention.initCache: bidirectional attention has no step-wise form');
    }
  }

  step(x: tf.Tensor2D, cache: AttentionCache): { y: tf.Tensor2D; cache: AttentionCache } {
    if (cache.kind === 'full' && canFuseDecodeAttention(this.dHead, cache.pos + 1, this.rope)) {
      // One kernel for rotary + cache growth + softmax attention + head merge (cpu / wasm; 3 on webgpu).
      return tidyObj(() => {
        const b = x.shape[0];
        const qkv = this.wqkv.apply(x); // (B, 3D)
        const empty = () => tf.zeros([b, this.nHeads, 0, this.dHead]); // (B, H, 0, dh)
        const [y, k, v] = decodeAttention(qkv, cache.k ?? empty(), cache.v ?? empty(), {
          nHeads: this.nHeads,
          rope: this.rope,
          ropeBase: 10000,
        });
        return { y: this.wo.apply(y) as tf.Tensor2D, cache: { kind: 'full', pos: cache.pos + 1, k, v } };
      });
    }
    return tidyObj(() => {
      const b = x.shape[0];
      const pos = cache.pos;
      const [q, k, v] = this.heads(tf.reshape(x, [b, 1, -1]) as tf.Tensor3D, pos); // (B, H, 1, dh)
      let y: tf.Tensor;
      let next: AttentionCache;
      if (cache.kind === 'full') {
        const kk = cache.k ? tf.concat([cache.k, k], 2) : tf.clone(k); // (B, H, pos+1, dh)
        const vv = cache.v ? tf.concat([cache.v, v], 2) : tf.clone(v);
        const p = tf.softmax(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(this.dHead))); // (B, H, 1, pos+1)
        y = tf.matMul(p, vv);
        next = { kind: 'full', pos: pos + 1, k: kk as tf.Tensor4D, v: vv as tf.Tensor4D };
      } else if (cache.kind === 'sliding') {
        // Ring buffer: slot pos mod W receives the new (already rotated) key; order is irrelevant to softmax.
        const w = this.window;
        const slot = pos % w;
        const oh = new Float32Array(w);
        oh[slot] = 1;
        const m = tf.tensor4d(oh, [1, 1, w, 1]);
        const keep = tf.sub(1, m);
        const kk = tf.add(tf.mul(cache.k, keep), tf.mul(k, m)) as tf.Tensor4D; // (B, H, W, dh)
        const vv = tf.add(tf.mul(cache.v, keep), tf.mul(v, m)) as tf.Tensor4D;
        const valid = new Float32Array(w);
        for (let j = 0; j < w; j++) valid[j] = j <= pos ? 0 : NEG; // slots not yet written
        const scores = tf.add(
          tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(this.dHead)),
          tf.tensor4d(valid, [1, 1, 1, w]),
        );
        y = tf.matMul(tf.softmax(scores), vv);
        next = { kind: 'sliding', pos: pos + 1, k: kk, v: vv };
      } else {
        const fq = eluFeature(q); // (B, H, 1, dh)
        const fk = eluFeature(k);
        const s = tf.add(cache.s, tf.matMul(fk, v, true, false)) as tf.Tensor4D; // (B, H, dh, dh)
        const z = tf.add(cache.z, tf.squeeze(fk, [2])) as tf.Tensor3D; // (B, H, dh)
        const num = tf.matMul(fq, s); // (B, H, 1, dh)
        const den = tf.sum(tf.mul(fq, tf.expandDims(z, 2)), -1, true); // (B, H, 1, 1)
        y = tf.div(num, tf.add(den, LIN_EPS));
        next = { kind: 'linear', pos: pos + 1, s, z };
      }
      return { y: tf.reshape(this.merge(y, b, 1), [b, -1]) as tf.Tensor2D, cache: next };
    });
  }

  disposeCache(cache: AttentionCache): void {
    if (cache.kind === 'full') {
      cache.k?.dispose();
      cache.v?.dispose();
    } else if (cache.kind === 'sliding') {
      cache.k.dispose();
      cache.v.dispose();
    } else {
      cache.s.dispose();
      cache.z.dispose();
    }
  }
}
