/**
 * Matrix products over tensors of any rank, with gradients that avoid transposed-operand matmuls (slow on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * 2-D matmul x (M, K) @ w (K, N) whose gradient uses only untransposed matmuls:
 * dx = dy @ wᵀ, dw = xᵀ @ dy with explicit transposes. On the wasm backend, BatchMatMul with a
 * transposed operand skips XNNPACK and runs 10–60× slower than transpose + plain matmul, and tfjs's
 * own MatMul gradient uses exactly those transposed forms. On WebGPU, where every dispatch costs the host
 * ~60 µs (bench:reference on Dawn's null adapter) and the product reads a transposed operand in place,
 * the gradient uses the transposed forms instead.
 *
 * @example
 * ```ts
 * const y = mm2d(x, w); // (M, K) @ (K, N), gradients without transposed-operand matmuls
 * ```
 */
export const mm2d: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        // WebGPU's products read a transposed operand in place: one dispatch instead of two each.
        if (tf.getBackend() === 'webgpu')
          return [tf.matMul(dy as tf.Tensor2D, ws, false, true), tf.matMul(xs, dy as tf.Tensor2D, true, false)];
        return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), weightGrad(xs, dy as tf.Tensor2D)];
      },
    };
  },
) as unknown as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/**
 * dw = xᵀ @ dy for x (M, K), dy (M, N). wasm's matmul packs its right operand (a new tensor at every call)
 * before multiplying: when dy is the wider one (N > K: an MLP's up-projection, the fused QKV), dw = (dyᵀ @ x)ᵀ
 * packs the narrower x instead. (4096, 256)ᵀ @ (4096, 1024): 67 → 56 ms with altar's wasm product.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (dy.shape[1] > x.shape[1] && tf.getBackend() === 'wasm')
    return tf.transpose(tf.matMul(tf.transpose(dy), x)) as tf.Tensor2D;
  return tf.matMul(tf.transpose(x), dy);
}

/**
 * Whether tfjs is recording a gradient tape (inside tf.grads / variableGrads, outside any kernel).
 * Reads the engine's own test (not in tfjs's typings); assumes a tape when it is missing.
 */
export function tapeOn(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return engine.isTapeOn ? engine.isTapeOn() : true;
}

/** x @ w: mm2d under a gradient tape; plain matMul otherwise (the custom-gradient wrapper is pure overhead there). */
export function mm(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tapeOn() ? mm2d(x, w) : tf.matMul(x, w);
}

/**
 * Apply `x @ w` over the last axis of a tensor of any rank ≥ 2.
 *
 * @example
 * ```ts
 * matmulLast(tf.ones([2, 3, 4]), tf.ones([4, 5])); // (2, 3, 5)
 * ```
 */
export function matmulLast(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1] as number;
    const outDim = w.shape[1] as number;
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]) as tf.Tensor2D; // (M, in)
    const y = mm(x2, w as tf.Tensor2D); // (M, out)
    return tf.reshape(y, [...lead, outDim]);
  });
}
