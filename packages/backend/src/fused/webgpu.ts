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
 *   bias + GELU      1 forward; backward 3 (dx elementwise, db a two-pass column sum, webgpu-colsum.ts)
 *   norms            LayerNorm and RMSNorm, alone or fused with the residual add: webgpu-norm.ts
 *   cross-entropy    1 forward (a thread per row); backward 1 (a thread per row)
 *   squared norms    1 dispatch per 7 tensors (a workgroup each, subgroup or shared-memory sum) + 1 concat
 *   decode attention 3 dispatches (K' and V' grown, rotary on the new key; y: a workgroup per (batch, head),
 *                    scores in workgroup memory) instead of ~16
 *
 * Deliberately simple — a thread per element, row or column, no shared-memory reductions — because the
 * model widths here are small (D, V ≤ a few thousand) and the win is in the dispatch count. Each is checked
 * by the conformance suite against the cpu backend's host kernel.
 */
import { Concat, registerKernel, getKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './names.js';
import { DECODE_ATTENTION_KERNEL } from './decode-attention.js';

import { i32, lastDim, LoopProgram, run, sizeOf, type WebgpuBackendLike } from './webgpu-program.js';
import { decodeAttentionWebgpu } from './webgpu-decode.js';
import { webgpuNormKernels } from './webgpu-norm.js';
import { columnSums } from './webgpu-colsum.js';
import { attentionGradWebgpu, attentionWebgpu } from './webgpu-attention.js';
import { adamwWebgpu } from './webgpu-optim.js';
import { workgroupReduceWgsl } from './webgpu-reduce.js';
import { subgroupsOn } from '../webgpu-device.js';

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
  const dx = run(
    backend,
    new LoopProgram('gelu_dx', ['DY', 'X', 'B'], x.shape, n, body, 'd : i32,'),
    [dy, x, b],
    i32(d),
  );
  return [dx, ...columnSums(backend, 'gelu_db', ['M'], [dx], ['M[i]'], n / d, d)];
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

/** Up to 7 inputs per program: with the output, 8 storage buffers (WebGPU's default per-stage limit). */
const NORM_GROUP = 7;
const NORM_WG = 256;

/**
 * ‖A_w‖² for the k ≤ 7 inputs of one program: workgroup w strides over input w (256 threads), then a
 * workgroup sum (subgroups where on, else a shared-memory tree; webgpu-reduce.ts). One dispatch for up to 7
 * parameters instead of a Square and a Sum each.
 */
class SquaredNormsProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [NORM_WG, 1, 1];
  readonly uniforms: string;

  constructor(
    k: number,
    private readonly subgroups: boolean,
  ) {
    this.variableNames = Array.from({ length: k }, (_, i) => `A${i}`);
    this.outputShape = [k];
    this.dispatch = [k, 1, 1];
    this.uniforms = this.variableNames.map((_, i) => `n${i} : i32,`).join(' ');
    this.shaderKey = `altar_sqnorms_${k}${subgroups ? '_sg' : ''}`;
  }

  getUserCode(): string {
    const cases = this.variableNames
      .map(
        (a, i) =>
          `case ${i}: { for (var j = l; j < uniforms.n${i}; j = j + ${NORM_WG}) { let x = ${a}[j]; acc = acc + x * x; } }`,
      )
      .join('\n          ');
    return `${workgroupReduceWgsl('nrm', NORM_WG, this.subgroups)}
      fn main(index : i32) {
        let w = i32(workgroupId.x);
        let l = i32(localIndex);
        var acc = 0.0;
        switch w {
          ${cases}
          default: {}
        }
        let total = nrm_sum(acc, l);
        if (l == 0) { result[w] = total; }
      }`;
  }
}

const squaredNorms: KernelFunc = ({ inputs, backend, attrs }) => {
  const n = (attrs as { count: number }).count;
  const all = Array.from({ length: n }, (_, i) => (inputs as Record<string, TensorInfo>)[`t${i}`]!);
  const parts: TensorInfo[] = [];
  for (let i = 0; i < n; i += NORM_GROUP) {
    const group = all.slice(i, i + NORM_GROUP);
    const program = new SquaredNormsProgram(group.length, subgroupsOn(backend));
    parts.push((backend as WebgpuBackendLike).runWebGPUProgram(program, group, 'float32', i32(...group.map(sizeOf))));
  }
  if (parts.length === 1) return parts[0]!;
  const concat = getKernel(Concat, 'webgpu')!.kernelFunc;
  try {
    return concat({
      inputs: parts as unknown as Record<string, TensorInfo>,
      backend,
      attrs: { axis: 0 },
    }) as TensorInfo;
  } finally {
    for (const p of parts) (backend as unknown as { disposeData(id: object): void }).disposeData(p.dataId);
  }
};

/** Register the WGSL fused kernels on webgpu (idempotent). Returns the kernel names registered now. */
export function registerWebgpuFusedKernels(): string[] {
  const kernels: Array<[string, KernelFunc]> = [
    [FUSED_KERNELS.biasGelu, biasGelu],
    [FUSED_KERNELS.biasGeluGrad, biasGeluGrad],
    [FUSED_KERNELS.crossEntropy, crossEntropy],
    [FUSED_KERNELS.crossEntropyGrad, crossEntropyGrad],
    [FUSED_KERNELS.adamw, adamwWebgpu],
    [FUSED_KERNELS.squaredNorms, squaredNorms],
    [DECODE_ATTENTION_KERNEL, decodeAttentionWebgpu],
    ...webgpuNormKernels(),
    [FUSED_KERNELS.attention, attentionWebgpu],
    [FUSED_KERNELS.attentionGrad, attentionGradWebgpu],
  ];
  const done: string[] = [];
  for (const [kernelName, kernelFunc] of kernels) {
    if (getKernel(kernelName, 'webgpu')) continue;
    registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
    done.push(kernelName);
  }
  return done;
}
