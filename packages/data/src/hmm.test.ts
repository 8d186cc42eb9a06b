import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { HmmSource } from './hmm.js';
import { defaultHmmConfig, resolveHmmConfig } from './hmm-config.js';
import { hmmOracleCausalLM, hmmOracleDenoiser, hmmPosterior } from './hmm-oracle.js';

// A tiny HMM (V = 3, S = 2, n = 3) small enough to enumerate every x and every state path.
const tiny = () =>
  HmmSource.fromMatrices({
    initial: [0.3, 0.7],
    transition: [0.9, 0.1, 0.25, 0.75],
    emission: [0.6, 0.3, 0.1, 0.05, 0.25, 0.7],
    seqLen: 3,
    name: 'tiny',
  });

/** Brute force p(x) = Σ_{s path} π(s0) B(s0,x0) Π A(s_{k-1},s_k) B(s_k,x_k) for any length. */
function bruteProb(h: HmmSource, x: number[]): number {
  const S = h.numStates;
  const V = h.vocabSize;
  let total = 0;
  const n = x.length;
  for (let code = 0; code < S ** n; code++) {
    const s: number[] = [];
    let c = code;
    for (let k = 0; k < n; k++) {
      s.push(c % S);
      c = Math.floor(c / S);
    }
    let p = h.initial[s[0]!]! * h.emission[s[0]! * V + x[0]!]!;
    for (let k = 1; k < n; k++) p *= h.transition[s[k - 1]! * S + s[k]!]! * h.emission[s[k]! * V + x[k]!]!;
    total += p;
  }
  return total;
}

function allSeqs(V: number, n: number): number[][] {
  const out: number[][] = [];
  for (let code = 0; code < V ** n; code++) {
    const x: number[] = [];
    let c = code;
    for (let k = 0; k < n; k++) {
      x.push(c % V);
      c = Math.floor(c / V);
    }
    out.push(x);
  }
  return out;
}

describe('HmmSource (tiny, against enumeration)', () => {
  it('logProb equals brute-force enumeration to 1e-9 and p sums to 1', () => {
    const h = tiny();
    let total = 0;
    for (const x of allSeqs(3, 3)) {
      const p = bruteProb(h, x);
      total += p;
      expect(Math.abs(h.logProb(x) - Math.log(p))).toBeLessThan(1e-9);
    }
    expect(Math.abs(total - 1)).toBeLessThan(1e-12);
  });

  it('nextTokenProbs is the exact conditional p(x_k | x_<k)', () => {
    const h = tiny();
    for (const pre of [[], [0], [2], [1, 2], [0, 0]]) {
      const probs = h.nextTokenProbs(pre);
      const denom = pre.length ? bruteProb(h, pre) : 1;
      for (let x = 0; x < 3; x++) {
        expect(Math.abs(probs[x]! - bruteProb(h, [...pre, x]) / denom)).toBeLessThan(1e-12);
      }
    }
  });

  it('sampling frequencies match exact probabilities (chi-square, 26 dof)', () => {
    const h = tiny();
    const n = 40_000;
    const samples = h.sample(n, new Rng(11));
    const counts = new Float64Array(27);
    for (let b = 0; b < n; b++) counts[samples[b * 3]! + 3 * samples[b * 3 + 1]! + 9 * samples[b * 3 + 2]!]! += 1;
    let chi2 = 0;
    allSeqs(3, 3).forEach((x, code) => {
      const e = n * bruteProb(h, x);
      chi2 += (counts[code]! - e) ** 2 / e;
    });
    // 26 degrees of freedom: P(chi2 > 60) ≈ 2e-4.
    expect(chi2).toBeLessThan(60);
    expect(chi2).toBeGreaterThan(5); // a suspiciously perfect fit means the test is not sampling
  });

  it('entropyReport: MC rate agrees with the enumerated entropy within 4 standard errors; marginal entropy exact', () => {
    const h = tiny();
    let H = 0;
    const marg = [new Float64Array(3), new Float64Array(3), new Float64Array(3)];
    for (const x of allSeqs(3, 3)) {
      const p = bruteProb(h, x);
      H -= p * Math.log2(p);
      x.forEach((v, i) => (marg[i]![v]! += p));
    }
    const margH = marg.reduce((s, m) => s - Array.from(m).reduce((a, p) => a + p * Math.log2(p), 0), 0) / 3;
    const r = h.entropyReport(new Rng(3), 20_000);
    expect(Math.abs(r.entropyBitsPerToken - H / 3)).toBeLessThan(4 * r.stdErr);
    expect(r.stdErr).toBeGreaterThan(0);
    expect(Math.abs(r.marginalEntropyBitsPerToken - margH)).toBeLessThan(1e-12);
    expect(r.multiInfoBitsPerToken).toBeCloseTo(r.marginalEntropyBitsPerToken - r.entropyBitsPerToken, 12);
  });
});

describe('hmmPosterior (forward–backward with noisy emissions)', () => {
  it('matches brute-force posterior marginals and log p(z) to 1e-9', () => {
    const h = tiny();
    const rng = new Rng(5);
    for (let trial = 0; trial < 5; trial++) {
      const L = Float64Array.from({ length: 9 }, () => rng.nextDouble() + (trial === 4 ? 0 : 0.01));
      if (trial === 3) L.set([0, 1, 0], 3); // an exactly revealed middle token
      const post = hmmPosterior(h, L);
      let Z = 0;
      const m = new Float64Array(9);
      for (const x of allSeqs(3, 3)) {
        const w = bruteProb(h, x) * L[x[0]!]! * L[3 + x[1]!]! * L[6 + x[2]!]!;
        Z += w;
        x.forEach((v, i) => (m[i * 3 + v]! += w));
      }
      expect(Math.abs(post.logEvidence - Math.log(Z))).toBeLessThan(1e-9);
      for (let j = 0; j < 9; j++) expect(Math.abs(post.marginals[j]! - m[j]! / Z)).toBeLessThan(1e-9);
    }
  });

  it('works for lengths other than seqLen and with all-ones L gives the prior marginals', () => {
    const h = tiny();
    const post = hmmPosterior(h, new Float64Array(5 * 3).fill(1));
    const prior = h.positionMarginals(5);
    for (let j = 0; j < 15; j++) expect(Math.abs(post.marginals[j]! - prior[j]!)).toBeLessThan(1e-12);
    expect(Math.abs(post.logEvidence)).toBeLessThan(1e-12);
  });

  it('rejects bad likelihoods and impossible observations with precise errors', () => {
    const h = tiny();
    expect(() => hmmPosterior(h, new Float64Array(4))).toThrow(/N\*V entries with V = 3/);
    expect(() => hmmPosterior(h, [1, 1, -1])).toThrow(/L\[0\]\[2\] = -1/);
    expect(() => hmmPosterior(h, [0, 0, 0])).toThrow(/probability 0/);
  });
});

describe('HmmSource config and default source', () => {
  it('validates config keys and values with ConfigError naming the key', () => {
    expect(() => new HmmSource({ vocabSize: 1 })).toThrow(ConfigError);
    expect(() => new HmmSource({ vocabSize: 1 })).toThrow(/hmm\.vocabSize/);
    expect(() => new HmmSource({ numStates: 2.5 })).toThrow(/hmm\.numStates/);
    expect(() => new HmmSource({ stayProb: 0.9, advanceProb: 0.2 })).toThrow(/hmm\.advanceProb/);
    expect(() => new HmmSource({ overlap: 5 })).toThrow(/hmm\.overlap/);
    expect(() => new HmmSource({ bogus: 1 } as never)).toThrow(/hmm\.bogus: unknown key/);
    expect(() =>
      HmmSource.fromMatrices({ initial: [0.5, 0.5], transition: [1, 0, 0.5], emission: [1, 0, 0, 1], seqLen: 2 }),
    ).toThrow(/hmm\.transition/);
    expect(() =>
      HmmSource.fromMatrices({ initial: [0.5, 0.6], transition: [1, 0, 0, 1], emission: [1, 0, 0, 1], seqLen: 2 }),
    ).toThrow(/hmm\.initial\[0\]: row must sum to 1/);
    expect(() => tiny().logProb([0, 3, 1])).toThrow(/position 1 is 3/);
    expect(resolveHmmConfig({})).toEqual({ ...defaultHmmConfig });
  });

  it('is deterministic given the seed and differs across seeds', () => {
    const a = new HmmSource({ seed: 7 });
    const b = new HmmSource({ seed: 7 });
    const c = new HmmSource({ seed: 8 });
    expect(Array.from(a.emission)).toEqual(Array.from(b.emission));
    expect(Array.from(a.emission)).not.toEqual(Array.from(c.emission));
    expect(Array.from(a.sample(3, new Rng(1)))).toEqual(Array.from(b.sample(3, new Rng(1))));
  });

  it('default source statistics: entropy rate in [1.5, 3.5] bits/token and multi-information >= 1 bit/token', () => {
    const h = new HmmSource(defaultHmmConfig);
    expect(h.vocabSize).toBeGreaterThanOrEqual(16);
    expect(h.vocabSize).toBeLessThanOrEqual(64);
    expect(h.seqLen).toBeGreaterThanOrEqual(32);
    const r = h.entropyReport(new Rng(2024), 4000);
    // Printed so the figure is visible in the test log (README quotes it).
    process.stdout.write(`[default HMM] ${JSON.stringify(r)}\n`);
    expect(r.entropyBitsPerToken).toBeGreaterThan(1.5);
    expect(r.entropyBitsPerToken).toBeLessThan(3.5);
    expect(r.multiInfoBitsPerToken - 4 * r.stdErr).toBeGreaterThan(1);
    expect(r.stdErr).toBeLessThan(0.02);
    // The exact marginal matches empirical token frequencies of samples (independent check of positionMarginals).
    const xs = h.sample(4000, new Rng(9));
    const freq = new Float64Array(h.vocabSize);
    for (const t of xs) freq[t]! += 1 / xs.length;
    const m = h.positionMarginals();
    for (let x = 0; x < h.vocabSize; x++) expect(Math.abs(freq[x]! - m[5 * h.vocabSize + x]!)).toBeLessThan(0.01);
    // The entropy of a stationary HMM is at most Σ H(x_i) and at least the rate given the true state path.
    expect(h.entropyBitsPerToken).toBe(r.entropyBitsPerToken);
  });
});

describe.each(testBackends())('hmmOracleDenoiser on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('returns log p(x0 | z_t) matching enumeration under a masking noise, per-row t, no leaks', async () => {
    const h = tiny();
    const V = 3;
    // Absorbing noise with mask id V: q(z = x | x) = 1 − t, q(z = MASK | x) = t. K = V + 1.
    const maskMatrix = (t: number) => {
      const m = new Float64Array((V + 1) * V);
      for (let x = 0; x < V; x++) {
        m[x * V + x] = 1 - t;
        m[V * V + x] = t;
      }
      return m;
    };
    const oracle = hmmOracleDenoiser(h, maskMatrix);
    expect(oracle.vocabSize).toBe(3);
    expect(tf.getBackend()).toBe(backend);
    const zData = [0, 3, 2, 3, 3, 3, 1, 3, 3];
    const tData = [0.5, 1, 0.25];
    await expectNoLeaks(async () => {
      const zt = tf.tensor2d(zData, [3, 3], 'int32');
      const t = tf.tensor1d(tData, 'float32');
      const out = oracle.predictX0Logits(zt, t);
      const outAsync = await oracle.predictX0LogitsAsync(zt, t);
      expect(out.shape).toEqual([3, 3, 3]);
      const lp = await out.data();
      const lpa = await outAsync.data();
      tf.dispose([zt, t, out, outAsync]);
      for (let b = 0; b < 3; b++) {
        const m = maskMatrix(tData[b]!);
        let Z = 0;
        const post = new Float64Array(9);
        for (const x of allSeqs(3, 3)) {
          let w = bruteProb(h, x);
          for (let i = 0; i < 3; i++) w *= m[zData[b * 3 + i]! * V + x[i]!]!;
          Z += w;
          x.forEach((v, i) => (post[i * 3 + v]! += w));
        }
        for (let j = 0; j < 9; j++) {
          const expected = Math.log(Math.max(post[j]! / Z, 1e-30));
          expect(Math.abs(lp[b * 9 + j]! - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
          expect(lpa[b * 9 + j]).toBe(lp[b * 9 + j]);
        }
      }
      // Revealed tokens are certain: z = 0 at (0,0) gives log p = 0 for x0 = 0 and the floor elsewhere.
      expect(lp[0]).toBeCloseTo(0, 6);
      expect(lp[1]).toBeCloseTo(Math.log(1e-30), 3);
    }, 'hmmOracleDenoiser');
  });

  it('rejects bad inputs', async () => {
    const h = tiny();
    const oracle = hmmOracleDenoiser(h, () => new Float64Array(4 * 3).fill(0.25));
    await expectNoLeaks(() => {
      const zf = tf.tensor2d([0, 1], [1, 2], 'float32');
      const zbig = tf.tensor2d([0, 4], [1, 2], 'int32');
      expect(() => oracle.predictX0Logits(zf as tf.Tensor2D, 0.5)).toThrow(/must be int32/);
      expect(() => oracle.predictX0Logits(zbig, 0.5)).toThrow(/z_t\[0\]\[1\] = 4 is outside \[0, 4\)/);
      expect(() => oracle.predictX0Logits(zbig, 1.5)).toThrow(/t must be in \[0, 1\]/);
      tf.dispose([zf, zbig]);
    });
    expect(() =>
      hmmOracleDenoiser(h, (() => new Float64Array(5)) as never).logEvidence(new Int32Array([0, 1]), 1, 0.5),
    ).toThrow(/K\*V entries/);
  });
});

describe.each(testBackends())('hmmOracleCausalLM on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('forward and step agree with nextTokenProbs (BOS = V predicts x_0), no leaks', async () => {
    const h = new HmmSource({ seqLen: 6, seed: 3 });
    const lm = hmmOracleCausalLM(h);
    const xs = h.sample(2, new Rng(4)); // (2, 6)
    const V = h.vocabSize;
    await expectNoLeaks(async () => {
      // Inputs: BOS, x_0..x_4 → logits predict x_0..x_5.
      const inp = Int32Array.from({ length: 12 }, (_, j) => (j % 6 === 0 ? V : xs[j - 1]!));
      const tokens = tf.tensor2d(inp, [2, 6], 'int32');
      const logits = lm.forward(tokens);
      const lf = await logits.data();
      let state = lm.initState(2);
      const stepped: Float32Array[] = [];
      for (let i = 0; i < 6; i++) {
        const col = tf.tensor1d([inp[i]!, inp[6 + i]!], 'int32');
        const r = lm.step(col, state);
        stepped.push((await r.logits.data()) as Float32Array);
        tf.dispose([col, r.logits]);
        lm.disposeState(state);
        state = r.state;
      }
      tf.dispose([tokens, logits]);
      let totalLp = 0;
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < 6; i++) {
          const p = h.nextTokenProbs(xs.subarray(b * 6, b * 6 + i));
          for (let x = 0; x < V; x++) {
            const want = Math.log(Math.max(p[x]!, 1e-30));
            expect(Math.abs(lf[(b * 6 + i) * V + x]! - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
            expect(stepped[i]![b * V + x]).toBe(lf[(b * 6 + i) * V + x]);
          }
          totalLp += lf[(b * 6 + i) * V + xs[b * 6 + i]!]!;
        }
      }
      // Chain rule: Σ_i log p(x_i | x_<i) = log p(x).
      const exact = h.logProbBatch(xs, 6);
      expect(Math.abs(totalLp - (exact[0]! + exact[1]!))).toBeLessThan(1e-3);
    }, 'hmmOracleCausalLM');
  });
});
