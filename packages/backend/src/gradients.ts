/**
 * Gradient registration, the same in Node ESM, vitest and browser bundles.
 *
 * tfjs-core ships its gradients in `dist/register_all_gradients`, an ES module with extensionless
 * imports that plain Node ESM cannot load. The package.json `imports` entry `#tfjs-gradients` maps
 * `node` to `@tensorflow/tfjs` (whose CommonJS bundle registers the same gradients into the global
 * registry) and everything else (bundlers) to the ES module. This file is a side effect on purpose.
 *
 * It also adds gradients that no tfjs backend has: GatherNd (so gathering per-target log-probs
 * trains), expressed with ScatterNd, which every backend we use implements.
 */
import '#tfjs-gradients';
import { GatherNd, getGradient, registerGradient, scatterND, zerosLike, type Tensor } from '@tensorflow/tfjs-core';

let registered = false;

/** Idempotent: registers the gradients altar adds on top of tfjs's own. */
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
}

registerExtraGradients();
