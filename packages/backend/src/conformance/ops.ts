/**
 * The op catalogue of the conformance suite: every tfjs op the project uses, with inputs built from
 * a seeded Rng so that every backend sees the same numbers. `grad: true` cases are also checked
 * backward: the gradient of Σ(out · w) for a fixed random w, with respect to every float input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.js';
import {
  adamwUpdate,
  adamwUpdateControlled,
  biasGelu,
  layerNormFused,
  softmaxCrossEntropy,
  squaredNorms,
} from '../fused/ops.js';
import { decodeAttention } from '../fused/decode-attention.js';
import { selectiveScanFused } from '../fused/scan.js';
import { NORM_CASES } from './norm-cases.js';
import { ATTENTION_CASES } from './attention-cases.js';

export interface InputSpec {
  shape: number[];
  dtype?: 'float32' | 'int32';
  /** Value generator: normal (default), positive (for log/sqrt/pow), ints in [0, max). */
  kind?: 'normal' | 'positive' | 'unit' | 'ints';
  max?: number;
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Check gradients with respect to the float inputs. */
  grad?: boolean;
}

const N = (shape: number[]): InputSpec => ({ shape });
const P = (shape: number[]): InputSpec => ({ shape, kind: 'positive' });
const I = (shape: number[], max: number): InputSpec => ({ shape, dtype: 'int32', kind: 'ints', max });

export const OP_CASES: OpCase[] = [
  // Arithmetic and broadcasting
  { name: 'add', inputs: [N([4, 8]), N([8])], fn: (a, b) => tf.add(a!, b!), grad: true },
  { name: 'sub', inputs: [N([4, 8]), N([4, 1])], fn: (a, b) => tf.sub(a!, b!), grad: true },
  { name: 'mul', inputs: [N([2, 3, 8]), N([8])], fn: (a, b) => tf.mul(a!, b!), grad: true },
  { name: 'div', inputs: [N([4, 8]), P([4, 8])], fn: (a, b) => tf.div(a!, b!), grad: true },
  { name: 'pow', inputs: [P([4, 8])], fn: (a) => tf.pow(a!, 1.5), grad: true },
  { name: 'square', inputs: [N([4, 8])], fn: (a) => tf.square(a!), grad: true },
  { name: 'squaredDifference', inputs: [N([4, 8]), N([4, 8])], fn: (a, b) => tf.squaredDifference(a!, b!), grad: true },
  { name: 'maximum', inputs: [N([4, 8]), N([4, 8])], fn: (a, b) => tf.maximum(a!, b!), grad: true },
  { name: 'minimum', inputs: [N([4, 8]), N([4, 8])], fn: (a, b) => tf.minimum(a!, b!), grad: true },
  { name: 'neg', inputs: [N([4, 8])], fn: (a) => tf.neg(a!), grad: true },
  { name: 'abs', inputs: [N([4, 8])], fn: (a) => tf.abs(a!), grad: true },
  { name: 'clipByValue', inputs: [N([4, 8])], fn: (a) => tf.clipByValue(a!, -0.5, 0.5), grad: true },
  // Elementwise nonlinearities
  { name: 'exp', inputs: [N([4, 8])], fn: (a) => tf.exp(a!), grad: true },
  { name: 'log', inputs: [P([4, 8])], fn: (a) => tf.log(a!), grad: true },
  { name: 'log1p', inputs: [P([4, 8])], fn: (a) => tf.log1p(a!), grad: true },
  { name: 'expm1', inputs: [N([4, 8])], fn: (a) => tf.expm1(a!), grad: true },
  { name: 'sqrt', inputs: [P([4, 8])], fn: (a) => tf.sqrt(a!), grad: true },
  { name: 'rsqrt', inputs: [P([4, 8])], fn: (a) => tf.rsqrt(a!), grad: true },
  { name: 'reciprocal', inputs: [P([4, 8])], fn: (a) => tf.reciprocal(a!), grad: true },
  { name: 'tanh', inputs: [N([4, 8])], fn: (a) => tf.tanh(a!), grad: true },
  { name: 'sigmoid', inputs: [N([4, 8])], fn: (a) => tf.sigmoid(a!), grad: true },
  { name: 'relu', inputs: [N([4, 8])], fn: (a) => tf.relu(a!), grad: true },
  { name: 'elu', inputs: [N([4, 8])], fn: (a) => tf.elu(a!), grad: true },
  { name: 'softplus', inputs: [N([4, 8])], fn: (a) => tf.softplus(a!), grad: true },
  { name: 'erf', inputs: [N([4, 8])], fn: (a) => tf.erf(a!), grad: true },
  { name: 'sin', inputs: [N([4, 8])], fn: (a) => tf.sin(a!), grad: true },
  { name: 'cos', inputs: [N([4, 8])], fn: (a) => tf.cos(a!), grad: true },
  {
    name: 'gelu(tanh)',
    inputs: [N([4, 8])],
    fn: (x) =>
      tf.mul(
        tf.mul(x!, 0.5),
        tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x!, tf.mul(0.044715, tf.pow(x!, 3)))))),
      ),
    grad: true,
  },
  // Reductions and normalisation
  { name: 'sum', inputs: [N([3, 4, 8])], fn: (a) => tf.sum(a!, -1), grad: true },
  { name: 'mean', inputs: [N([3, 4, 8])], fn: (a) => tf.mean(a!, [0, 1]), grad: true },
  { name: 'max', inputs: [N([3, 16])], fn: (a) => tf.max(a!, -1), grad: true },
  { name: 'min', inputs: [N([3, 16])], fn: (a) => tf.min(a!, -1), grad: true },
  { name: 'softmax', inputs: [N([3, 4, 16])], fn: (a) => tf.softmax(a!), grad: true },
  { name: 'logSoftmax', inputs: [N([3, 4, 16])], fn: (a) => tf.logSoftmax(a!), grad: true },
  { name: 'logSumExp', inputs: [N([3, 4, 16])], fn: (a) => tf.logSumExp(a!, -1), grad: true },
  {
    name: 'layerNorm(moments)',
    inputs: [N([3, 5, 16])],
    fn: (x) => {
      const { mean, variance } = tf.moments(x!, -1, true);
      return tf.mul(tf.sub(x!, mean), tf.rsqrt(tf.add(variance, 1e-5)));
    },
    grad: true,
  },
  { name: 'cumsum', inputs: [N([2, 12, 4])], fn: (a) => tf.cumsum(a!, 1), grad: true },
  { name: 'cumsum(rank5)', inputs: [N([2, 3, 6, 2, 2])], fn: (a) => tf.cumsum(a!, 2), grad: true },
  {
    name: 'cumsum(rank5,reverse,exclusive)',
    inputs: [N([2, 3, 7, 2, 2])],
    fn: (a) => tf.cumsum(a!, 2, true, true),
    grad: true,
  },
  { name: 'cumsum(reverse)', inputs: [N([2, 12, 4])], fn: (a) => tf.cumsum(a!, 1, false, true), grad: true },
  { name: 'argMax', inputs: [N([4, 16])], fn: (a) => tf.argMax(a!, -1) },
  // Linear algebra
  { name: 'matMul', inputs: [N([16, 32]), N([32, 24])], fn: (a, b) => tf.matMul(a!, b!), grad: true },
  {
    name: 'matMul(transposeB)',
    inputs: [N([16, 32]), N([24, 32])],
    fn: (a, b) => tf.matMul(a!, b!, false, true),
    grad: true,
  },
  { name: 'matMul(batched)', inputs: [N([3, 8, 16]), N([3, 16, 8])], fn: (a, b) => tf.matMul(a!, b!), grad: true },
  {
    name: 'matMul(batched,transposeA)',
    inputs: [N([3, 16, 8]), N([3, 16, 8])],
    fn: (a, b) => tf.matMul(a!, b!, true, false),
    grad: true,
  },
  // Shape manipulation
  { name: 'reshape', inputs: [N([2, 3, 8])], fn: (a) => tf.reshape(a!, [6, 8]), grad: true },
  { name: 'transpose', inputs: [N([2, 3, 4, 5])], fn: (a) => tf.transpose(a!, [0, 2, 1, 3]), grad: true },
  { name: 'concat', inputs: [N([2, 3]), N([2, 5])], fn: (a, b) => tf.concat([a!, b!], 1), grad: true },
  { name: 'stack', inputs: [N([2, 3]), N([2, 3])], fn: (a, b) => tf.stack([a!, b!], 1), grad: true },
  { name: 'slice', inputs: [N([4, 10])], fn: (a) => tf.slice(a!, [1, 2], [2, 5]), grad: true },
  {
    name: 'pad',
    inputs: [N([2, 5, 3])],
    fn: (a) =>
      tf.pad(a!, [
        [0, 0],
        [2, 0],
        [0, 0],
      ]),
    grad: true,
  },
  { name: 'tile', inputs: [N([2, 3])], fn: (a) => tf.tile(a!, [2, 2]), grad: true },
  { name: 'expandDims+squeeze', inputs: [N([3, 4])], fn: (a) => tf.squeeze(tf.expandDims(a!, 1), [1]), grad: true },
  { name: 'reverse', inputs: [N([2, 6])], fn: (a) => tf.reverse(a!, 1), grad: true },
  { name: 'cast', inputs: [I([4, 4], 9)], fn: (a) => tf.cast(a!, 'float32') },
  // Indexing
  { name: 'gather', inputs: [N([10, 6]), I([7], 10)], fn: (t, i) => tf.gather(t!, i!), grad: true },
  { name: 'gather(axis1)', inputs: [N([3, 10, 4]), I([5], 10)], fn: (t, i) => tf.gather(t!, i!, 1), grad: true },
  { name: 'gatherND', inputs: [N([5, 6]), I([4, 2], 5)], fn: (t, i) => tf.gatherND(t!, i!), grad: true },
  { name: 'oneHot', inputs: [I([3, 5], 7)], fn: (i) => tf.oneHot(i!, 7) },
  { name: 'oneHot(float32)', inputs: [I([3, 5], 7)], fn: (i) => tf.oneHot(i!, 7, 1, 0, 'float32') },
  {
    name: 'oneHot(float32)·logSoftmax',
    inputs: [I([6], 5), N([6, 5])],
    fn: (i, l) => tf.sum(tf.mul(tf.oneHot(i!, 5, 1, 0, 'float32'), tf.logSoftmax(l!)), -1),
    grad: true,
  },
  {
    name: 'unsortedSegmentSum',
    inputs: [N([8, 3]), I([8], 4)],
    fn: (x, i) => tf.unsortedSegmentSum(x!, i as tf.Tensor1D, 4),
    grad: true,
  },
  { name: 'scatterND', inputs: [I([3, 1], 6), N([3, 4])], fn: (i, u) => tf.scatterND(i!, u!, [6, 4]) },
  {
    name: 'where',
    inputs: [I([4, 8], 2), N([4, 8]), N([4, 8])],
    fn: (c, a, b) => tf.where(tf.cast(c!, 'bool'), a!, b!),
    grad: true,
  },
  { name: 'divNoNan', inputs: [N([4, 8]), P([4, 8])], fn: (a, b) => tf.divNoNan(a!, b!), grad: true },
  { name: 'greater', inputs: [N([4, 8]), N([4, 8])], fn: (a, b) => tf.cast(tf.greater(a!, b!), 'float32') },
  {
    name: 'equal/less/logicalAnd',
    inputs: [I([4, 8], 3), I([4, 8], 3)],
    fn: (a, b) => tf.cast(tf.logicalAnd(tf.equal(a!, b!), tf.less(a!, 2)), 'float32'),
  },
  // tfjs 4.22's bandPart gradient throws ("Argument tensors passed to stack must be a Tensor[]"):
  // altar builds masks as constants and only differentiates through mul/add with them.
  { name: 'bandPart(causal mask)', inputs: [N([6, 6])], fn: (a) => tf.linalg.bandPart(a!, -1, 0) },
  {
    name: 'mul(causal mask)',
    inputs: [N([6, 6])],
    fn: (a) => tf.mul(a!, tf.linalg.bandPart(tf.ones([6, 6]), -1, 0)),
    grad: true,
  },
  // altar's fused ops (host kernels on cpu and wasm; the plain composition elsewhere): each backend must
  // agree with the cpu backend's fused kernel, forward and gradient.
  { name: 'fused biasGelu', inputs: [N([3, 5, 16]), N([16])], fn: (x, b) => biasGelu(x!, b!), grad: true },
  {
    name: 'fused layerNorm',
    inputs: [N([3, 5, 16]), N([16]), N([16])],
    fn: (x, g, b) => layerNormFused(x!, g!, b!, 1e-5),
    grad: true,
  },
  {
    name: 'fused softmaxCrossEntropy',
    inputs: [N([3, 4, 9]), I([3, 4], 9)],
    fn: (l, t) => softmaxCrossEntropy(l!, t!),
    grad: true,
  },
  {
    name: 'fused adamwUpdate',
    inputs: [N([6, 5]), N([6, 5]), P([6, 5]), N([6, 5])],
    fn: (p, m, v, g) =>
      tf.stack(
        adamwUpdate(p!, m!, v!, g!, {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.99,
          eps: 1e-8,
          decay: 1e-3,
          bc1: 0.19,
          bc2: 0.0297,
          gradScale: 0.5,
        }),
      ),
  },
  // ctl = [gradScale, ok, t]: bias corrections from t = 3 on the device; ok = 0 returns p, m, v bit-exactly and a
  // non-finite gradient (g/0) leaks nowhere
  ...([1, 0] as const).map((ok): OpCase => ({
    name: `fused adamwUpdateControlled(ok=${ok})`,
    inputs: [N([6, 5]), N([6, 5]), P([6, 5]), N([6, 5])],
    fn: (p, m, v, g) =>
      tf.stack(
        adamwUpdateControlled(p!, m!, v!, ok ? g! : tf.div(g!, 0), tf.tensor1d([0.5, ok, 3]), {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.99,
          eps: 1e-8,
          decay: 1e-3,
        }),
      ),
  })),
  {
    name: 'fused squaredNorms',
    inputs: [N([3, 4]), N([10]), N([300]), N([2]), N([5]), N([7]), N([1]), N([9])],
    fn: (...ts) => squaredNorms(ts as tf.Tensor[]),
  },
  {
    // Δ = softplus(·) > 0 as in the model; A_log up to 2.5 (A ≈ −12) so that Δ·A < −10 (the clamp) for some entries
    name: 'fused selectiveScan',
    inputs: [N([2, 11, 6]), N([2, 11, 6]), N([2, 11, 4]), N([2, 11, 4]), N([6, 4])],
    fn: (dt, x, bm, cm, aLog) =>
      selectiveScanFused(tf.softplus(tf.mul(dt!, 2)), x!, bm!, cm!, tf.add(aLog!, 1), { logDecayMin: -10, chunk: 4 }),
    grad: true,
  },
  {
    name: 'fused decodeAttention(rope)',
    inputs: [N([2, 3 * 16]), N([2, 2, 5, 8]), N([2, 2, 5, 8])],
    fn: (qkv, k, v) => {
      const [y, k1, v1] = decodeAttention(qkv!, k!, v!, { nHeads: 2, rope: true, ropeBase: 10000 });
      return tf.concat([tf.reshape(y, [-1]), tf.reshape(k1, [-1]), tf.reshape(v1, [-1])]);
    },
  },
  ...NORM_CASES,
  ...ATTENTION_CASES,
  // The wasm copy paths (slice / split / unstack / last-two-axes transpose / rank-4 per-entry matmul)
  {
    name: 'matMul(rank4)',
    inputs: [N([2, 3, 20, 16]), N([2, 3, 16, 24])],
    fn: (a, b) => tf.matMul(a!, b!),
    grad: true,
  },
  {
    name: 'slice(rank4)',
    inputs: [N([2, 3, 20, 16])],
    fn: (a) => tf.slice(a!, [1, 1, 3, 0], [1, 2, 12, 16]),
    grad: true,
  },
  {
    name: 'split(rank3)',
    inputs: [N([2, 30, 24])],
    fn: (a) =>
      tf.concat(
        tf.split(a!, 3, -1).map((t, i) => tf.mul(t, i + 1)),
        0,
      ),
    grad: true,
  },
  {
    name: 'unstack',
    inputs: [N([2, 5, 24])],
    fn: (a) =>
      tf.concat(
        tf.unstack(a!, 1).map((t, i) => tf.mul(t, i + 1)),
        1,
      ),
    grad: true,
  },
  { name: 'transpose(last two)', inputs: [N([3, 70, 40])], fn: (a) => tf.transpose(a!, [0, 2, 1]), grad: true },
  // Convolutions (SSM short conv, U-Net)
  {
    name: 'conv1d(causal)',
    inputs: [N([2, 10, 4]), N([3, 4, 5])],
    fn: (x, w) =>
      tf.conv1d(
        tf.pad(x!, [
          [0, 0],
          [2, 0],
          [0, 0],
        ]) as tf.Tensor3D,
        w as tf.Tensor3D,
        1,
        'valid',
      ),
    grad: true,
  },
  {
    name: 'conv2d',
    inputs: [N([2, 8, 8, 3]), N([3, 3, 3, 4])],
    fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    grad: true,
  },
  {
    name: 'conv2d(stride2)',
    inputs: [N([2, 8, 8, 3]), N([3, 3, 3, 4])],
    fn: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
    grad: true,
  },
  {
    name: 'depthwiseConv2d',
    inputs: [N([2, 8, 1, 4]), N([3, 1, 4, 1])],
    fn: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'),
    grad: true,
  },
  {
    name: 'conv2dTranspose',
    inputs: [N([2, 4, 4, 4]), N([2, 2, 3, 4])],
    fn: (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 8, 8, 3], 2, 'same'),
    grad: true,
  },
  { name: 'avgPool', inputs: [N([2, 8, 8, 3])], fn: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'), grad: true },
  {
    name: 'resizeNearestNeighbor',
    inputs: [N([2, 4, 4, 3])],
    fn: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [8, 8]),
    grad: true,
  },
  { name: 'maxPool', inputs: [N([2, 8, 8, 3])], fn: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), grad: true },
  {
    name: 'depthwiseConv2d(same)',
    inputs: [N([2, 6, 6, 3]), N([3, 3, 3, 1])],
    fn: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
    grad: true,
  },
];

/** Deterministic input values for a case: the same on every backend. */
export function makeInputValues(spec: InputSpec, rng: Rng): Float32Array | Int32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.kind ?? 'normal') {
    case 'ints': {
      const out = new Int32Array(size);
      for (let i = 0; i < size; i++) out[i] = rng.nextInt(0, spec.max ?? 2);
      return out;
    }
    case 'positive':
      return rng.uniformArray(size, 0.2, 2.0);
    case 'unit':
      return rng.uniformArray(size, 0, 1);
    case 'normal':
      return rng.normalArray(size);
  }
}
