/** Test fixtures: a fixed "any" model usable both as a tensor Denoiser and as a host oracle. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import type { DiscreteDenoiser, HostDiscreteOracle } from '../src/index.js';

function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A deterministic model whose logits for x0 depend on the whole z_t (not factorised) and on the step:
 * pseudo-random N(0, scale²) logits keyed by (step, z_t). `T` maps the tensor's t ∈ [0,1] back to a step
 * (T = 0: the model ignores time, as MDLM's masked models may).
 */
export function tableModel(
  V: number,
  T: number,
  scale = 1.5,
  seed = 1,
): DiscreteDenoiser & HostDiscreteOracle & { logits(zt: ArrayLike<number>, step: number): Float64Array } {
  const cache = new Map<string, Float64Array>();
  const logits = (zt: ArrayLike<number>, step: number): Float64Array => {
    const key = `${seed}|${T ? step : 0}|${Array.from(zt).join(',')}`;
    let l = cache.get(key);
    if (!l) {
      const rng = new Rng(hashKey(key));
      l = Float64Array.from({ length: zt.length * V }, () => scale * rng.nextNormal());
      cache.set(key, l);
    }
    return l;
  };
  return {
    vocabSize: V,
    logits,
    posteriorX0(zt, step) {
      const l = logits(zt, step);
      const out = new Float64Array(l.length);
      for (let i = 0; i < zt.length; i++) {
        let m = -Infinity;
        for (let x = 0; x < V; x++) m = Math.max(m, l[i * V + x]!);
        let s = 0;
        for (let x = 0; x < V; x++) s += out[i * V + x] = Math.exp(l[i * V + x]! - m);
        for (let x = 0; x < V; x++) out[i * V + x] = out[i * V + x]! / s;
      }
      return out;
    },
    predictX0Logits(zt, t) {
      const [B, N] = zt.shape;
      const z = zt.dataSync();
      const tv = t.dataSync();
      const out = new Float32Array(B * N * V);
      for (let b = 0; b < B; b++) out.set(logits(z.subarray(b * N, (b + 1) * N), Math.round(tv[b]! * T)), b * N * V);
      return tf.tensor3d(out, [B, N, V]);
    },
  };
}

/** Every sequence of length n over K symbols. */
export function allSequences(K: number, n: number): Int32Array[] {
  const out: Int32Array[] = [];
  const cur = new Int32Array(n);
  const rec = (i: number) => {
    if (i === n) {
      out.push(Int32Array.from(cur));
      return;
    }
    for (let k = 0; k < K; k++) {
      cur[i] = k;
      rec(i + 1);
    }
  };
  rec(0);
  return out;
}

import { D3PMProcess, MaskedProcess } from '@altar/noise';
import { d3pmPriorKLHost, d3pmTermHost, maskedPriorKL, maskedTermHost } from '../src/index.js';

/** q(z | x) = Π_i Q[x_i, z_i] for a K*K matrix Q. */
export function seqProb(Q: Float64Array, K: number, x: ArrayLike<number>, z: ArrayLike<number>): number {
  let q = 1;
  for (let i = 0; i < x.length; i++) q *= Q[x[i]! * K + z[i]!]!;
  return q;
}

/** The D3PM full sum with every expectation over z_t enumerated: returns the total and E[L_{t−1}], E[L_{t−1}²] per t. */
export function d3pmExact(
  process: D3PMProcess,
  model: HostDiscreteOracle,
  x: Int32Array,
): { total: number; mean: Float64Array; meanSq: Float64Array } {
  const K = process.numStates;
  const T = process.T;
  const mean = new Float64Array(T);
  const meanSq = new Float64Array(T);
  let total = d3pmPriorKLHost(process, x, T);
  const configs = allSequences(K, x.length);
  for (let t = 1; t <= T; t++) {
    const Q = process.cumulativeMatrix(t);
    for (const z of configs) {
      const q = seqProb(Q, K, x, z);
      if (q <= 0) continue;
      const l = d3pmTermHost(process, model, x, z, t);
      mean[t - 1] = mean[t - 1]! + q * l;
      meanSq[t - 1] = meanSq[t - 1]! + q * l * l;
    }
    total += mean[t - 1]!;
  }
  return { total, mean, meanSq };
}

/**
 * The continuous-time masked NELBO exactly, by enumerating the 2^n mask patterns M of x and using
 * ∫_0^1 −α'/(1−α) α^{n−k} (1−α)^k dt = ∫_{α_1}^1 u^{n−k} (1−u)^{k−1} du (k = |M|; substitute u = α_t),
 * valid for a model that ignores t (the oracle of a masked process does; so does tableModel(V, 0)).
 */
export function maskedExact(process: MaskedProcess, model: HostDiscreteOracle, x: Int32Array): number {
  const n = x.length;
  const a1 = process.alpha(1);
  const integral = (k: number): number => {
    const m = 200000;
    let s = 0;
    for (let j = 0; j < m; j++) {
      const u = a1 + ((1 - a1) * (j + 0.5)) / m;
      s += u ** (n - k) * (1 - u) ** (k - 1);
    }
    return (s * (1 - a1)) / m;
  };
  const ik = Array.from({ length: n + 1 }, (_, k) => (k === 0 ? 0 : integral(k)));
  let total = maskedPriorKL(process, n);
  const tRef = 0.5; // any t: f(M) = maskedTermHost / w(t) does not depend on t for a t-agnostic model
  for (let mask = 1; mask < 1 << n; mask++) {
    const z = Int32Array.from(x, (v, i) => ((mask >> i) & 1 ? process.maskId : v));
    let k = 0;
    for (let i = 0; i < n; i++) k += (mask >> i) & 1;
    total += (maskedTermHost(process, model, x, z, tRef) / process.weight(tRef)) * ik[k]!;
  }
  return total;
}

export function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}
