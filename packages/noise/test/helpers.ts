/** Test-only statistics helpers (not part of the package build). */

/** Upper critical value of χ²_k at p ≈ 1e-3 (Wilson–Hilferty, z = 3.09). */
export function chiSquareCritical(k: number, z = 3.09): number {
  const a = 2 / (9 * k);
  return k * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Pearson χ² statistic and its degrees of freedom, pooling expected counts < 5 into one cell. */
export function chiSquare(
  counts: ArrayLike<number>,
  probs: ArrayLike<number>,
  n: number,
): { stat: number; df: number } {
  let stat = 0;
  let cells = 0;
  let poolO = 0;
  let poolE = 0;
  for (let k = 0; k < probs.length; k++) {
    const e = n * probs[k]!;
    if (e < 5) {
      poolO += counts[k]!;
      poolE += e;
      continue;
    }
    stat += (counts[k]! - e) ** 2 / e;
    cells++;
  }
  if (poolE >= 5) {
    stat += (poolO - poolE) ** 2 / poolE;
    cells++;
  } else if (poolE > 0 || poolO > 0) {
    // too little pooled mass to test: just require no impossible outcomes
    if (poolE === 0 && poolO > 0) stat = Infinity;
  }
  return { stat, df: Math.max(1, cells - 1) };
}

/** K*K row-major product. */
export function matMul(a: ArrayLike<number>, b: ArrayLike<number>, K: number): Float64Array {
  const c = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < K; j++) c[i * K + j] = c[i * K + j]! + a[i * K + k]! * b[k * K + j]!;
  return c;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A random row-stochastic K×K matrix with a heavy diagonal (a "user-given" transition). */
export function randomStochastic(K: number, next: () => number, diag = 0.6): Float64Array {
  const m = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    let s = 0;
    for (let j = 0; j < K; j++) {
      m[i * K + j] = 0.05 + next();
      s += m[i * K + j]!;
    }
    for (let j = 0; j < K; j++) m[i * K + j] = ((1 - diag) * m[i * K + j]!) / s + (i === j ? diag : 0);
  }
  return m;
}
