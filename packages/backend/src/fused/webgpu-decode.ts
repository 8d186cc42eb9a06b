/**
 * Cached decode attention in WGSL (see decode-attention.ts for the operation): K' and V' grown by one row
 * (rotary on the new key), then y with a workgroup per (batch, head) keeping the scores in workgroup memory.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ropeCosSin, WEBGPU_DECODE_MAX_KEYS, webgpuDecodeAttentionFits } from './decode-attention.js';
import { f32, i32, LoopProgram, run, type Uniform, type WebgpuBackendLike } from './webgpu-program.js';
import { workgroupReduceWgsl } from './webgpu-reduce.js';
import { subgroupsOn } from '../webgpu-device.js';

const DEC_WG = 64;

/**
 * Rotary tables of the new position as uniforms: cos and sin of P·θ_i for the dh/2 pairs, computed on the
 * host in float64 and rounded once (as the composition's tables are), packed four to a vec4.
 */
function ropeUniforms(dh: number, pos: number, base: number): { decl: string; fn: string; data: Uniform[] } {
  const half = dh / 2;
  const n = half / 4;
  const { cos, sin } = ropeCosSin(dh, pos, base);
  const names = (p: string) => Array.from({ length: n }, (_, i) => `uniforms.${p}${i}`).join(', ');
  const decl =
    Array.from({ length: n }, (_, i) => `rc${i} : vec4<f32>, `).join('') +
    Array.from({ length: n }, (_, i) => `rs${i} : vec4<f32>, `).join('');
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
  for (const t of [cos, sin])
    for (let i = 0; i < n; i++) data.push({ type: 'float32', data: Array.from(t.subarray(4 * i, 4 * i + 4)) });
  return { decl, fn, data };
}

/**
 * K' or V' (B, H, P+1, dh): the cache rows, then the new key (rotated when uniforms.rope = 1) or value
 * taken from qkv (B, 3D) at column offset uniforms.col.
 */
function growCache(
  backend: unknown,
  qkv: TensorInfo,
  cache: TensorInfo,
  col: number,
  rope: ReturnType<typeof ropeUniforms> | null,
): TensorInfo {
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
      ${
        rope
          ? `let half = uniforms.dh / 2;
      let partner = select(d + half, d - half, d >= half);
      result[t] = rope(Q[row + d], Q[row + partner], d, half);`
          : 'result[t] = Q[row + d];'
      }
    }`;
  const prog = new LoopProgram(
    `dec_grow_${rope ? `r${dh}` : 'n'}`,
    ['Q', 'C'],
    [b, h, p + 1, dh],
    n,
    body,
    `dh : i32, p : i32, h : i32, col : i32, ${rope?.decl ?? ''}`,
  );
  if (rope)
    (prog as unknown as { getUserCode: () => string }).getUserCode = (
      (orig) => () =>
        rope.fn + orig()
    )(prog.getUserCode.bind(prog));
  // An empty cache (the first step) has no buffer to bind: bind qkv in its place (never read when p = 0).
  return run(backend, prog, [qkv, p === 0 ? qkv : cache], [...i32(dh, p, h, col), ...(rope?.data ?? [])]);
}

/**
 * y (B, D): a workgroup per (batch, head); scores in workgroup memory, max and sum over the keys by workgroup
 * reductions (subgroups where on, else shared-memory trees; webgpu-reduce.ts).
 */
class DecodeAttentionProgram {
  readonly variableNames = ['Q', 'K', 'V'];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [0, 1] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [DEC_WG, 1, 1];
  readonly uniforms: string;
  readonly shaderKey: string;

  constructor(
    b: number,
    d: number,
    h: number,
    private readonly rope: ReturnType<typeof ropeUniforms> | null,
    private readonly subgroups: boolean,
  ) {
    this.outputShape = [b, d];
    this.dispatch = [b * h, 1, 1];
    this.uniforms = `dh : i32, keys : i32, h : i32, scale : f32, ${rope?.decl ?? ''}`;
    this.shaderKey = `altar_dec_attn_${rope ? `r${d / h}` : 'n'}${subgroups ? '_sg' : ''}`;
  }

  getUserCode(): string {
    return `${workgroupReduceWgsl('dec', DEC_WG, this.subgroups)}${this.rope?.fn ?? ''}
      var<workgroup> sc : array<f32, ${WEBGPU_DECODE_MAX_KEYS}>;
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
        let m = dec_max(mx, l);
        var z = 0.0;
        for (var j = l; j < uniforms.keys; j = j + ${DEC_WG}) {
          sc[j] = exp(sc[j] - m);
          z = z + sc[j];
        }
        let zt = dec_sum(z, l);
        for (var d = l; d < uniforms.dh; d = d + ${DEC_WG}) {
          var acc = 0.0;
          for (var j = 0; j < uniforms.keys; j = j + 1) { acc = acc + sc[j] * V[kb + j * uniforms.dh + d]; }
          result[bb * uniforms.h * uniforms.dh + hh * uniforms.dh + d] = acc / zt;
        }
      }`;
  }
}

export const decodeAttentionWebgpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const { qkv, kCache, vCache } = inputs as { qkv: TensorInfo; kCache: TensorInfo; vCache: TensorInfo };
  const { nHeads, rope, ropeBase } = attrs as { nHeads: number; rope: boolean; ropeBase: number };
  const [b, h, p, dh] = kCache.shape as [number, number, number, number];
  const d = h * dh;
  if (!webgpuDecodeAttentionFits(dh, p + 1, rope) || h !== nHeads) {
    throw new Error(
      `decodeAttention (webgpu): ${p + 1} keys of width ${dh} (rope ${rope}) do not fit; see webgpuDecodeAttentionFits`,
    );
  }
  const tables = rope ? ropeUniforms(dh, p, ropeBase) : null;
  const k = growCache(backend, qkv, kCache, d, tables);
  const v = growCache(backend, qkv, vCache, 2 * d, null);
  const y = (backend as WebgpuBackendLike).runWebGPUProgram(
    new DecodeAttentionProgram(b, d, h, tables, subgroupsOn(backend)),
    [qkv, k, v],
    'float32',
    [...i32(dh, p + 1, h), ...f32(1 / Math.sqrt(dh)), ...(tables?.data ?? [])],
  );
  return [y, k, v];
};
