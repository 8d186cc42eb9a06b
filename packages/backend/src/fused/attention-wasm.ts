/**
 * Fused attention on wasm. For dense attention with N and dh multiples of 8 the products run through the SIMD
 * batched product (bmm-wasm.ts), which for causal attention skips the upper triangle: P and dS are zero there
 * and S and dP are masked, so half the multiply-adds. Elsewhere (a band of blocks, other sizes) they go through
 * wasm's BatchMatMul. The softmax is wasm's Softmax (XNNPACK); JS does one pass over the heap for scale + mask
 * (forward and backward) and one for the softmax backward dS = P∘(dP − D)·s.
 *
 *   forward   S = Q Kᵀ; S ← s·S masked; P = softmax(S); O = P V; L_i = max_i − log P_i,argmax
 *   backward  P saved by the forward; dV = Pᵀ dO; dP = dO Vᵀ; dS = s·P∘(dP − D), D_i = dO_i·O_i;
 *             dQ = dS K; dK = dSᵀ Q
 *
 * Unlike the cpu and webgpu kernels (and FlashAttention), the forward returns P (blocks, rows, cols) as a third
 * output for the backward instead of recomputing it from L: here recomputing Q Kᵀ and the softmax cost ~20 % of
 * a training step's attention, and the composition keeps the same P. When given an empty P (a forward run on
 * another backend) the backward recomputes it.
 *
 * V8's Math.exp costs ~15 ns an element against a few for XNNPACK's vectorised softmax, hence the Softmax
 * kernel instead of an exp in the JS pass. A sliding window with N > 2W runs in query blocks of W against
 * the 2W keys of the block and the one before it (as the models' blocked composition), O(N·W).
 *
 * Measured against the composition (bench/attention.bench.ts, forward + backward, wall time, both on altar's
 * SIMD product): causal B 16 H 4 N 256 dh 64 1.18× faster (106.2 vs 125.6 ms), so `attentionFused` uses it
 * there (canFuseAttention); bidirectional B 1 H 4 N 256 0.90× and the sliding band (B 4 H 4 N 1024 W 64) 0.87×,
 * which keep the composition.
 */
import {
  BatchMatMul,
  getKernel,
  Softmax,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { keyBand, type AttentionKernelAttrs } from './attention-host.js';
import { bmmWasm, type BmmMode } from './bmm-wasm.js';

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
  wasm?: { asm?: { memory?: unknown } };
}

/** A score that softmax maps to 0 (finite, so max-shifting never meets ∞ − ∞). */
const MASKED = -1e30;

function call(name: string, inputs: Record<string, TensorInfo>, backend: unknown, attrs: object): TensorInfo {
  return getKernel(name, 'wasm')!.kernelFunc({
    inputs,
    backend: backend as never,
    attrs: attrs as NamedAttrMap,
  }) as TensorInfo;
}

const matMul = (a: TensorInfo, b: TensorInfo, backend: unknown, transposeA = false, transposeB = false) =>
  call(BatchMatMul, { a, b }, backend, { transposeA, transposeB });

/** A product (x or xᵀ)·(y or yᵀ) over the leading axes, and the triangle it may skip (bmm-wasm.ts modes). */
type Product = (x: TensorInfo, y: TensorInfo, mode: BmmMode, tx?: boolean, ty?: boolean) => TensorInfo;

/**
 * Dense attention's products through the SIMD batched product (bmm-wasm.ts), which skips the zero triangle of
 * causal attention's P and dS and the masked triangle of S and dP: half the multiply-adds. Needs N and dh
 * multiples of 8; otherwise (and for the band's blocks) the products go through wasm's BatchMatMul.
 */
function productsOf(w: WasmLike, backend: unknown, g: Layout): Product {
  const bmm = !g.w && g.n % 8 === 0 && g.dh % 8 === 0 ? bmmWasm(w) : null;
  if (!bmm) return (x, y, _mode, tx = false, ty = false) => matMul(x, y, backend, tx, ty);
  return (x, y, mode, tx = false, ty = false) => {
    const r = x.shape.length;
    const m = x.shape[r - (tx ? 1 : 2)]!;
    const n = y.shape[r - (ty ? 2 : 1)]!;
    // transposed operands read in place (as fast here as transposed copies: bench/attention.bench.ts)
    return bmm(x, y, [...x.shape.slice(0, -2), m, n], mode, tx, ty);
  };
}

/** Geometry: dense rows (one block per (b, h), N queries × N keys) or the band's blocks of W × 2W. */
interface Layout {
  bh: number;
  n: number;
  dh: number;
  /** Blocked band: block width W (0: dense). */
  w: number;
  /** Blocks per (b, h) (1 when dense). */
  nb: number;
  /** Queries and keys per block. */
  rows: number;
  cols: number;
}

function layoutOf(shape: number[], a: AttentionKernelAttrs): Layout {
  const [b, h, n, dh] = shape as [number, number, number, number];
  if (a.causal && a.window > 0 && n > 2 * a.window) {
    const w = a.window;
    return { bh: b * h, n, dh, w, nb: Math.ceil(n / w), rows: w, cols: 2 * w };
  }
  return { bh: b * h, n, dh, w: 0, nb: 1, rows: n, cols: n };
}

/** Global query and first key of (block c, local row r): dense blocks start at 0, band keys one block back. */
const queryOf = (g: Layout, c: number, r: number) => (g.w ? c * g.w + r : r);
const keyBase = (g: Layout, c: number) => (g.w ? (c - 1) * g.w : 0);

/**
 * In place over S (blocks, rows, cols): S ← scale·S inside each query's band, MASKED outside; returns the row
 * maxima and their columns (for L after the softmax). Padded query rows (≥ N) keep a causal band.
 */
function scaleMask(s: Float32Array, g: Layout, a: AttentionKernelAttrs): { max: Float64Array; arg: Int32Array } {
  const { bh: nbh, nb, rows, cols, n } = g;
  const scale = a.scale;
  const max = new Float64Array(nbh * nb * rows);
  const arg = new Int32Array(nbh * nb * rows);
  for (let blk = 0; blk < nbh * nb; blk++) {
    const c = blk % nb;
    const kb = keyBase(g, c);
    for (let r = 0; r < rows; r++) {
      const row = blk * rows + r;
      const off = row * cols;
      const [glo, ghi] = keyBand(queryOf(g, c, r), g.w ? Infinity : n, a);
      const lo = off + Math.max(0, glo - kb);
      const hi = off + Math.min(cols - 1, ghi - kb); // this row's visible columns: lo..hi
      const end = off + cols;
      for (let j = off; j < lo; j++) s[j] = MASKED;
      let m = -Infinity;
      let am = lo;
      for (let j = lo; j <= hi; j++) {
        const x = s[j]! * scale;
        s[j] = x;
        if (x > m) {
          m = x;
          am = j;
        }
      }
      for (let j = hi + 1; j < end; j++) s[j] = MASKED;
      max[row] = m;
      arg[row] = am - off;
    }
  }
  return { max, arg };
}

/** (B, H, N, dh) → (BH·nb, W, dh) query blocks, zero-padded past N. */
function queryBlocks(x: Float32Array, out: Float32Array, g: Layout): void {
  for (let bh = 0; bh < g.bh; bh++) {
    const src = bh * g.n * g.dh;
    out.set(x.subarray(src, src + g.n * g.dh), bh * g.nb * g.w * g.dh);
  }
}

/** (B, H, N, dh) → (BH·nb, 2W, dh): block c holds keys (c−1)W .. (c+1)W − 1, zero outside [0, N). */
function keyBlocks(x: Float32Array, out: Float32Array, g: Layout): void {
  const { w, dh, n } = g;
  for (let bh = 0; bh < g.bh; bh++) {
    for (let c = 0; c < g.nb; c++) {
      const dst = (bh * g.nb + c) * 2 * w * dh;
      const from = Math.max(0, (c - 1) * w);
      const to = Math.min(n, (c + 1) * w);
      out.set(x.subarray((bh * n + from) * dh, (bh * n + to) * dh), dst + (from - (c - 1) * w) * dh);
    }
  }
}

/** (BH·nb, W, dh) → (B, H, N, dh): drop the padded rows. */
function unblockQueries(xb: Float32Array, out: Float32Array, g: Layout): void {
  for (let bh = 0; bh < g.bh; bh++) {
    const src = bh * g.nb * g.w * g.dh;
    out.set(xb.subarray(src, src + g.n * g.dh), bh * g.n * g.dh);
  }
}

/** (BH·nb, 2W, dh) → (B, H, N, dh): each key's two block copies summed. */
function unblockKeys(xb: Float32Array, out: Float32Array, g: Layout): void {
  const { w, dh, n } = g;
  out.fill(0);
  for (let bh = 0; bh < g.bh; bh++) {
    for (let c = 0; c < g.nb; c++) {
      const src = (bh * g.nb + c) * 2 * w * dh;
      for (let j = Math.max(0, (c - 1) * w); j < Math.min(n, (c + 1) * w); j++) {
        const o = (bh * n + j) * dh;
        const sOff = src + (j - (c - 1) * w) * dh;
        for (let d = 0; d < dh; d++) out[o + d]! += xb[sOff + d]!;
      }
    }
  }
}

/** Run `fn` with tensors that are disposed afterwards whatever happens. */
function scoped<T>(w: WasmLike, fn: (keep: (t: TensorInfo) => TensorInfo) => T): T {
  const temps: TensorInfo[] = [];
  try {
    return fn((t) => (temps.push(t), t));
  } finally {
    for (const t of temps) w.disposeData(t.dataId);
  }
}

/** The operands in the layout's shape: the inputs themselves when dense, block copies for the band. */
function operands(w: WasmLike, g: Layout, keep: (t: TensorInfo) => TensorInfo, xs: TensorInfo[], asKeys: boolean[]) {
  if (!g.w) return xs;
  const blocks = xs.map((_, i) => keep(w.makeOutput([g.bh * g.nb, asKeys[i] ? g.cols : g.rows, g.dh], 'float32')));
  blocks.forEach((blk, i) => {
    const out = w.typedArrayFromHeap(blk);
    out.fill(0);
    (asKeys[i] ? keyBlocks : queryBlocks)(w.typedArrayFromHeap(xs[i]!), out, g);
  });
  return blocks;
}

/** P = softmax(scale·Q Kᵀ masked) (blocks, rows, cols), with the row maxima and their columns. */
function probabilities(
  w: WasmLike,
  backend: unknown,
  mm: Product,
  qb: TensorInfo,
  kb: TensorInfo,
  g: Layout,
  a: AttentionKernelAttrs,
) {
  const s = mm(qb, kb, a.causal ? 1 : 0, false, true); // S = Q Kᵀ (lower half if causal)
  try {
    const stats = scaleMask(w.typedArrayFromHeap(s), g, a);
    const p = call(Softmax, { logits: s }, backend, { dim: s.shape.length - 1 });
    return { p, ...stats };
  } finally {
    w.disposeData(s.dataId);
  }
}

/**
 * In place over dP (blocks, rows, cols): dS = scale·P∘(dP − D), D_i = dO_i · O_i (0 for padded query rows,
 * whose dO is 0 too). Dimensions are read into locals once: property loads in the inner loop cost.
 */
function softmaxBackward(
  dyv: Float32Array,
  ov: Float32Array,
  pv: Float32Array,
  sv: Float32Array,
  g: Layout,
  a: AttentionKernelAttrs,
): void {
  const { bh: nbh, nb, rows, cols, dh, n } = g;
  const scale = a.scale;
  for (let blk = 0; blk < nbh * nb; blk++) {
    const bh = Math.floor(blk / nb);
    const c = blk % nb;
    const kb = keyBase(g, c);
    for (let r = 0; r < rows; r++) {
      const i = queryOf(g, c, r);
      let dI = 0;
      if (i < n) {
        const off = (bh * n + i) * dh;
        for (let d = 0; d < dh; d++) dI += dyv[off + d]! * ov[off + d]!;
      }
      // Outside the row's band P = 0, so dS = 0 there: only the band is read.
      const off = (blk * rows + r) * cols;
      const [glo, ghi] = keyBand(i, g.w ? Infinity : n, a);
      const lo = off + Math.max(0, glo - kb);
      const hi = off + Math.min(cols - 1, ghi - kb);
      sv.fill(0, off, lo);
      for (let j = lo; j <= hi; j++) sv[j] = pv[j]! * (sv[j]! - dI) * scale;
      sv.fill(0, hi + 1, off + cols);
    }
  }
}

export const attentionWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const w = backend as unknown as WasmLike;
  const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const a = attrs as unknown as AttentionKernelAttrs;
  const g = layoutOf(q.shape, a);
  return scoped(w, (keep) => {
    const [qb, kb, vb] = operands(w, g, keep, [q, k, v], [false, true, true]);
    const mm = productsOf(w, backend, g);
    const { p, max, arg } = probabilities(w, backend, mm, qb!, kb!, g, a);
    const ob = mm(p, vb!, a.causal ? 2 : 0); // (B, H, N, dh) dense, (BH·nb, W, dh) band
    const lse = w.makeOutput(q.shape.slice(0, 3), 'float32');
    let o = ob;
    if (g.w) {
      keep(ob);
      o = w.makeOutput(q.shape, 'float32');
      unblockQueries(w.typedArrayFromHeap(ob), w.typedArrayFromHeap(o), g);
    }
    // L_i = log Σ_j exp(S_ij) = S_i,argmax − log P_i,argmax (P at the max is ≥ 1/N: no underflow).
    const pv = w.typedArrayFromHeap(p);
    const lv = w.typedArrayFromHeap(lse);
    for (let blk = 0; blk < g.bh * g.nb; blk++) {
      const bh = Math.floor(blk / g.nb);
      const c = blk % g.nb;
      for (let r = 0; r < g.rows; r++) {
        const i = queryOf(g, c, r);
        if (i >= g.n) break;
        const row = blk * g.rows + r;
        lv[bh * g.n + i] = max[row]! - Math.log(pv[row * g.cols + arg[row]!]!);
      }
    }
    return [o, lse, p]; // P is saved for the backward (blocks, rows, cols)
  });
};

export const attentionGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const w = backend as unknown as WasmLike;
  const { dy, q, k, v, o, probs } = inputs as Record<'dy' | 'q' | 'k' | 'v' | 'o' | 'probs', TensorInfo>;
  const a = attrs as unknown as AttentionKernelAttrs;
  const g = layoutOf(q.shape, a);
  return scoped(w, (keep) => {
    const [qb, kb, vb, dyb] = operands(w, g, keep, [q, k, v, dy], [false, true, true, false]);
    const mm = productsOf(w, backend, g);
    // The forward's P when it was saved (this kernel's forward), else recomputed (the same numbers).
    const p = probs.shape.some((d) => d > 0) ? probs : keep(probabilities(w, backend, mm, qb!, kb!, g, a).p);
    // Causal: P and dS are lower triangular (Pᵀ, dSᵀ upper), and only dP's lower half reaches dS.
    const c = a.causal;
    const dvb = mm(p, dyb!, c ? 3 : 0, true, false); // Pᵀ dO
    const ds = keep(mm(dyb!, vb!, c ? 1 : 0, false, true)); // dP = dO Vᵀ, becomes dS in place
    softmaxBackward(
      w.typedArrayFromHeap(dy),
      w.typedArrayFromHeap(o),
      w.typedArrayFromHeap(p),
      w.typedArrayFromHeap(ds),
      g,
      a,
    );
    const dqb = mm(ds, kb!, c ? 2 : 0); // dS K
    const dkb = mm(ds, qb!, c ? 3 : 0, true, false); // dSᵀ Q
    if (!g.w) return [dqb, dkb, dvb];
    keep(dvb);
    keep(dqb);
    keep(dkb);
    const outs = [0, 1, 2].map(() => w.makeOutput(q.shape, 'float32'));
    unblockQueries(w.typedArrayFromHeap(dqb), w.typedArrayFromHeap(outs[0]!), g);
    unblockKeys(w.typedArrayFromHeap(dkb), w.typedArrayFromHeap(outs[1]!), g);
    unblockKeys(w.typedArrayFromHeap(dvb), w.typedArrayFromHeap(outs[2]!), g);
    return outs;
  });
};
