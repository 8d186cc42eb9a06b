/**
 * The U-Net's rename plan: altar's NHWC im2col convs and space-to-depth resampling → torch's NCHW Conv2d,
 * pixel_unshuffle / pixel_shuffle (see the layouts in ./weights.ts).
 */
import type { UNetConfig } from '@altar/models';
import type { Rename } from './weights.js';

const pair = (from: string, to: string, layout: Rename['layout'], bias: Rename['layout'] = 'copy'): Rename[] => [
  { from: `${from}.w`, to: `${to}.weight`, layout },
  { from: `${from}.b`, to: `${to}.bias`, layout: bias },
];

/** ResBlock n1, c1, t, n2, c2 (+ skip when the width changes). */
function resBlock(from: string, to: string, widthChanges: boolean): Rename[] {
  return [
    { from: `${from}.n1.g`, to: `${to}.norm1.weight`, layout: 'copy' },
    { from: `${from}.n1.b`, to: `${to}.norm1.bias`, layout: 'copy' },
    ...pair(`${from}.c1`, `${to}.conv1`, 'conv3x3'),
    ...pair(`${from}.t`, `${to}.t_proj`, 'linear'),
    { from: `${from}.n2.g`, to: `${to}.norm2.weight`, layout: 'copy' },
    { from: `${from}.n2.b`, to: `${to}.norm2.bias`, layout: 'copy' },
    ...pair(`${from}.c2`, `${to}.conv2`, 'conv3x3'),
    ...(widthChanges ? pair(`${from}.skip`, `${to}.skip`, 'conv1x1') : []),
  ];
}

/**
 * Every U-Net parameter → its torch name and layout.
 *
 * @example
 * ```ts
 * unetPlan(validateModelConfig({ type: 'unet' }) as UNetConfig)[0]; // { from: 't_emb.l1.w', to: 't_embedder.mlp.0.weight', … }
 * ```
 */
export function unetPlan(c: UNetConfig): Rename[] {
  const levels = c.channelMults.length;
  const out: Rename[] = [
    ...pair('t_emb.l1', 't_embedder.mlp.0', 'linear'),
    ...pair('t_emb.l2', 't_embedder.mlp.2', 'linear'),
    ...pair('in', 'conv_in', 'conv3x3'),
  ];
  for (let i = 0; i < levels; i++) {
    out.push(...resBlock(`down.${i}`, `down.${i}.block`, false));
    if (i < levels - 1) out.push(...pair(`down.${i}.pool`, `down.${i}.pool`, 'pool'));
  }
  out.push(...resBlock('mid', 'mid', false));
  for (let i = levels - 1; i >= 0; i--) {
    out.push(...resBlock(`up.${i}`, `up.${i}.block`, true));
    if (i > 0) out.push(...pair(`up.${i}.unpool`, `up.${i}.unpool`, 'unpool', 'unpool-bias'));
  }
  out.push(
    { from: 'out.norm.g', to: 'norm_out.weight', layout: 'copy' },
    { from: 'out.norm.b', to: 'norm_out.bias', layout: 'copy' },
    ...pair('out.conv', 'conv_out', 'conv3x3'),
  );
  return out;
}
