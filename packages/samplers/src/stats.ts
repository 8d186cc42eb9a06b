/**
 * Small host statistics used to judge samples: the chi-square goodness-of-fit p-value and the squared
 * maximum mean discrepancy (Gretton et al. 2012, eq. 3, unbiased U-statistic) with an RBF kernel.
 */
import { AltarError } from '@altar/backend';

/** ln Γ(x) (Lanczos, g = 7, n = 9; accurate to ~1e-15 for x > 0). */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularised upper incomplete gamma Q(a, x) (Numerical Recipes §6.2: series below a+1, continued fraction above).
 *
 * @example
 * ```ts
 * gammaQ(1, 2); // e^{-2} ≈ 0.1353 (Q(1, x) = e^{-x})
 * ```
 */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/**
 * The result of {@link chiSquareTest}: the statistic, its degrees of freedom, the p-value and the bins used after pooling.
 *
 * @example
 * ```ts
 * const r: ChiSquareResult = chiSquareTest(counts, probs);
 * if (r.pValue < 1e-3) throw new Error(`samples do not follow the distribution (χ² = ${r.statistic}, dof ${r.dof})`);
 * ```
 */
export interface ChiSquareResult {
  statistic: number;
  dof: number;
  pValue: number;
  bins: number;
}

/**
 * Pearson's chi-square goodness of fit of observed counts against expected probabilities. Bins whose
 * expected count is below `minExpected` (default 5) are pooled into one bin (Cochran's rule).
 *
 * @example
 * ```ts
 * const { pValue } = chiSquareTest([48, 52], [0.5, 0.5]); // ≈ 0.69: consistent with a fair coin
 * ```
 */
export function chiSquareTest(observed: ArrayLike<number>, probs: ArrayLike<number>, minExpected = 5): ChiSquareResult {
  if (observed.length !== probs.length)
    throw new AltarError('BAD_ARG', `chiSquareTest: ${observed.length} counts vs ${probs.length} probabilities`);
  let n = 0;
  let ptot = 0;
  for (let i = 0; i < observed.length; i++) {
    n += observed[i]!;
    ptot += probs[i]!;
  }
  if (!(n > 0) || !(ptot > 0))
    throw new AltarError('BAD_ARG', `chiSquareTest: need positive totals, got n = ${n}, Σp = ${ptot}`);
  let stat = 0;
  let bins = 0;
  let poolO = 0;
  let poolE = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = (n * probs[i]!) / ptot;
    const o = observed[i]!;
    if (e < minExpected) {
      poolO += o;
      poolE += e;
      continue;
    }
    stat += (o - e) ** 2 / e;
    bins++;
  }
  if (poolE > 0) {
    if (poolE >= 1e-12) stat += (poolO - poolE) ** 2 / poolE;
    else if (poolO > 0) stat = Infinity; // observed something the model calls impossible
    bins++;
  }
  const dof = Math.max(bins - 1, 1);
  return { statistic: stat, dof, bins, pValue: Number.isFinite(stat) ? gammaQ(dof / 2, stat / 2) : 0 };
}

/**
 * Unbiased MMD² between row sets X (n × d) and Y (m × d) with k(x, y) = exp(−|x − y|² / (2 h²)).
 *
 * @example
 * ```ts
 * // Two sets of 2-D points (rows of d = 2); ≈ 0 when they come from the same distribution.
 * const mmd2 = mmdRbf(samplesA, samplesB, 2, 0.5);
 * ```
 */
export function mmdRbf(x: ArrayLike<number>, y: ArrayLike<number>, d: number, bandwidth: number): number {
  const n = x.length / d;
  const m = y.length / d;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 2 || m < 2)
    throw new AltarError('BAD_ARG', `mmdRbf: need ≥ 2 rows of ${d} values in each set`);
  const g = 1 / (2 * bandwidth * bandwidth);
  const k = (a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number) => {
    let s = 0;
    for (let q = 0; q < d; q++) s += (a[i * d + q]! - b[j * d + q]!) ** 2;
    return Math.exp(-g * s);
  };
  let kxx = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) kxx += k(x, i, x, j);
  let kyy = 0;
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) kyy += k(y, i, y, j);
  let kxy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) kxy += k(x, i, y, j);
  return (2 * kxx) / (n * (n - 1)) + (2 * kyy) / (m * (m - 1)) - (2 * kxy) / (n * m);
}
