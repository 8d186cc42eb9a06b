/**
 * Conformance cases of the fused norms (fused/norm.ts): each backend's kernel (host kernels on cpu and wasm,
 * WGSL on webgpu, the composition elsewhere) must agree with the cpu backend's, forward and gradient. The
 * two-output ops are checked through the concatenation of both outputs, so that both carry gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addLayerNorm, addRmsNorm, rmsNormFused } from '../fused/norm.js';
import type { InputSpec, OpCase } from './ops.js';

const N = (shape: number[]): InputSpec => ({ shape });
const both = ([s, y]: [tf.Tensor, tf.Tensor]): tf.Tensor => tf.concat([tf.reshape(s, [-1]), tf.reshape(y, [-1])]);

/**
 * The fused-norm cases of the conformance catalogue (D = 80: more than one 64-thread stride per row on webgpu).
 *
 * @example
 * ```ts
 * const cases = [...OP_CASES_BEFORE, ...NORM_CASES];
 * ```
 */
export const NORM_CASES: OpCase[] = [
  {
    name: 'fused rmsNorm',
    inputs: [N([3, 5, 80]), N([80])],
    fn: (x, g) => rmsNormFused(x!, tf.add(g!, 1), 1e-5),
    grad: true,
  },
  {
    name: 'fused addLayerNorm',
    inputs: [N([3, 5, 80]), N([3, 5, 80]), N([80]), N([80])],
    fn: (x, r, g, b) => both(addLayerNorm(x!, r!, tf.add(g!, 1), b!, 1e-5)),
    grad: true,
  },
  {
    name: 'fused addRmsNorm',
    inputs: [N([3, 5, 80]), N([3, 5, 80]), N([80])],
    fn: (x, r, g) => both(addRmsNorm(x!, r!, tf.add(g!, 1), 1e-5)),
    grad: true,
  },
];
