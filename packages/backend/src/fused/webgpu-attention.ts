/**
 * Flash attention in WGSL (FlashAttention-2, Dao 2023) for `attentionFused` on webgpu, dh ≤ 128:
 *
 *   forward   a workgroup per (b·h, tile of 64 query rows), a thread per row holding q_i and its output
 *             accumulator; key/value tiles of 8 rows stream through workgroup memory; online softmax (running
 *             max m and sum ℓ). Writes o and then L = m + log ℓ into one buffer, split by two buffer copies.
 *   backward  D_i = dO_i · O_i (a thread per row); dK, dV: a workgroup per key tile (a thread per key), query
 *             tiles streamed, P_ij = exp(s·S_ij − L_i) recomputed; dQ: a workgroup per query tile, key tiles
 *             streamed. Two passes instead of float atomics (WGSL has none for f32). dK and dV share a buffer,
 *             block after block, split by copies.
 *
 * Tiles outside the causal / window band are skipped (no loads, no work). The tile loops run over every
 * tile with uniform bounds so that the barriers stay in uniform control flow (tfjs keeps workgroupId in a
 * private variable, which WGSL's uniformity analysis treats as non-uniform).
 */
import { getKernel, Reshape, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import type { AttentionKernelAttrs } from './attention-host.js';
import { i32, f32, LoopProgram, run, splitFlat, type WebgpuBackendLike } from './webgpu-program.js';

/** Rows (queries or keys) per workgroup, a thread each. */
const ROWS = 64;
/** Rows per streamed tile in workgroup memory (2 · 8 · 128 floats = 8 KiB). */
const TILE = 8;
const MAX_DH = 128;

const UNIFORMS = 'n : i32, dh : i32, causal : i32, window : i32, scale : f32, bhs : i32,';

/** The band helpers every program shares: keys of query i, queries of key j. */
const BAND = `
  fn keyLo(i : i32) -> i32 {
    if (uniforms.causal == 1 && uniforms.window > 0) { return max(0, i - uniforms.window + 1); }
    return 0;
  }
  fn keyHi(i : i32) -> i32 {
    if (uniforms.causal == 1) { return min(i, uniforms.n - 1); }
    return uniforms.n - 1;
  }
  fn queryLo(j : i32) -> i32 {
    if (uniforms.causal == 1) { return j; }
    return 0;
  }
  fn queryHi(j : i32) -> i32 {
    if (uniforms.causal == 1 && uniforms.window > 0) { return min(uniforms.n - 1, j + uniforms.window - 1); }
    return uniforms.n - 1;
  }`;

/** A workgroup per (row tile, b·h); `body` is the WGSL of main. */
class FlashProgram {
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [ROWS, 1, 1];
  readonly uniforms = UNIFORMS;
  readonly shaderKey: string;

  constructor(
    name: string,
    readonly variableNames: string[],
    outputShape: number[],
    bh: number,
    n: number,
    private readonly body: string,
  ) {
    this.outputShape = outputShape;
    this.dispatch = [Math.ceil(n / ROWS), bh, 1];
    this.shaderKey = `altar_flash_${name}`;
  }

  getUserCode(): string {
    return `${BAND}
      var<workgroup> ta : array<f32, ${TILE * MAX_DH}>;
      var<workgroup> tb : array<f32, ${TILE * MAX_DH}>;
      var<workgroup> tl : array<f32, ${TILE}>;
      var<workgroup> td : array<f32, ${TILE}>;
      fn main(index : i32) {
        let l = i32(localIndex);
        let n = uniforms.n;
        let dh = uniforms.dh;
        let bh = i32(workgroupId.y);
        let r0 = i32(workgroupId.x) * ${ROWS};
        let r = r0 + l;
        let valid = r < n;
        let base = bh * n * dh;
        let tiles = (n + ${TILE - 1}) / ${TILE};
        ${this.body}
      }`;
  }
}

/** Load rows t0.. of A and B (and the row scalars of L, D when given) into the tile. */
const loadTile = (a: string, b: string, rowScalars: boolean) => `
  for (var e = l; e < ${TILE} * dh; e = e + ${ROWS}) {
    let t = t0 + e / dh;
    if (t < n) { ta[e] = ${a}[base + t * dh + e % dh]; tb[e] = ${b}[base + t * dh + e % dh]; }
  }
  ${rowScalars ? `if (l < ${TILE} && t0 + l < n) { tl[l] = LSE[bh * n + t0 + l]; td[l] = DD[bh * n + t0 + l]; }` : ''}`;

/**
 * The loop over the streamed tiles of a thread's band: keys of query r (`keys`) or queries of key r
 * (`queries`). Tiles no row of the workgroup needs are skipped; `visit` runs for each in-band tile row jj
 * (index j) with the tile's rows in ta / tb (and tl / td).
 */
const tileLoop = (band: 'keys' | 'queries', a: string, b: string, rowScalars: boolean, visit: string) => {
  const [lo, hi] = band === 'keys' ? ['keyLo', 'keyHi'] : ['queryLo', 'queryHi'];
  return `
  let lo = ${lo}(r);
  let hi = ${hi}(r);
  let tileLo = ${lo}(r0);
  let tileHi = ${hi}(min(r0 + ${ROWS}, n) - 1);
  for (var tt = 0; tt < tiles; tt = tt + 1) {
    let t0 = tt * ${TILE};
    let live = t0 <= tileHi && t0 + ${TILE} - 1 >= tileLo;
    if (live) { ${loadTile(a, b, rowScalars)} }
    workgroupBarrier();
    if (live && valid) {
      for (var jj = 0; jj < ${TILE}; jj = jj + 1) {
        let j = t0 + jj;
        if (j >= lo && j <= hi) {
          ${visit}
        }
      }
    }
    workgroupBarrier();
  }`;
};

/**
 * The backward's recomputed probability p = exp(scale·q·k − L_i) and score gradient
 * ds = p·(dO_i·v_j − D_i)·scale, from the thread's own rows (ownA: q or k, ownB: dO or v) and tile row jj.
 */
const scoreGrad = (ownA: string, ownB: string, l: string, dd: string) => `
  var s = 0.0;
  var dp = 0.0;
  for (var d = 0; d < dh; d = d + 1) {
    s = s + ${ownA}[d] * ta[jj * dh + d];
    dp = dp + ${ownB}[d] * tb[jj * dh + d];
  }
  let p = exp(s * uniforms.scale - ${l});
  let ds = p * (dp - ${dd}) * uniforms.scale;`;

/** Every backward program reads all six inputs: tfjs binds each declared input, and an unread one would drop out of the pipeline layout. */
const TOUCH_ALL = '_ = Q[0]; _ = K[0]; _ = V[0]; _ = DY[0]; _ = LSE[0]; _ = DD[0];';

/** Forward: a thread per query row; key/value tiles streamed; online softmax. Output [o (b·h·N·dh) | L (b·h·N)]. */
const FORWARD = `
  var q : array<f32, ${MAX_DH}>;
  var acc : array<f32, ${MAX_DH}>;
  if (valid) { for (var d = 0; d < dh; d = d + 1) { q[d] = Q[base + r * dh + d] * uniforms.scale; } }
  var m = -3.0e38;
  var lsum = 0.0;
  ${tileLoop(
    'keys',
    'K',
    'V',
    false,
    `var s = 0.0;
    for (var d = 0; d < dh; d = d + 1) { s = s + q[d] * ta[jj * dh + d]; }
    if (s > m) {
      let c = exp(m - s);
      lsum = lsum * c;
      for (var d = 0; d < dh; d = d + 1) { acc[d] = acc[d] * c; }
      m = s;
    }
    let p = exp(s - m);
    lsum = lsum + p;
    for (var d = 0; d < dh; d = d + 1) { acc[d] = acc[d] + p * tb[jj * dh + d]; }`,
  )}
  if (valid) {
    for (var d = 0; d < dh; d = d + 1) { result[base + r * dh + d] = acc[d] / lsum; }
    result[uniforms.bhs * n * dh + bh * n + r] = m + log(lsum);
  }`;

/** dK, dV: a thread per key row; query tiles (q, dO, L, D) streamed. Output [dK | dV], each (b·h·N·dh). */
const BACKWARD_KV = `
  ${TOUCH_ALL}
  var kj : array<f32, ${MAX_DH}>;
  var vj : array<f32, ${MAX_DH}>;
  var gk : array<f32, ${MAX_DH}>;
  var gv : array<f32, ${MAX_DH}>;
  if (valid) {
    for (var d = 0; d < dh; d = d + 1) { kj[d] = K[base + r * dh + d]; vj[d] = V[base + r * dh + d]; }
  }
  ${tileLoop(
    'queries',
    'Q',
    'DY',
    true,
    `${scoreGrad('kj', 'vj', 'tl[jj]', 'td[jj]')}
    for (var d = 0; d < dh; d = d + 1) {
      gv[d] = gv[d] + p * tb[jj * dh + d];
      gk[d] = gk[d] + ds * ta[jj * dh + d];
    }`,
  )}
  if (valid) {
    let o = base + r * dh;
    let half = uniforms.bhs * n * dh;
    for (var d = 0; d < dh; d = d + 1) { result[o + d] = gk[d]; result[half + o + d] = gv[d]; }
  }`;

/** dQ: a thread per query row; key/value tiles streamed. Output (b·h·N, dh). */
const BACKWARD_Q = `
  ${TOUCH_ALL}
  var qi : array<f32, ${MAX_DH}>;
  var gi : array<f32, ${MAX_DH}>;
  var gq : array<f32, ${MAX_DH}>;
  var li = 0.0;
  var di = 0.0;
  if (valid) {
    for (var d = 0; d < dh; d = d + 1) { qi[d] = Q[base + r * dh + d]; gi[d] = DY[base + r * dh + d]; }
    li = LSE[bh * n + r];
    di = DD[bh * n + r];
  }
  ${tileLoop(
    'keys',
    'K',
    'V',
    false,
    `${scoreGrad('qi', 'gi', 'li', 'di')}
    for (var d = 0; d < dh; d = d + 1) { gq[d] = gq[d] + ds * ta[jj * dh + d]; }`,
  )}
  if (valid) {
    for (var d = 0; d < dh; d = d + 1) { result[base + r * dh + d] = gq[d]; }
  }`;

interface Disposer {
  disposeData(dataId: object): void;
}

function dims(q: TensorInfo): { bh: number; n: number; dh: number } {
  const [b, h, n, dh] = q.shape as [number, number, number, number];
  if (dh > MAX_DH) {
    throw new AltarError('BAD_SHAPE', `attentionFused (webgpu): head width ${dh} > ${MAX_DH}; use the composition`);
  }
  return { bh: b * h, n, dh };
}

const uniformsOf = (bh: number, n: number, dh: number, a: AttentionKernelAttrs) => [
  ...i32(n, dh, a.causal ? 1 : 0, a.window),
  ...f32(a.scale),
  ...i32(bh),
];

export const attentionWebgpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const a = attrs as unknown as AttentionKernelAttrs;
  const { bh, n, dh } = dims(q);
  const b = backend as WebgpuBackendLike & Disposer & { makeTensorInfo(s: number[], d: 'float32'): TensorInfo };
  const prog = new FlashProgram('fwd', ['Q', 'K', 'V'], [bh * n, dh + 1], bh, n, FORWARD); // read flat
  const packed = b.runWebGPUProgram(prog, [q, k, v], 'float32', uniformsOf(bh, n, dh, a));
  const [o, lse] = splitFlat(backend, packed, [q.shape, q.shape.slice(0, 3)]);
  // no saved probabilities (the backward recomputes them from L)
  return [o!, lse!, b.makeTensorInfo([0], 'float32')];
};

export const attentionGradWebgpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, q, k, v, o, lse } = inputs as Record<'dy' | 'q' | 'k' | 'v' | 'o' | 'lse', TensorInfo>;
  const a = attrs as unknown as AttentionKernelAttrs;
  const { bh, n, dh } = dims(q);
  const b = backend as WebgpuBackendLike & Disposer;
  const dBody = `
    var acc = 0.0;
    for (var d = 0; d < uniforms.dh; d = d + 1) { acc = acc + DY[t * uniforms.dh + d] * O[t * uniforms.dh + d]; }
    result[t] = acc;`;
  const dd = run(
    backend,
    new LoopProgram('flash_dd', ['DY', 'O'], [bh * n], bh * n, dBody, 'dh : i32,'),
    [dy, o],
    i32(dh),
  );
  const ins = [q, k, v, dy, lse, dd];
  const names = ['Q', 'K', 'V', 'DY', 'LSE', 'DD'];
  const uni = uniformsOf(bh, n, dh, a);
  try {
    const kv = b.runWebGPUProgram(
      new FlashProgram('dkv', names, [bh * n, 2 * dh], bh, n, BACKWARD_KV), // read flat
      ins,
      'float32',
      uni,
    );
    const dq = b.runWebGPUProgram(new FlashProgram('dq', names, [bh * n, dh], bh, n, BACKWARD_Q), ins, 'float32', uni);
    const [dk, dv] = splitFlat(backend, kv, [q.shape, q.shape]);
    const reshape = getKernel(Reshape, 'webgpu')!.kernelFunc;
    const dq4 = reshape({ inputs: { x: dq }, backend: backend as never, attrs: { shape: q.shape } }) as TensorInfo;
    b.disposeData(dq.dataId);
    return [dq4, dk!, dv!];
  } finally {
    b.disposeData(dd.dataId);
  }
};
