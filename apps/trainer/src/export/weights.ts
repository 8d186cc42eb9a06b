/**
 * altar parameter names and layouts → the generated PyTorch module's state_dict. altar's Linear stores
 * W as (in, out) and computes x W; torch's nn.Linear stores (out, in) and computes x Wᵀ, so every Linear
 * weight is transposed. The depthwise causal conv (K, E) becomes Conv1d's (E, 1, K). Everything else is
 * copied. The plan is checked against the checkpoint both ways: a tensor the plan does not know, or a
 * planned tensor the checkpoint lacks, is a BAD_CHECKPOINT error naming it.
 */
import { AltarError, bytesOf, Rng, type SafeTensor } from '@altar/backend';
import type { ModelConfig } from '@altar/models';
import { unetPlan } from './weights-unet.js';

/**
 * How a tensor changes layout on its way to torch: copied, a Linear weight (in, out) → (out, in), a depthwise conv
 * kernel (K, E) → (E, 1, K), or a U-Net matrix: an im2col 3×3 conv (9·Cin, Cout) → Conv2d's (Cout, Cin, 3, 3), a
 * 1×1 projection (Cin, Cout) → (Cout, Cin, 1, 1), and the resampling projections whose space-to-depth channel
 * order (dy·2C + dx·C + c) becomes pixel_(un)shuffle's (c·4 + dy·2 + dx): 'pool' permutes the input channels,
 * 'unpool' the output channels, 'unpool-bias' the bias.
 *
 * @example
 * ```ts
 * const layout: Layout = 'linear';
 * ```
 */
export type Layout = 'copy' | 'linear' | 'conv1d' | 'conv3x3' | 'conv1x1' | 'pool' | 'unpool' | 'unpool-bias';

/**
 * One planned tensor: altar's name, the torch state_dict key, and the layout change.
 *
 * @example
 * ```ts
 * const r: Rename = { from: 'blocks.0.attn.wqkv.w', to: 'transformer.h.0.attn.c_attn.weight', layout: 'linear' };
 * ```
 */
export interface Rename {
  from: string;
  to: string;
  layout: Layout;
}

const linear = (from: string, to: string, bias = true): Rename[] => [
  { from: `${from}.w`, to: `${to}.weight`, layout: 'linear' },
  ...(bias ? [{ from: `${from}.b`, to: `${to}.bias`, layout: 'copy' as const }] : []),
];
const copy = (from: string, to: string): Rename => ({ from, to, layout: 'copy' });
const norm = (kind: 'layernorm' | 'rmsnorm', from: string, to: string): Rename[] => [
  copy(`${from}.g`, `${to}.weight`),
  ...(kind === 'layernorm' ? [copy(`${from}.b`, `${to}.bias`)] : []),
];
const mlp = (kind: 'gelu' | 'swiglu', from: string, to: string): Rename[] =>
  kind === 'swiglu'
    ? [...linear(`${from}.w1`, `${to}.w1`), ...linear(`${from}.w3`, `${to}.w3`), ...linear(`${from}.w2`, `${to}.w2`)]
    : [...linear(`${from}.w1`, `${to}.c_fc`), ...linear(`${from}.w2`, `${to}.c_proj`)];
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * The rename plan of a model config: every altar parameter → its torch name and layout.
 *
 * @example
 * ```ts
 * const plan = torchWeightPlan(model.config); // [{ from: 'tok_emb.weight', to: 'transformer.wte.weight', layout: 'copy' }, …]
 * ```
 */
export function torchWeightPlan(c: ModelConfig): Rename[] {
  switch (c.type) {
    case 'ar-transformer':
      return [
        copy('tok_emb.weight', 'transformer.wte.weight'),
        ...(c.positions === 'learned' ? [copy('pos_emb', 'transformer.wpe.weight')] : []),
        ...range(c.nLayers).flatMap((i) => {
          const [a, t] = [`blocks.${i}`, `transformer.h.${i}`];
          return [
            ...norm(c.norm, `${a}.norm1`, `${t}.ln_1`),
            ...linear(`${a}.attn.wqkv`, `${t}.attn.c_attn`, false),
            ...linear(`${a}.attn.wo`, `${t}.attn.c_proj`, false),
            ...norm(c.norm, `${a}.norm2`, `${t}.ln_2`),
            ...mlp(c.mlp, `${a}.mlp`, `${t}.mlp`),
          ];
        }),
        ...norm(c.norm, 'norm_f', 'transformer.ln_f'),
      ];
    case 'diffusion-transformer': {
      const tc = c.timeConditioning;
      return [
        copy('tok_emb.weight', 'tok_emb.weight'),
        ...(c.positions === 'learned' ? [copy('pos_emb', 'pos_emb.weight')] : []),
        ...(tc ? [...linear('t_emb.l1', 't_embedder.mlp.0'), ...linear('t_emb.l2', 't_embedder.mlp.2')] : []),
        ...range(c.nLayers).flatMap((i) => {
          const a = `blocks.${i}`;
          return [
            ...(tc ? linear(`${a}.ada`, `${a}.adaLN_modulation.1`) : [copy(`${a}.ada_const`, `${a}.adaLN_const`)]),
            ...linear(`${a}.attn.wqkv`, `${a}.attn.c_attn`, false),
            ...linear(`${a}.attn.wo`, `${a}.attn.c_proj`, false),
            ...mlp(c.mlp, `${a}.mlp`, `${a}.mlp`),
          ];
        }),
        ...(tc ? linear('ada_f', 'final_layer.adaLN_modulation.1') : [copy('ada_f_const', 'final_layer.adaLN_const')]),
      ];
    }
    case 'ssm-lm':
      return [
        copy('tok_emb.weight', 'backbone.embedding.weight'),
        ...range(c.nLayers).flatMap((i) => {
          const [a, t] = [`blocks.${i}`, `backbone.layers.${i}`];
          const mixer: Rename[] =
            c.mixer === 'selective'
              ? [
                  ...linear(`${a}.mamba.in_proj`, `${t}.mixer.in_proj`, false),
                  { from: `${a}.mamba.conv.w`, to: `${t}.mixer.conv1d.weight`, layout: 'conv1d' },
                  copy(`${a}.mamba.conv.b`, `${t}.mixer.conv1d.bias`),
                  ...linear(`${a}.mamba.x_proj`, `${t}.mixer.x_proj`, false),
                  ...linear(`${a}.mamba.dt_proj`, `${t}.mixer.dt_proj`),
                  copy(`${a}.mamba.A_log`, `${t}.mixer.A_log`),
                  copy(`${a}.mamba.D`, `${t}.mixer.D`),
                  ...linear(`${a}.mamba.out_proj`, `${t}.mixer.out_proj`, false),
                ]
              : [
                  copy(`${a}.s4d.log_dt`, `${t}.mixer.kernel.log_dt`),
                  copy(`${a}.s4d.A_re_log`, `${t}.mixer.kernel.log_A_real`),
                  copy(`${a}.s4d.A_im`, `${t}.mixer.kernel.A_imag`),
                  copy(`${a}.s4d.C_re`, `${t}.mixer.kernel.C_re`),
                  copy(`${a}.s4d.C_im`, `${t}.mixer.kernel.C_im`),
                  copy(`${a}.s4d.D`, `${t}.mixer.D`),
                  ...linear(`${a}.out`, `${t}.mixer.out_proj`),
                ];
          return [
            ...norm(c.norm, `${a}.norm`, `${t}.norm`),
            ...mixer,
            ...(c.mlpRatio > 0
              ? [...norm(c.norm, `${a}.norm2`, `${t}.norm2`), ...mlp('gelu', `${a}.mlp`, `${t}.mlp`)]
              : []),
          ];
        }),
        ...norm(c.norm, 'norm_f', 'backbone.norm_f'),
      ];
    case 'mlp-denoiser':
      return [
        ...linear('in', 'inp'),
        ...linear('t_emb.l1', 't_embedder.mlp.0'),
        ...linear('t_emb.l2', 't_embedder.mlp.2'),
        ...range(c.nLayers).flatMap((i) => [
          ...linear(`blocks.${i}.ada`, `blocks.${i}.adaLN_modulation.1`),
          ...linear(`blocks.${i}.w1`, `blocks.${i}.fc1`),
          ...linear(`blocks.${i}.w2`, `blocks.${i}.fc2`),
        ]),
        ...linear('out', 'out'),
      ];
    case 'unet':
      return unetPlan(c);
  }
}

function floats(t: SafeTensor, name: string): Float32Array {
  if (t.dtype !== 'F32')
    throw new AltarError('BAD_CHECKPOINT', `export: parameter '${name}' has dtype ${t.dtype}, expected F32`);
  // decodeSafetensors returns aligned copies; little-endian hosts read the bytes as they are.
  return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}

/** Space-to-depth channel k = dy·2C + dx·C + c → pixel_shuffle's c·4 + dy·2 + dx. */
function s2d(k: number, c: number): number {
  const dy = Math.floor(k / (2 * c));
  const dx = Math.floor((k % (2 * c)) / c);
  return (k % c) * 4 + dy * 2 + dx;
}

function relayout(t: SafeTensor, r: Rename): SafeTensor {
  const x = floats(t, r.from);
  if (r.layout === 'copy') return { dtype: 'F32', shape: [...t.shape], data: bytesOf(Float32Array.from(x)) };
  if (r.layout === 'unpool-bias') {
    const y = new Float32Array(x.length);
    x.forEach((v, k) => (y[s2d(k, x.length / 4)] = v));
    return { dtype: 'F32', shape: [...t.shape], data: bytesOf(y) };
  }
  if (t.shape.length !== 2)
    throw new AltarError('BAD_CHECKPOINT', `export: '${r.from}' has shape [${t.shape}], expected a matrix`);
  const [rows, cols] = t.shape as [number, number];
  const cin = rows / 9;
  // (target shape, flat target index of x[i, j])
  const [shape, at]: [number[], (i: number, j: number) => number] =
    r.layout === 'linear'
      ? [[cols, rows], (i, j) => j * rows + i]
      : r.layout === 'conv1d'
        ? [[cols, 1, rows], (i, j) => j * rows + i]
        : r.layout === 'conv1x1'
          ? [[cols, rows, 1, 1], (i, j) => j * rows + i]
          : r.layout === 'conv3x3'
            ? [[cols, cin, 3, 3], (i, j) => (j * cin + (i % cin)) * 9 + Math.floor(i / cin)]
            : r.layout === 'pool'
              ? [[cols, rows, 1, 1], (i, j) => j * rows + s2d(i, rows / 4)]
              : [[cols, rows, 1, 1], (i, j) => s2d(j, cols / 4) * rows + i];
  if (r.layout === 'conv3x3' && !Number.isInteger(cin))
    throw new AltarError('BAD_CHECKPOINT', `export: '${r.from}' has ${rows} rows, not 9·Cin`);
  const y = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[at(i, j)] = x[i * cols + j] as number;
  return { dtype: 'F32', shape, data: bytesOf(y) };
}

/**
 * Apply the plan to a checkpoint's tensors: torch names and layouts, plus the fixed buffers a model rebuilds from
 * its config (the MLP denoiser's Fourier matrix). Unknown or missing tensors are BAD_CHECKPOINT errors.
 *
 * @example
 * ```ts
 * const torchTensors = toTorchTensors(config, decodeSafetensors(bytes).tensors);
 * ```
 */
export function toTorchTensors(c: ModelConfig, tensors: Record<string, SafeTensor>): Record<string, SafeTensor> {
  const plan = torchWeightPlan(c);
  const planned = new Set(plan.map((r) => r.from));
  const unknown = Object.keys(tensors).filter((n) => !planned.has(n));
  if (unknown.length > 0)
    throw new AltarError(
      'BAD_CHECKPOINT',
      `export: the checkpoint has parameters a '${c.type}' model with this config does not: ${unknown.join(', ')}`,
    );
  const out: Record<string, SafeTensor> = {};
  for (const r of plan) {
    const t = tensors[r.from];
    if (!t) throw new AltarError('BAD_CHECKPOINT', `export: the checkpoint lacks parameter '${r.from}'`);
    out[r.to] = relayout(t, r);
  }
  if (c.type === 'mlp-denoiser' && c.fourierFeatures > 0) {
    // The same draw as @altar/models' MlpDenoiser: Rng(seed).fork('fourier'), N(0, scale²), times 2π.
    const b = new Rng(c.seed).fork('fourier').normalArray(c.dim * c.fourierFeatures, 0, c.fourierScale);
    const f = Float32Array.from(b, (v) => 2 * Math.PI * v);
    out['fourier_freqs'] = { dtype: 'F32', shape: [c.dim, c.fourierFeatures], data: bytesOf(f) };
  }
  return out;
}
