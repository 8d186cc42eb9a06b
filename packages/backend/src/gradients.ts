/**
 * Gradient registration, the same in Node ESM, vitest and browser bundles.
 *
 * tfjs-core ships its gradients in `dist/register_all_gradients`, an ES module with extensionless
 * imports that plain Node ESM cannot load. The package.json `imports` entry `#tfjs-gradients` maps
 * `node` to `@tensorflow/tfjs` (whose CommonJS bundle registers the same gradients into the global
 * registry) and everything else (bundlers) to the ES module. This file is a side effect on purpose.
 *
 * It also adds gradients that no tfjs backend has: GatherNd (so gathering per-target log-probs
 * trains), expressed with ScatterNd, which every backend we use implements; and it replaces tfjs
 * 4.22's Cumsum gradient, which returns a wrongly permuted tensor for any axis but the last (found by
 * the conformance suite): d cumsum(x)/dx applied to dy is the cumsum of dy in the other direction.
 * The cpu backend's ResizeNearestNeighborGrad is also wrong for plain integer upsampling (wasm and
 * WebGPU are right): for that case (the U-Net's 2× upsampling) the gradient is the sum of dy over each
 * k×k block, computed with reshape + sum; other resizes keep tfjs's gradient.
 */
import '#tfjs-gradients';
import {
  Cumsum,
  cumsum,
  GatherNd,
  getGradient,
  registerGradient,
  reshape,
  ResizeNearestNeighbor,
  scatterND,
  sum,
  zerosLike,
  type CumsumAttrs,
  type ResizeNearestNeighborAttrs,
  type Tensor,
} from '@tensorflow/tfjs-core';

/**
 * Comparison and logical ops are piecewise constant: their gradient is zero almost everywhere. tfjs
 * registers none, so any loss that uses them on a differentiable path — tf.divNoNan is where(equal(b,
 * 0), 0, a / b) — fails with "gradient function not found for Equal". Zero gradients fix that.
 */
const PIECEWISE_CONSTANT_BINARY = [
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
];
const PIECEWISE_CONSTANT_UNARY = ['LogicalNot', 'IsNan', 'IsInf', 'IsFinite'];

let registered = false;

/**
 * Idempotent: registers the gradients altar adds on top of tfjs's own.
 *
 * @example
 * ```ts
 * registerExtraGradients(); // initBackend calls it; call it yourself only when starting tfjs without initBackend
 * ```
 */
export function registerExtraGradients(): void {
  if (registered) return;
  registered = true;
  if (getGradient(GatherNd) == null) {
    registerGradient({
      kernelName: GatherNd,
      inputsToSave: ['params', 'indices'],
      gradFunc: (dy, saved) => {
        const [params, indices] = saved as [Tensor, Tensor];
        // d params = scatter dy back to where it was gathered from; indices get no gradient.
        return { params: () => scatterND(indices, dy as Tensor, params.shape), indices: () => zerosLike(indices) };
      },
    });
  }
  for (const [ops, names] of [
    [PIECEWISE_CONSTANT_BINARY, ['a', 'b']],
    [PIECEWISE_CONSTANT_UNARY, ['x']],
  ] as const) {
    for (const kernelName of ops) {
      if (getGradient(kernelName) != null) continue;
      registerGradient({
        kernelName,
        inputsToSave: [...names],
        gradFunc: (_dy, saved) => {
          const inputs = saved as Tensor[];
          return Object.fromEntries(names.map((n, i) => [n, () => zerosLike(inputs[i]!)]));
        },
      });
    }
  }
  const resizeGrad = getGradient(ResizeNearestNeighbor);
  registerGradient({
    kernelName: ResizeNearestNeighbor,
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const [images] = saved as [Tensor];
      const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeNearestNeighborAttrs;
      const g = dy as Tensor;
      const [b, h, w, c] = images.shape as [number, number, number, number];
      const [, oh, ow] = g.shape as [number, number, number, number];
      const kh = oh / h;
      const kw = ow / w;
      if (!alignCorners && !halfPixelCenters && Number.isInteger(kh) && Number.isInteger(kw)) {
        // (B, H·kh, W·kw, C) → (B, H, kh, W, kw, C), summed over each block
        return { images: () => sum(reshape(g, [b, h, kh, w, kw, c]), [2, 4]) };
      }
      if (!resizeGrad) throw new Error('ResizeNearestNeighbor: tfjs registered no gradient');
      return resizeGrad.gradFunc(dy, saved, attrs);
    },
  });
  registerGradient({
    kernelName: Cumsum,
    inputsToSave: ['x'],
    gradFunc: (dy, _saved, attrs) => {
      const { axis, exclusive, reverse } = attrs as unknown as CumsumAttrs;
      return { x: () => cumsum(dy as Tensor, axis, exclusive, !reverse) };
    },
  });
}

registerExtraGradients();
