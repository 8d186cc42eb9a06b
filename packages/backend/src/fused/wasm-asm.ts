/**
 * A minimal WebAssembly assembler for altar's hand-written SIMD kernels (norm-wasm.ts, gelu-wasm.ts,
 * optim-wasm.ts, bmm-wasm.ts, kernels/transpose-wasm.ts): LEB128 encoders, the opcodes the kernels use, a
 * function-body builder, `assembleModule`, which emits a module that imports tfjs-wasm's memory as env.memory
 * and exports the given functions, and `perMemory`, which compiles it once and instantiates it per heap.
 * Kernels work on the backend's heap in place, through byte offsets.
 */

export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Opcodes used by the kernels (SIMD ones after the 0xfd prefix, in `SIMD`). */
export const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, select: 0x1b,
  get: 0x20, set: 0x21, tee: 0x22, i32Const: 0x41, f32Const: 0x43, f64Const: 0x44,
  f32Load: 0x2a, f32Store: 0x38, i32Eqz: 0x45, i32LtU: 0x49, i32GeU: 0x4f,
  i32Add: 0x6a, i32Mul: 0x6c, i32And: 0x71, i32Shl: 0x74, f32Add: 0x92,
  f64Sqrt: 0x9f, f64Add: 0xa0, f64Sub: 0xa1, f64Mul: 0xa2, f64Div: 0xa3, f64Max: 0xa5,
  f32DemoteF64: 0xb6, f64ConvertI32U: 0xb8, f64PromoteF32: 0xbb,
} as const; // prettier-ignore
export const SIMD = {
  load: 0, store: 11, const: 12, shuffle: 13, f32x4Splat: 19, f64x2Splat: 20, f64x2Extract: 33,
  f64x2PromoteLow: 95, f32x4Nearest: 106, i32x4Shl: 171, i32x4Add: 174,
  f32x4Neg: 225, f32x4Sqrt: 227, f32x4Add: 228, f32x4Sub: 229, f32x4Mul: 230, f32x4Div: 231, f32x4Min: 232, f32x4Max: 233,
  f64x2Add: 240, f64x2Sub: 241, f64x2Mul: 242, i32x4TruncSatF32x4S: 248,
} as const; // prettier-ignore

/** A function body under construction: `e` appends raw code; helpers for the common forms. */
export class Body {
  readonly code: number[] = [];
  /** `scratch`: a v128 local that `high` may overwrite. */
  constructor(private readonly scratch = -1) {}
  e(...b: number[]): this {
    this.code.push(...b);
    return this;
  }
  get(...ls: number[]): this {
    for (const l of ls) this.e(OP.get, ...uleb(l));
    return this;
  }
  set(l: number): this {
    return this.e(OP.set, ...uleb(l));
  }
  tee(l: number): this {
    return this.e(OP.tee, ...uleb(l));
  }
  i32(n: number): this {
    return this.e(OP.i32Const, ...sleb(n));
  }
  f64(x: number): this {
    return this.e(OP.f64Const, ...new Uint8Array(Float64Array.of(x).buffer));
  }
  simd(op: number, ...imm: number[]): this {
    return this.e(0xfd, ...uleb(op), ...imm);
  }
  /** v128.load at (base + off + j) for local indices. */
  vload(...addr: number[]): this {
    this.get(addr[0]!);
    for (const a of addr.slice(1)) this.get(a).e(OP.i32Add);
    return this.simd(SIMD.load, 0, 0);
  }
  zero(): this {
    return this.simd(SIMD.const, ...new Array<number>(16).fill(0));
  }
  /** An f32x4 constant with x in every lane. */
  splat(x: number): this {
    const lanes = new Float32Array([x, x, x, x]);
    return this.simd(SIMD.const, ...new Uint8Array(lanes.buffer));
  }
  /** The high two f32 lanes moved to the low half (for f64x2.promote_low); needs the scratch local. */
  high(): this {
    if (this.scratch < 0) throw new Error('Body.high needs a scratch v128 local');
    this.tee(this.scratch).get(this.scratch);
    return this.simd(SIMD.shuffle, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  }
  /** Σ of an f64x2 local's two lanes. */
  hsum(l: number): this {
    return this.get(l).simd(SIMD.f64x2Extract, 0).get(l).simd(SIMD.f64x2Extract, 1).e(OP.f64Add);
  }
}

/** One exported function: parameter types, extra locals as [count, type] runs, and its body. */
export interface WasmFunction {
  name: string;
  params: number[];
  locals: Array<[number, number]>;
  body: number[];
}

/**
 * A module that imports `env.memory` and exports `funcs` (no results), as bytes for `new WebAssembly.Module`.
 *
 * @example
 * ```ts
 * const bytes = assembleModule([{ name: 'nop', params: [], locals: [], body: [] }]);
 * ```
 */
export function assembleModule(funcs: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0]);
  const code = funcs.map((f) => {
    const c = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body, OP.end];
    return [...uleb(c.length), ...c];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ]); // prettier-ignore
}

/** A wasm memory, or a tfjs-wasm backend whose Emscripten module owns one (the heap tensors live in). */
export type WasmMemorySource = WebAssembly.Memory | { wasm?: { asm?: { memory?: unknown } } };

/**
 * A kernel module compiled once (from `bytes()`, at first use) and instantiated once per wasm memory: the
 * returned function gives the instance's exports for a memory or a tfjs-wasm backend, or null where the engine
 * rejects the module (no WebAssembly SIMD) or the backend exposes no memory.
 *
 * @example
 * ```ts
 * const kernels = perMemory<{ fwd(...args: number[]): void }>(() => assembleModule(funcs));
 * kernels(tf.backend() as never)?.fwd(x, y, n);
 * ```
 */
export function perMemory<T>(bytes: () => Uint8Array<ArrayBuffer>): (heap: WasmMemorySource) => T | null {
  let compiled: WebAssembly.Module | null = null;
  const instances = new WeakMap<WebAssembly.Memory, T>();
  return (heap) => {
    const memory = heap instanceof WebAssembly.Memory ? heap : heap.wasm?.asm?.memory;
    if (!(memory instanceof WebAssembly.Memory)) return null;
    const have = instances.get(memory);
    if (have) return have;
    try {
      compiled ??= new WebAssembly.Module(bytes());
      const exports = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as T;
      instances.set(memory, exports);
      return exports;
    } catch {
      return null;
    }
  };
}
