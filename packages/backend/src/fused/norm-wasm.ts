/**
 * The fused norms' wasm kernels: a small WebAssembly SIMD module, assembled here at first use, that works on
 * tfjs's wasm heap in place (it imports the backend's memory). The JS host kernels (norm-host.ts) run a pass
 * over a row about ten times slower than wasm's own SIMD kernels; these run four lanes at a time:
 *
 *   forward   pass 1  s = x + r (f32x4, stored), Σ (s − k₀) and Σ (s − k₀)² in float64 lanes (k₀ = the row's
 *                     first element: the shifted-data variance);  pass 2  y = (s − μ)·(ρ·g) + b
 *   backward  pass 1  Σ ĝ, Σ ĝ·x̂ (float64 lanes) and the float64 column sums dg += dy·x̂, db += dy;
 *             pass 2  dx = ds + ρ·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
 *
 * Used when D is a multiple of 4 (rows then stay 16-byte strided); otherwise the JS kernel runs.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { DataType, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { HostKernelSpec } from './host-kernel.js';
import type { NormVariant } from './norm-host.js';

import { assembleModule, Body, F64, I32, OP, perMemory, SIMD, uleb, V128, type WasmMemorySource } from './wasm-asm.js';

/** Every function declares the same locals after its parameters (a few unused by one of them). */
const N_PARAMS = 11;
const L = { row: 11, j: 12, off: 13, rowBytes: 14, src: 15 } as const; // i32
const F = { k0: 16, mean: 17, rstd: 18, a: 19, c: 20 } as const; // f64
const V = { s0: 21, s1: 22, q0: 23, q1: 24, v: 25, k0: 26, mv: 27, rv: 28, t: 29, u: 30, w: 31 } as const; // v128
const SCRATCH_V = 32;
const LOCALS: Array<[number, number]> = [
  [5, I32],
  [5, F64],
  [12, V128],
];

/** Loop over rows: body(b) runs with L.row, L.off = row·D·4 and L.rowBytes = D·4 set; `rows` and `d` are locals. */
function rowLoop(b: Body, rows: number, d: number, body: (b: Body) => void): void {
  b.get(d).i32(2).e(OP.i32Shl).set(L.rowBytes).i32(0).set(L.row);
  b.e(OP.block, 0x40, OP.loop, 0x40);
  b.get(L.row, rows).e(OP.i32GeU, OP.brIf, 1);
  b.get(L.row, L.rowBytes).e(OP.i32Mul).set(L.off);
  body(b);
  b.get(L.row).i32(1).e(OP.i32Add).set(L.row).e(OP.br, 0, OP.end, OP.end);
}

/** for (j = 0; j < rowBytes; j += 16) body (rows are non-empty: D ≥ 4). */
function colLoop(b: Body, body: (b: Body) => void): void {
  b.i32(0).set(L.j).e(OP.loop, 0x40);
  body(b);
  b.get(L.j)
    .i32(16)
    .e(OP.i32Add, OP.tee, ...uleb(L.j))
    .get(L.rowBytes)
    .e(OP.i32LtU, OP.brIf, 0, OP.end);
}

/** acc += (lanes as f64 − k0); sq += (…)². Expects the f64x2 on the stack; uses V.t. */
function accumulate(b: Body, acc: number, sq: number): void {
  b.get(V.k0)
    .simd(SIMD.f64x2Sub)
    .e(OP.tee, ...uleb(V.t));
  b.get(acc).simd(SIMD.f64x2Add).set(acc);
  b.get(V.t, V.t).simd(SIMD.f64x2Mul).get(sq).simd(SIMD.f64x2Add).set(sq);
}

// fwd(x, r, g, b, s, y, st, rows, d, eps: f64, flags): flags 1 = residual (r, s), 2 = centred (μ, b)
function forwardBody(): number[] {
  const [x, r, g, bb, s, y, st, rows, d, eps, flags] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const b = new Body(SCRATCH_V);
  const flag = (bit: number) => b.get(flags).i32(bit).e(OP.i32And);
  rowLoop(b, rows, d, (b) => {
    // k0 = centred ? (float32) x[0] + r[0] : 0
    b.get(x, L.off).e(OP.i32Add, OP.f32Load, 2, 0);
    flag(1).e(OP.if, 0x7d).get(r, L.off).e(OP.i32Add, OP.f32Load, 2, 0);
    b.e(OP.else, 0x43, 0, 0, 0, 0, OP.end, OP.f32Add); // + (residual ? r[0] : 0f), rounded to float32
    b.e(OP.f64PromoteF32).f64(0);
    flag(2)
      .e(OP.select)
      .e(OP.tee, ...uleb(F.k0))
      .simd(SIMD.f64x2Splat)
      .set(V.k0);
    b.zero().set(V.s0).zero().set(V.s1).zero().set(V.q0).zero().set(V.q1);
    // src = residual ? s : x
    b.get(s, x);
    flag(1).e(OP.select).set(L.src);
    colLoop(b, (b) => {
      b.vload(x, L.off, L.j).set(V.v);
      flag(1).e(OP.if, 0x40).get(V.v).vload(r, L.off, L.j).simd(SIMD.f32x4Add).set(V.v);
      b.get(s, L.off).e(OP.i32Add).get(L.j).e(OP.i32Add).get(V.v).simd(SIMD.store, 0, 0).e(OP.end);
      b.get(V.v).simd(SIMD.f64x2PromoteLow);
      accumulate(b, V.s0, V.q0);
      b.get(V.v).high().simd(SIMD.f64x2PromoteLow);
      accumulate(b, V.s1, V.q1);
    });
    // m = Σ/D; mean = centred ? k0 + m : 0; var = centred ? max(0, Σq/D − m²) : Σq/D
    b.get(V.s0, V.s1).simd(SIMD.f64x2Add).set(V.s0).get(V.q0, V.q1).simd(SIMD.f64x2Add).set(V.q0);
    b.hsum(V.s0).get(d).e(OP.f64ConvertI32U, OP.f64Div).set(F.a); // m
    b.hsum(V.q0).get(d).e(OP.f64ConvertI32U, OP.f64Div).set(F.c); // Σq/D
    b.get(F.k0, F.a).e(OP.f64Add).f64(0);
    flag(2).e(OP.select).set(F.mean);
    b.f64(0).get(F.c, F.a, F.a).e(OP.f64Mul, OP.f64Sub, OP.f64Max).get(F.c);
    flag(2).e(OP.select);
    b.get(eps).e(OP.f64Add, OP.f64Sqrt).set(F.rstd);
    b.f64(1).get(F.rstd).e(OP.f64Div).set(F.rstd);
    // st[row] = (mean, rstd)
    b.get(st, L.row).i32(3).e(OP.i32Shl, OP.i32Add).get(F.mean).e(OP.f32DemoteF64, OP.f32Store, 2, 0);
    b.get(st, L.row).i32(3).e(OP.i32Shl, OP.i32Add).get(F.rstd).e(OP.f32DemoteF64, OP.f32Store, 2, 4);
    b.get(F.mean).e(OP.f32DemoteF64).simd(SIMD.f32x4Splat).set(V.mv);
    b.get(F.rstd).e(OP.f32DemoteF64).simd(SIMD.f32x4Splat).set(V.rv);
    colLoop(b, (b) => {
      b.get(y, L.off).e(OP.i32Add).get(L.j).e(OP.i32Add);
      b.vload(L.src, L.off, L.j).get(V.mv).simd(SIMD.f32x4Sub);
      b.get(V.rv).vload(g, L.j).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Mul);
      b.set(V.v);
      flag(2).e(OP.if, 0x40).get(V.v).vload(bb, L.j).simd(SIMD.f32x4Add).set(V.v).e(OP.end);
      b.get(V.v).simd(SIMD.store, 0, 0);
    });
  });
  return b.code;
}

// bwd(ds, dy, s, g, st, dx, accG, accB, rows, d, flags): flags 1 = ds present, 2 = centred; accG/accB float64
function backwardBody(): number[] {
  const [ds, dy, s, g, st, dx, accG, accB, rows, d, flags] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const b = new Body(SCRATCH_V);
  const flag = (bit: number) => b.get(flags).i32(bit).e(OP.i32And);
  const accAdd = (acc: number, hi: boolean, value: () => void) => {
    // acc[2j (+16)] += value (f64x2)
    b.get(acc, L.j, L.j).e(OP.i32Add, OP.i32Add);
    if (hi) b.i32(16).e(OP.i32Add);
    b.e(OP.tee, ...uleb(L.src)).simd(SIMD.load, 0, 0);
    value();
    b.simd(SIMD.f64x2Add).set(V.w).get(L.src, V.w).simd(SIMD.store, 0, 0);
  };
  rowLoop(b, rows, d, (b) => {
    b.get(st, L.row).i32(3).e(OP.i32Shl, OP.i32Add).e(OP.f32Load, 2, 0).simd(SIMD.f32x4Splat).set(V.mv);
    b.get(st, L.row).i32(3).e(OP.i32Shl, OP.i32Add).e(OP.f32Load, 2, 4).simd(SIMD.f32x4Splat).set(V.rv);
    b.zero().set(V.s0).zero().set(V.s1).zero().set(V.q0).zero().set(V.q1);
    colLoop(b, (b) => {
      // V.v = dy, V.t = x̂ = (s − μ)ρ, V.u = ĝ = dy·g
      b.vload(dy, L.off, L.j).set(V.v);
      b.vload(s, L.off, L.j).get(V.mv).simd(SIMD.f32x4Sub).get(V.rv).simd(SIMD.f32x4Mul).set(V.t);
      b.get(V.v).vload(g, L.j).simd(SIMD.f32x4Mul).set(V.u);
      for (const hi of [false, true]) {
        const lanes = (l: number) => (hi ? b.get(l).high() : b.get(l)).simd(SIMD.f64x2PromoteLow);
        const [sg, sgx] = hi ? [V.s1, V.q1] : [V.s0, V.q0];
        lanes(V.u).get(sg).simd(SIMD.f64x2Add).set(sg);
        lanes(V.u);
        lanes(V.t).simd(SIMD.f64x2Mul).get(sgx).simd(SIMD.f64x2Add).set(sgx);
        accAdd(accG, hi, () => {
          lanes(V.v);
          lanes(V.t).simd(SIMD.f64x2Mul);
        });
        accAdd(accB, hi, () => lanes(V.v));
      }
    });
    // a = centred ? Σĝ/D : 0, c = Σĝx̂/D (as f32x4 splats in V.k0, V.w)
    b.get(V.s0, V.s1).simd(SIMD.f64x2Add).set(V.s0).get(V.q0, V.q1).simd(SIMD.f64x2Add).set(V.q0);
    b.hsum(V.s0).get(d).e(OP.f64ConvertI32U, OP.f64Div).f64(0);
    flag(2).e(OP.select).e(OP.f32DemoteF64).simd(SIMD.f32x4Splat).set(V.k0);
    b.hsum(V.q0).get(d).e(OP.f64ConvertI32U, OP.f64Div).e(OP.f32DemoteF64).simd(SIMD.f32x4Splat).set(V.w);
    colLoop(b, (b) => {
      b.get(dx, L.off).e(OP.i32Add).get(L.j).e(OP.i32Add);
      // ρ·(dy·g − a − x̂·c)
      b.vload(dy, L.off, L.j).vload(g, L.j).simd(SIMD.f32x4Mul).get(V.k0).simd(SIMD.f32x4Sub);
      b.vload(s, L.off, L.j).get(V.mv).simd(SIMD.f32x4Sub).get(V.rv).simd(SIMD.f32x4Mul);
      b.get(V.w).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).get(V.rv).simd(SIMD.f32x4Mul);
      b.set(V.v);
      flag(1).e(OP.if, 0x40).get(V.v).vload(ds, L.off, L.j).simd(SIMD.f32x4Add).set(V.v).e(OP.end);
      b.get(V.v).simd(SIMD.store, 0, 0);
    });
  });
  return b.code;
}

function assemble(): Uint8Array<ArrayBuffer> {
  const locals = LOCALS;
  return assembleModule([
    { name: 'fwd', params: [...new Array<number>(9).fill(I32), F64, I32], locals, body: forwardBody() },
    { name: 'bwd', params: new Array<number>(N_PARAMS).fill(I32), locals, body: backwardBody() },
  ]);
}

/** The two kernels over byte offsets into `memory`. */
export interface NormWasm {
  fwd(...args: number[]): void;
  bwd(...args: number[]): void;
}

/**
 * The norm kernels bound to a wasm memory (compiled once, instantiated once per memory); null where
 * WebAssembly SIMD is unavailable.
 *
 * @example
 * ```ts
 * const k = normWasm(memory); // k?.fwd(x, r, g, b, s, y, st, rows, d, eps, flags)
 * ```
 */
export const normWasm: (heap: WasmMemorySource) => NormWasm | null = perMemory<NormWasm>(assemble);

// ------------------------------------------------------------- the tfjs kernels

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): void;
  wasm?: { asm?: { memory?: unknown } };
}

/**
 * `spec` with a wasm kernel that runs the SIMD module on the heap in place (forward or backward of variant
 * `v`), falling back to the spec's JS `compute` when D is not a multiple of 4 or the module is unavailable.
 *
 * @example
 * ```ts
 * registerHostKernel(withWasmKernel(normForwardSpec(name, v), v, 'forward'));
 * ```
 */
export function withWasmKernel(spec: HostKernelSpec, v: NormVariant, dir: 'forward' | 'backward'): HostKernelSpec {
  const wasm: KernelFunc = ({ inputs, backend, attrs }) => {
    const be = backend as unknown as WasmBackendLike;
    const names = spec.inputs as readonly string[];
    const ins = names.map((n) => (inputs as Record<string, TensorInfo>)[n]!);
    const shapes = ins.map((t) => t.shape);
    const outs = spec.outputs(shapes, attrs as NamedAttrMap).map((o) => be.makeOutput(o.shape, o.dtype));
    const xs = shapes[dir === 'forward' ? 0 : v.residual ? 2 : 1]!;
    const d = xs[xs.length - 1] ?? 1;
    const rows = d > 0 ? tf.util.sizeFromShape(xs) / d : 0;
    const k = d >= 4 && d % 4 === 0 ? normWasm(be) : null;
    const result = outs.length === 1 ? outs[0]! : outs;
    if (!k) {
      spec.compute(
        ins.map((t) => be.typedArrayFromHeap(t)),
        outs.map((t) => be.typedArrayFromHeap(t)),
        shapes,
        attrs as NamedAttrMap,
      );
      return result;
    }
    const ptr = (t: TensorInfo) => be.typedArrayFromHeap(t).byteOffset;
    const flags = (v.residual ? 1 : 0) | (v.centered ? 2 : 0);
    if (dir === 'forward') {
      const [x, r, g, b] = v.residual ? [ins[0]!, ins[1]!, ins[2]!, ins[3]] : [ins[0]!, ins[0]!, ins[1]!, ins[2]];
      const [s, y, st] = v.residual ? [outs[0]!, outs[1]!, outs[2]!] : [ins[0]!, outs[0]!, outs[1]!];
      const eps = (attrs as { eps: number }).eps;
      k.fwd(ptr(x), ptr(r), ptr(g), ptr(b ?? g), ptr(s), ptr(y), ptr(st), rows, d, eps, flags);
      return result;
    }
    // Float64 column sums in a scratch tensor on the heap, rounded into dg and db at the end.
    const scratch = be.makeOutput([4 * d], 'float32');
    try {
      const acc = be.typedArrayFromHeap(scratch);
      acc.fill(0);
      const o = v.residual ? 1 : 0;
      const ds = v.residual ? ins[0]! : ins[o]!;
      k.bwd(ptr(ds), ptr(ins[o]!), ptr(ins[o + 1]!), ptr(ins[o + 2]!), ptr(ins[o + 3]!), ptr(outs[0]!),
        acc.byteOffset, acc.byteOffset + 8 * d, rows, d, flags); // prettier-ignore
      const sums = new Float64Array(acc.buffer, acc.byteOffset, 2 * d);
      be.typedArrayFromHeap(outs[1]!).set(sums.subarray(0, d));
      if (v.centered) be.typedArrayFromHeap(outs[2]!).set(sums.subarray(d, 2 * d));
    } finally {
      be.disposeData(scratch.dataId);
    }
    return result;
  };
  return { ...spec, wasm };
}
