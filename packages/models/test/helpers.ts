/** Test helpers shared by the package's suites (tensor code only; no vitest import). */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';

export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  if (!tf.util.arraysEqual(a.shape, b.shape)) throw new Error(`maxAbsDiff: shapes [${a.shape}] vs [${b.shape}]`);
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs((x[i] as number) - (y[i] as number)));
  return m;
}

/** Mean next-token cross-entropy in nats via oneHot·logSoftmax (works on wasm). logits (B,N,V), targets (B,N). */
export function xent(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const v = logits.shape[logits.rank - 1] as number;
    const oh = tf.oneHot(tf.cast(targets, 'int32'), v);
    return tf.neg(tf.mean(tf.sum(tf.mul(oh, tf.logSoftmax(logits)), -1))) as tf.Scalar;
  });
}

export function randomTokens(rng: Rng, shape: number[], vocab: number): tf.Tensor {
  return rng.randint(shape, 0, vocab);
}

/** Gather step-wise logits of a causal LM over a whole sequence: (B, N, V). */
export function stepAll(
  model: {
    initState(b: number): unknown;
    step(t: tf.Tensor, s: never): { logits: tf.Tensor2D; state: unknown };
    disposeState(s: never): void;
  },
  tokens: tf.Tensor,
): tf.Tensor {
  const [b, n] = tokens.shape as [number, number];
  let s = model.initState(b);
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const tok = tf.tidy(() => tf.reshape(tf.slice(tokens, [0, i], [b, 1]), [b]));
    const r = model.step(tok, s as never);
    tok.dispose();
    model.disposeState(s as never);
    s = r.state;
    outs.push(r.logits);
  }
  model.disposeState(s as never);
  const out = tf.stack(outs, 1);
  tf.dispose(outs);
  return out;
}

/**
 * Central finite differences of a scalar function of `x` at `coords` against tf.grad.
 * Returns the worst |fd − analytic| / max(1e-2, |analytic|, |fd|).
 */
export async function gradCheck(
  f: (x: tf.Tensor) => tf.Scalar,
  x: tf.Tensor,
  coords: number[],
  eps = 1e-2,
): Promise<number> {
  const g = tf.grad(f)(x);
  const ga = await g.data();
  g.dispose();
  const base = await x.data();
  let worst = 0;
  for (const i of coords) {
    const val = async (delta: number) => {
      const arr = Float32Array.from(base);
      arr[i] = (arr[i] as number) + delta;
      const xp = tf.tensor(arr, x.shape);
      const y = f(xp);
      const r = (await y.data())[0] as number;
      tf.dispose([xp, y]);
      return r;
    };
    const fd = ((await val(eps)) - (await val(-eps))) / (2 * eps);
    const an = ga[i] as number;
    worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-2, Math.abs(an), Math.abs(fd)));
  }
  return worst;
}

/** Finite-difference check for a variable: perturb entries of `v` in place (restored after). */
export async function varGradCheck(f: () => tf.Scalar, v: tf.Variable, coords: number[], eps = 1e-2): Promise<number> {
  const { grads, value } = tf.variableGrads(f, [v]);
  value.dispose();
  const g = grads[v.name] as tf.Tensor;
  const ga = await g.data();
  tf.dispose(Object.values(grads));
  const base = Float32Array.from(await v.data());
  let worst = 0;
  for (const i of coords) {
    const val = async (delta: number) => {
      const arr = Float32Array.from(base);
      arr[i] = (arr[i] as number) + delta;
      tf.tidy(() => v.assign(tf.tensor(arr, v.shape)));
      const y = f();
      const r = (await y.data())[0] as number;
      y.dispose();
      return r;
    };
    const fd = ((await val(eps)) - (await val(-eps))) / (2 * eps);
    const an = ga[i] as number;
    worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-2, Math.abs(an), Math.abs(fd)));
  }
  tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
  return worst;
}
