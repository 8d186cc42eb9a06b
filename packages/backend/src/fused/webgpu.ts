/**
 * WGSL kernels for the fused ops on the webgpu backend (tfjs-backend-webgpu's program interface:
 * `runWebGPUProgram` binds the inputs as `array<f32>` named after `variableNames`, the output as `result`,
 * and a uniform block with `size` and the program's own uniforms).
 *
 * On a GPU the composition's cost is per dispatch and per upload: one AdamW parameter update was ~12
 * dispatches and ~10 uploaded scalar constants, ×44 parameters a step of the reference model. Here:
 *
 *   AdamW            3 dispatches per parameter (p, m and v, each recomputing the cheap moments), scalars
 *                    as uniforms (no uploads)
 *   bias + GELU      1 forward; backward 2 (dx elementwise, db a column sum)
 *   LayerNorm        1 forward (a thread per row); backward 3 (dx per row, dg and db column sums)
 *   cross-entropy    1 forward (a thread per row); backward 1 (a thread per row)
 *   squared norms    1 dispatch per 7 tensors (a workgroup each, shared-memory sum) + 1 concat
 *   decode attention 3 dispatches (K' and V' grown, rotary on the new key; y: a workgroup per (batch, head),
 *                    scores in workgroup memory) instead of ~16
 *
 * Deliberately simple — a thread per element, row or column, no shared-memory reductions — because the
 * model widths here are small (D, V ≤ a few thousand) and the win is in the dispatch count. Each is checked
 * by the conformance suite against the cpu backend's host kernel.
 */
import { Concat, registerKernel, getKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './names.js';
import { DECODE_ATTENTION_KERNEL, WEBGPU_DECODE_MAX_KEYS, webgpuDecodeAttentionFits } from './decode-attention.js';

type Uniform = { type: 'float32' | 'int32'; data: number[] };

interface WebgpuBackendLike {
  runWebGPUProgram(program: unknown, inputs: TensorInfo[], dtype: 'float32', uniforms?: Uniform[]): TensorInfo;
}

const WG = 64;
/** At most this many workgroups; threads loop with a grid stride past it (WebGPU caps a dimension at 65535). */
const MAX_GROUPS = 4096;

/** A program over `threads` independent work items (elements, rows or columns), with a grid-stride loop. */
class LoopProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly uniforms: string;
  readonly size = true;
  private readonly stride: number;

  constructor(
    name: string,
    inputs: string[],
    outputShape: number[],
    readonly threads: number,
    private readonly body: string,
    uniforms: string,
  ) {
    this.variableNames = inputs;
    this.outputShape = outputShape;
    this.uniforms = `threads : i32, ${uniforms}`;
    const groups = Math.max(1, Math.min(MAX_GROUPS, Math.ceil(threads / WG)));
    this.dispatch = [groups, 1, 1];
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.stride = groups * WG;
    // Everything baked into the WGSL text is in the key (tfjs adds the shapes and dtypes).
    this.shaderKey = `altar_${name}_${this.stride}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        for (var t = index; t < uniforms.threads; t = t + ${this.stride}) {
          ${this.body}
        }
      }`;
  }
}

function run(backend: unknown, program: LoopProgram, inputs: TensorInfo[], uniforms: Uniform[]): TensorInfo {
  const threads: Uniform = { type: 'int32', data: [program.threads] };
  return (backend as WebgpuBackendLike).runWebGPUProgram(program, inputs, 'float32', [threads, ...uniforms]);
}

const f32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'float32', data: [d] }));
const i32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'int32', data: [d] }));
const lastDim = (t: TensorInfo): number => t.shape[t.shape.length - 1] ?? 1;
const sizeOf = (t: TensorInfo): number => tf.util.sizeFromShape(t.shape);

const GELU = `
  let u = X[t] + B[t % uniforms.d];
  let a = 0.7978845608028654 * (u + 0.044715 * u * u * u);
  let s = 1.0 / (1.0 + exp(-2.0 * a));`; // 0.5u(1 + tanh a) = u·σ(2a)

const biasGelu: KernelFunc = ({ inputs, backend }) => {
  const { x, b } = inputs as { x: TensorInfo; b: TensorInfo };
  const n = sizeOf(x);
  const p = new LoopProgram('gelu', ['X', 'B'], x.shape, n, `${GELU}\n result[t] = u * s;`, 'd : i32,');
  return run(backend, p, [x, b], i32(lastDim(x)));
};

const biasGeluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, b } = inputs as { dy: TensorInfo; x: TensorInfo; b: TensorInfo };
  const n = sizeOf(x);
  const d = lastDim(x);
  const body = `${GELU}
    result[t] = DY[t] * (s + u * s * (1.0 - s) * 1.5957691216057308 * (1.0 + 0.134145 * u * u));`;
  const dx = run(backend, new LoopProgram('gelu_dx', ['DY', 'X', 'B'], x.shape, n, body, 'd : i32,'), [dy, x, b], i32(d));
  return [dx, columnSum(backend, dx, n / d, d)];
};

/** Σ over rows of a (rows, d) tensor: a thread per column. */
function columnSum(backend: unknown, m: TensorInfo, rows: number, d: number, product?: TensorInfo): TensorInfo {
  const term = product ? 'M[r * uniforms.d + t] * Q[r * uniforms.d + t]' : 'M[r * uniforms.d + t]';
  const body = `
    var acc = 0.0;
    for (var r = 0; r < uniforms.rows; r = r + 1) { acc = acc + ${term}; }
    result[t] = acc;`;
  const p = new LoopProgram(product ? 'colsum_prod' : 'colsum', product ? ['M', 'Q'] : ['M'], [d], d, body, 'rows : i32, d : i32,');
  return run(backend, p, product ? [m, product] : [m], i32(rows, d));
}

const LN_STATS = `
  let o = t * uniforms.d;
  var mean = 0.0;
  for (var k = 0; k < uniforms.d; k = k + 1) { mean = mean + X[o + k]; }
  mean = mean / f32(uniforms.d);
  var v = 0.0;
  for (var k = 0; k < uniforms.d; k = k + 1) { let c = X[o + k] - mean; v = v + c * c; }
  let rstd = inverseSqrt(v / f32(uniforms.d) + uniforms.eps);`;

const layerNorm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, g, b } = inputs as { x: TensorInfo; g: TensorInfo; b: TensorInfo };
  const d = lastDim(x);
  const body = `${LN_STATS}
    for (var k = 0; k < uniforms.d; k = k + 1) { result[o + k] = (X[o + k] - mean) * rstd * G[k] + B[k]; }`;
  const p = new LoopProgram('ln', ['X', 'G', 'B'], x.shape, sizeOf(x) / d, body, 'd : i32, eps : f32,');
  return run(backend, p, [x, g, b], [...i32(d), ...f32((attrs as { eps: number }).eps)]);
};

const layerNormGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, g } = inputs as { dy: TensorInfo; x: TensorInfo; g: TensorInfo };
  const d = lastDim(x);
  const rows = sizeOf(x) / d;
  const eps = (attrs as { eps: number }).eps;
  // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·g, x̂ = (x − μ)·rstd
  const dxBody = `${LN_STATS}
    var sg = 0.0;
    var sgx = 0.0;
    for (var k = 0; k < uniforms.d; k = k + 1) {
      let gh = DY[o + k] * G[k];
      sg = sg + gh;
      sgx = sgx + gh * (X[o + k] - mean) * rstd;
    }
    sg = sg / f32(uniforms.d);
    sgx = sgx / f32(uniforms.d);
    for (var k = 0; k < uniforms.d; k = k + 1) {
      result[o + k] = rstd * (DY[o + k] * G[k] - sg - (X[o + k] - mean) * rstd * sgx);
    }`;
  const dx = run(backend, new LoopProgram('ln_dx', ['DY', 'X', 'G'], x.shape, rows, dxBody, 'd : i32, eps : f32,'), [dy, x, g], [...i32(d), ...f32(eps)]);
  // x̂ for dg = Σ dy·x̂ (a thread per row), then the column sums.
  const xhatBody = `${LN_STATS}
    for (var k = 0; k < uniforms.d; k = k + 1) { result[o + k] = (X[o + k] - mean) * rstd; }`;
  const xhat = run(backend, new LoopProgram('ln_xhat', ['X'], x.shape, rows, xhatBody, 'd : i32, eps : f32,'), [x], [...i32(d), ...f32(eps)]);
  try {
    return [dx, columnSum(backend, dy, rows, d, xhat), columnSum(backend, dy, rows, d)];
  } finally {
    (backend as unknown as { disposeData(id: object): void }).disposeData(xhat.dataId);
  }
};

const CE_LSE = `
  let o = t * uniforms.v;
  var mx = -3.4e38;
  for (var k = 0; k < uniforms.v; k = k + 1) { mx = max(mx, L[o + k]); }
  var z = 0.0;
  for (var k = 0; k < uniforms.v; k = k + 1) { z = z + exp(L[o + k] - mx); }
  let lse = mx + log(z);
  let y = i32(Y[t]);
  let valid = y >= 0 && y < uniforms.v;`;

const crossEntropy: KernelFunc = ({ inputs, backend }) => {
  const { logits, targets } = inputs as { logits: TensorInfo; targets: TensorInfo };
  const v = lastDim(logits);
  const rows = sizeOf(logits) / v;
  const body = `${CE_LSE}
    if (valid) { result[t] = lse - L[o + y]; } else { result[t] = uniforms.NAN; }`;
  const p = new LoopProgram('ce', ['L', 'Y'], logits.shape.slice(0, -1), rows, body, 'v : i32,');
  return run(backend, p, [logits, targets], i32(v));
};

const crossEntropyGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, logits, targets } = inputs as { dy: TensorInfo; logits: TensorInfo; targets: TensorInfo };
  const v = lastDim(logits);
  const rows = sizeOf(logits) / v;
  const body = `${CE_LSE}
    for (var k = 0; k < uniforms.v; k = k + 1) {
      var gk = exp(L[o + k] - lse);
      if (valid && k == y) { gk = gk - 1.0; }
      result[o + k] = DY[t] * gk;
    }`;
  const p = new LoopProgram('ce_grad', ['DY', 'L', 'Y'], logits.shape, rows, body, 'v : i32,');
  return run(backend, p, [dy, logits, targets], i32(v));
};

// Every program reads every binding (the phony assignment _ = P[t]): WebGPU's automatic bind-group layout drops
// an unused binding, and tfjs binds all inputs.
const ADAM = `
  _ = P[t];
  let g = G[t] * uniforms.gradScale;
  let m = M[t] * uniforms.beta1 + g * (1.0 - uniforms.beta1);
  let v = V[t] * uniforms.beta2 + (g * g) * (1.0 - uniforms.beta2);`;

const adamw: KernelFunc = ({ inputs, backend, attrs }) => {
  const { p, m, v, g } = inputs as { p: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
  const a = attrs as Record<string, number>;
  const n = sizeOf(p);
  const uni = 'lr : f32, beta1 : f32, beta2 : f32, eps : f32, keep : f32, bc1 : f32, bc2 : f32, gradScale : f32,';
  const values = f32(a['lr']!, a['beta1']!, a['beta2']!, a['eps']!, 1 - a['decay']!, a['bc1']!, a['bc2']!, a['gradScale']!);
  const outs: Array<[string, string]> = [
    ['adamw_p', `${ADAM}\n result[t] = P[t] * uniforms.keep - ((m / uniforms.bc1) / (sqrt(v / uniforms.bc2) + uniforms.eps)) * uniforms.lr;`],
    ['adamw_m', `${ADAM}\n result[t] = m;`],
    ['adamw_v', `${ADAM}\n result[t] = v;`],
  ];
  return outs.map(([name, body]) => run(backend, new LoopProgram(name, ['P', 'M', 'V', 'G'], p.shape, n, body, uni), [p, m, v, g], values));
};

/** Up to 7 inputs per program: with the output, 8 storage buffers (WebGPU's default per-stage limit). */
const NORM_GROUP = 7;
const NORM_WG = 256;

/**
 * ‖A_w‖² for the k ≤ 7 inputs of one program: workgroup w strides over input w (256 threads), then a
 * shared-memory tree sum. One dispatch for up to 7 parameters instead of a Square and a Sum each.
 */
class SquaredNormsProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [NORM_WG, 1, 1];
  readonly uniforms: string;

  constructor(k: number) {
    this.variableNames = Array.from({ length: k }, (_, i) => `A${i}`);
    this.outputShape = [k];
    this.dispatch = [k, 1, 1];
    this.uniforms = this.variableNames.map((_, i) => `n${i} : i32,`).join(' ');
    this.shaderKey = `altar_sqnorms_${k}`;
  }

  getUserCode(): string {
    const cases = this.variableNames
      .map((a, i) => `case ${i}: { for (var j = l; j < uniforms.n${i}; j = j + ${NORM_WG}) { let x = ${a}[j]; acc = acc + x * x; } }`)
      .join('\n          ');
    return `
      var<workgroup> part : array<f32, ${NORM_WG}>;
      fn main(index : i32) {
        let w = i32(workgroupId.x);
        let l = i32(localIndex);
        var acc = 0.0;
        switch w {
          ${cases}
          default: {}
        }
        part[l] = acc;
        workgroupBarrier();
        for (var s = ${NORM_WG / 2}; s > 0; s = s >> 1) {
          if (l < s) { part[l] = part[l] + part[l + s]; }
          workgroupBarrier();
        }
        if (l == 0) { result[w] = part[0]; }
      }`;
  }
}

const squaredNorms: KernelFunc = ({ inputs, backend, attrs }) => {
  const n = (attrs as { count: number }).count;
  const all = Array.from({ length: n }, (_, i) => (inputs as Record<string, TensorInfo>)[`t${i}`]!);
  const parts: TensorInfo[] = [];
  for (let i = 0; i < n; i += NORM_GROUP) {
    const group = all.slice(i, i + NORM_GROUP);
    const program = new SquaredNormsProgram(group.length);
    parts.push((backend as WebgpuBackendLike).runWebGPUProgram(program, group, 'float32', i32(...group.map(sizeOf))));
  }
  if (parts.length === 1) return parts[0]!;
  const concat = getKernel(Concat, 'webgpu')!.kernelFunc;
  try {
    return concat({ inputs: parts as unknown as Record<string, TensorInfo>, backend, attrs: { axis: 0 } }) as TensorInfo;
  } finally {
    for (const p of parts) (backend as unknown as { disposeData(id: object): void }).disposeData(p.dataId);
  }
};

const DEC_WG = 64;

/**
 * Rotary tables of the new position as uniforms: cos and sin of P·θ_i for the dh/2 pairs, computed on the
 * host in float64 and rounded once (as the composition's tables are), packed four to a vec4.
 */
function ropeUniforms(dh: number, pos: number, base: number): { decl: string; fn: string; data: Uniform[] } {
  const half = dh / 2;
  const n = half / 4;
  const cos: number[] = [];
  const sin: number[] = [];
  for (let i = 0; i < half; i++) {
    const ang = pos * Math.pow(base, (-2 * i) / dh);
    cos.push(Math.cos(ang));
    sin.push(Math.sin(ang));
  }
  const names = (p: string) => Array.from({ length: n }, (_, i) => `uniforms.${p}${i}`).join(', ');
  const decl = Array.from({ length: n }, (_, i) => `rc${i} : vec4<f32>, `).join('') + Array.from({ length: n }, (_, i) => `rs${i} : vec4<f32>, `).join('');
  const fn = `
  fn ropeCS(i : i32) -> vec2<f32> {
    var c = array<vec4<f32>, ${n}>(${names('rc')});
    var s = array<vec4<f32>, ${n}>(${names('rs')});
    return vec2<f32>(c[i / 4][i % 4], s[i / 4][i % 4]);
  }
  fn rope(x0 : f32, x1 : f32, d : i32, half : i32) -> f32 {
    // element d of the rotated pair (x_i, x_{i+half}); x0 is element d, x1 its partner
    let cs = ropeCS(select(d, d - half, d >= half));
    return select(x0 * cs.x - x1 * cs.y, x1 * cs.y + x0 * cs.x, d >= half);
  }`;
  const data: Uniform[] = [];
  for (const t of [cos, sin]) for (let i = 0; i < n; i++) data.push({ type: 'float32', data: t.slice(4 * i, 4 * i + 4) });
  return { decl, fn, data };
}


/**
 * K' or V' (B, H, P+1, dh): the cache rows, then the new key (rotated when uniforms.rope = 1) or value
 * taken from qkv (B, 3D) at column offset uniforms.col.
 */
function growCache(backend: unknown, qkv: TensorInfo, cache: TensorInfo, col: number, rope: ReturnType<typeof ropeUniforms> | null): TensorInfo {
  const [b, h, p, dh] = cache.shape as [number, number, number, number];
  const n = b * h * (p + 1) * dh;
  const body = `
    let d = t % uniforms.dh;
    let r = (t / uniforms.dh) % (uniforms.p + 1);
    let bh = t / (uniforms.dh * (uniforms.p + 1));
    if (r < uniforms.p) {
      result[t] = C[(bh * uniforms.p + r) * uniforms.dh + d];
    } else {
      let hh = bh % uniforms.h;
      let bb = bh / uniforms.h;
      let row = bb * 3 * uniforms.h * uniforms.dh + uniforms.col + hh * uniforms.dh;
      ${rope ? `let half = uniforms.dh / 2;
      let partner = select(d + half, d - half, d >= half);
      result[t] = rope(Q[row + d], Q[row + partner], d, half);` : 'result[t] = Q[row + d];'}
    }`;
  const prog = new LoopProgram(`dec_grow_${rope ? `r${dh}` : 'n'}`, ['Q', 'C'], [b, h, p + 1, dh], n, body, `dh : i32, p : i32, h : i32, col : i32, ${rope?.decl ?? ''}`);
  if (rope) (prog as unknown as { getUserCode: () => string }).getUserCode = ((orig) => () => rope.fn + orig())(prog.getUserCode.bind(prog));
  // An empty cache (the first step) has no buffer to bind: bind qkv in its place (never read when p = 0).
  return run(backend, prog, [qkv, p === 0 ? qkv : cache], [...i32(dh, p, h, col), ...(rope?.data ?? [])]);
}

/** y (B, D): a workgroup per (batch, head); scores in workgroup memory, max / sum by tree reductions. */
class DecodeAttentionProgram {
  readonly variableNames = ['Q', 'K', 'V'];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [DEC_WG, 1, 1];
  readonly uniforms: string;
  readonly shaderKey: string;

  constructor(b: number, d: number, h: number, private readonly rope: ReturnType<typeof ropeUniforms> | null) {
    this.outputShape = [b, d];
    this.dispatch = [b * h, 1, 1];
    this.uniforms = `dh : i32, keys : i32, h : i32, scale : f32, ${rope?.decl ?? ''}`;
    this.shaderKey = `altar_dec_attn_${rope ? `r${d / h}` : 'n'}`;
  }

  getUserCode(): string {
    return `${this.rope?.fn ?? ''}
      var<workgroup> sc : array<f32, ${WEBGPU_DECODE_MAX_KEYS}>;
      var<workgroup> red : array<f32, ${DEC_WG}>;
      var<workgroup> q : array<f32, 1024>;
      fn main(index : i32) {
        let w = i32(workgroupId.x);
        let l = i32(localIndex);
        let hh = w % uniforms.h;
        let bb = w / uniforms.h;
        let row = bb * 3 * uniforms.h * uniforms.dh + hh * uniforms.dh;
        let half = uniforms.dh / 2;
        for (var d = l; d < uniforms.dh; d = d + ${DEC_WG}) {
          ${this.rope ? 'q[d] = rope(Q[row + d], Q[row + select(d + half, d - half, d >= half)], d, half);' : 'q[d] = Q[row + d];'}
        }
        workgroupBarrier();
        let kb = w * uniforms.keys * uniforms.dh;
        var mx = -3.4e38;
        for (var j = l; j < uniforms.keys; j = j + ${DEC_WG}) {
          var dot = 0.0;
          for (var d = 0; d < uniforms.dh; d = d + 1) { dot = dot + q[d] * K[kb + j * uniforms.dh + d]; }
          sc[j] = dot * uniforms.scale;
          mx = max(mx, sc[j]);
        }
        red[l] = mx;
        workgroupBarrier();
        for (var s = ${DEC_WG / 2}; s > 0; s = s >> 1) {
          if (l < s) { red[l] = max(red[l], red[l + s]); }
          workgroupBarrier();
        }
        let m = red[0];
        workgroupBarrier();
        var z = 0.0;
        for (var j = l; j < uniforms.keys; j = j + ${DEC_WG}) {
          sc[j] = exp(sc[j] - m);
          z = z + sc[j];
        }
        red[l] = z;
        workgroupBarrier();
        for (var s = ${DEC_WG / 2}; s > 0; s = s >> 1) {
          if (l < s) { red[l] = red[l] + red[l + s]; }
          workgroupBarrier();
        }
        let zt = red[0];
        for (var d = l; d < uniforms.dh; d = d + ${DEC_WG}) {
          var acc = 0.0;
          for (var j = 0; j < uniforms.keys; j = j + 1) { acc = acc + sc[j] * V[kb + j * uniforms.dh + d]; }
          result[bb * uniforms.h * uniforms.dh + hh * uniforms.dh + d] = acc / zt;
        }
      }`;
  }
}

const decodeAttention: KernelFunc = ({ inputs, backend, attrs }) => {
  const { qkv, kCache, vCache } = inputs as { qkv: TensorInfo; kCache: TensorInfo; vCache: TensorInfo };
  const { nHeads, rope, ropeBase } = attrs as { nHeads: number; rope: boolean; ropeBase: number };
  const [b, h, p, dh] = kCache.shape as [number, number, number, number];
  const d = h * dh;
  if (!webgpuDecodeAttentionFits(dh, p + 1, rope) || h !== nHeads) {
    throw new Error(`decodeAttention (webgpu): ${p + 1} keys of width ${dh} (rope ${rope}) do not fit; see webgpuDecodeAttentionFits`);
  }
  const tables = rope ? ropeUniforms(dh, p, ropeBase) : null;
  const k = growCache(backend, qkv, kCache, d, tables);
  const v = growCache(backend, qkv, vCache, 2 * d, null);
  const y = (backend as WebgpuBackendLike).runWebGPUProgram(new DecodeAttentionProgram(b, d, h, tables), [qkv, k, v], 'float32', [
    ...i32(dh, p + 1, h),
    ...f32(1 / Math.sqrt(dh)),
    ...(tables?.data ?? []),
  ]);
  return [y, k, v];
};

/** Register the WGSL fused kernels on webgpu (idempotent). Returns the kernel names registered now. */
export function registerWebgpuFusedKernels(): string[] {
  const kernels: Array<[string, KernelFunc]> = [
    [FUSED_KERNELS.biasGelu, biasGelu],
    [FUSED_KERNELS.biasGeluGrad, biasGeluGrad],
    [FUSED_KERNELS.layerNorm, layerNorm],
    [FUSED_KERNELS.layerNormGrad, layerNormGrad],
    [FUSED_KERNELS.crossEntropy, crossEntropy],
    [FUSED_KERNELS.crossEntropyGrad, crossEntropyGrad],
    [FUSED_KERNELS.adamw, adamw],
    [FUSED_KERNELS.squaredNorms, squaredNorms],
    [DECODE_ATTENTION_KERNEL, decodeAttention],
  ];
  const done: string[] = [];
  for (const [kernelName, kernelFunc] of kernels) {
    if (getKernel(kernelName, 'webgpu')) continue;
    registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
    done.push(kernelName);
  }
  return done;
}
