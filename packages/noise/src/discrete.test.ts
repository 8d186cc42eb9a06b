import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { D3PMProcess, MaskedProcess, d3pmBetas, maskSchedule, type FactorisedDiscreteProcess } from './index.js';
import { chiSquare, chiSquareCritical, matMul, maxAbsDiff, randomStochastic } from '../test/helpers.js';

interface Case {
  label: string;
  make: () => FactorisedDiscreteProcess;
  /** (s, t) pairs with s < t. */
  pairs: [number, number][];
  discrete: boolean;
}

const mrng = new Rng(7);
const userSteps = Array.from({ length: 5 }, () => randomStochastic(4, () => mrng.nextDouble()));

const cases: Case[] = [
  ...(['cosine', 'linear', 'jsd'] as const).map((s) => ({
    label: `uniform/${s}`,
    make: () => new D3PMProcess({ kind: 'uniform', vocabSize: 4, T: 10, schedule: s }),
    pairs: [
      [0, 1],
      [3, 4],
      [2, 7],
      [9, 10],
    ] as [number, number][],
    discrete: true,
  })),
  ...(['jsd', 'cosine'] as const).map((s) => ({
    label: `absorbing/${s}`,
    make: () => new D3PMProcess({ kind: 'absorbing', vocabSize: 4, T: 10, schedule: s }),
    pairs: [
      [0, 1],
      [3, 4],
      [2, 7],
      [9, 10],
    ] as [number, number][],
    discrete: true,
  })),
  {
    label: 'matrix(V=3,K=4)',
    make: () =>
      new D3PMProcess({ kind: 'matrix', vocabSize: 3, numStates: 4, T: 5, stepMatrix: (t) => userSteps[t - 1]! }),
    pairs: [
      [0, 1],
      [1, 2],
      [1, 4],
      [4, 5],
    ],
    discrete: true,
  },
  ...(['log-linear', 'linear', 'cosine'] as const).map((s) => ({
    label: `masked/${s}`,
    make: () => new MaskedProcess({ vocabSize: 4, schedule: s }),
    pairs: [
      [0, 0.25],
      [0.3, 0.7],
      [0.5, 0.51],
      [0.9, 1],
    ] as [number, number][],
    discrete: false,
  })),
];

describe('d3pm schedules', () => {
  it('reach full corruption at T for every schedule and T', () => {
    for (const kind of ['linear', 'cosine', 'jsd'] as const) {
      for (const T of [1, 2, 8, 512]) {
        const b = d3pmBetas(kind, T);
        expect(b.length).toBe(T);
        let keep = 1;
        for (const v of b) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          keep *= 1 - v;
        }
        expect(keep).toBeLessThan(1e-12);
      }
    }
    // jsd gives ᾱ_t = 1 − t/T exactly
    const p = new D3PMProcess({ kind: 'absorbing', vocabSize: 3, T: 8 });
    for (let t = 0; t <= 8; t++) expect(p.alphaBar(t)).toBeCloseTo(1 - t / 8, 12);
  });
});

describe.each(cases)('host matrices of $label', (c) => {
  const p = c.make();
  const K = p.numStates;
  const V = p.vocabSize;
  const times = [...new Set(c.pairs.flat())];

  it('marginals are normalised and Q̄ obeys Chapman–Kolmogorov', () => {
    for (const t of times) {
      const M = p.marginalMatrix(t);
      for (let x = 0; x < V; x++) {
        let s = 0;
        for (let z = 0; z < K; z++) {
          expect(M[z * V + x]!).toBeGreaterThanOrEqual(0);
          s += M[z * V + x]!;
        }
        expect(s).toBeCloseTo(1, 12);
      }
    }
    for (const [s, t] of c.pairs) {
      expect(
        maxAbsDiff(matMul(p.cumulativeMatrix(s), p.transitionMatrix(s, t), K), p.cumulativeMatrix(t)),
      ).toBeLessThan(1e-12);
    }
  });

  it('posteriors follow Bayes: q(z_s | z_t, x0) ∝ q(z_t | z_s) q(z_s | x0), mixed over x0', () => {
    const rng = new Rng(3);
    for (const [s, t] of c.pairs) {
      const A = p.transitionMatrix(s, t);
      const Qs = p.cumulativeMatrix(s);
      for (let trial = 0; trial < 4; trial++) {
        // random x0 distribution, possibly with zeros
        const probs = Float64Array.from({ length: V }, () => (rng.nextDouble() < 0.2 ? 0 : rng.nextDouble()));
        probs[trial % V] = probs[trial % V]! + 0.1;
        const tot = probs.reduce((a, b) => a + b, 0);
        for (let x = 0; x < V; x++) probs[x] = probs[x]! / tot;
        for (let zt = 0; zt < K; zt++) {
          // brute force: joint P(z_s, z_t | x0) by enumeration, conditioned on z_t, mixed over compatible x0
          const want = new Float64Array(K);
          let mass = 0;
          for (let x = 0; x < V; x++) {
            const joint = Float64Array.from({ length: K }, (_, zs) => Qs[x * K + zs]! * A[zs * K + zt]!);
            const pz = joint.reduce((a, b) => a + b, 0);
            if (pz <= 0) continue;
            mass += probs[x]!;
            for (let zs = 0; zs < K; zs++) want[zs] = want[zs]! + (probs[x]! * joint[zs]!) / pz;
          }
          const got = p.posteriorHost(Int32Array.of(zt), probs, s, t);
          if (mass === 0) continue; // z_t unreachable from every x0 with mass
          for (let zs = 0; zs < K; zs++) want[zs] = want[zs]! / mass;
          expect(maxAbsDiff(got, want)).toBeLessThan(1e-12);
        }
      }
    }
  });
});

describe.each(cases.filter((c) => c.discrete))('step matrices of $label', (c) => {
  it('Q̄_t equals the explicit product of step matrices Q_1···Q_t', () => {
    const d = c.make() as D3PMProcess;
    const K = d.numStates;
    let prod = d.cumulativeMatrix(0);
    for (let t = 1; t <= d.T; t++) {
      prod = matMul(prod, d.stepMatrix(t), K);
      expect(maxAbsDiff(prod, d.cumulativeMatrix(t))).toBeLessThan(1e-12);
    }
  });
});

describe.each(testBackends())('discrete process tensors on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(cases)(
    '$label: marginal/posterior tensors match the host math; samples match the marginal (χ²)',
    async (c) => {
      const p = c.make();
      const K = p.numStates;
      const V = p.vocabSize;
      const rng = new Rng(11);
      await expectNoLeaks(async () => {
        const B = 3;
        const N = 5;
        const x0Host = Int32Array.from({ length: B * N }, () => rng.nextInt(0, V));
        const x0 = tf.tensor2d(x0Host, [B, N], 'int32');
        for (const [s, t] of c.pairs) {
          // per-example times: (s, t) on rows 0 and 2, (s', t') = first pair on row 1
          const [s1, t1] = c.pairs[0]!;
          const ts = [t, t1, t];
          const ss = [s, s1, s];
          const m = p.marginal(x0, ts);
          expect(m.shape).toEqual([B, N, K]);
          const mv = await m.data();
          m.dispose();
          for (let b = 0; b < B; b++) {
            const M = p.marginalMatrix(ts[b]!);
            for (let i = 0; i < N; i++) {
              const x = x0Host[b * N + i]!;
              for (let z = 0; z < K; z++) expect(Math.abs(mv[(b * N + i) * K + z]! - M[z * V + x]!)).toBeLessThan(2e-6);
            }
          }
          // posterior vs host
          const zt = p.sample(x0, ts, rng);
          const ztHost = Int32Array.from(await zt.data());
          const logits = rng.normal([B, N, V], 0, 2);
          const probs = tf.softmax(logits);
          const probsHost = Float64Array.from(await probs.data());
          const post = p.posterior(zt, probs, ss, ts);
          expect(post.shape).toEqual([B, N, K]);
          const pv = await post.data();
          for (let b = 0; b < B; b++) {
            const want = p.posteriorHost(
              ztHost.subarray(b * N, b * N + N),
              probsHost.subarray(b * N * V, (b + 1) * N * V),
              ss[b]!,
              ts[b]!,
            );
            expect(maxAbsDiff(pv.subarray(b * N * K, (b + 1) * N * K), want)).toBeLessThan(2e-5);
          }
          tf.dispose([zt, logits, probs, post]);
        }
        x0.dispose();

        // sampling: 4 rows, one x0 token per row, 400 draws each at the middle time
        const [, tMid] = c.pairs[2]!;
        const NS = 400;
        const xs = Int32Array.from({ length: 4 * NS }, (_, k) => Math.floor(k / NS) % V);
        const x0b = tf.tensor2d(xs, [4, NS], 'int32');
        const z = p.sample(x0b, tMid, rng);
        const zv = await z.data();
        tf.dispose([x0b, z]);
        const M = p.marginalMatrix(tMid);
        for (let r = 0; r < 4; r++) {
          const x = r % V;
          const counts = new Float64Array(K);
          for (let i = 0; i < NS; i++) counts[zv[r * NS + i]!] = counts[zv[r * NS + i]!]! + 1;
          const probsX = Float64Array.from({ length: K }, (_, zz) => M[zz * V + x]!);
          const { stat, df } = chiSquare(counts, probsX, NS);
          expect(stat).toBeLessThan(chiSquareCritical(df));
        }
      }, c.label);
    },
  );

  it('masked schedules: α_0 = 1, α decreasing, α′ matches finite differences, weight ≥ 0', () => {
    for (const kind of ['log-linear', 'linear', 'cosine'] as const) {
      const s = maskSchedule(kind);
      expect(s.alpha(0)).toBeCloseTo(1, 12);
      expect(s.alpha(1)).toBeLessThan(1.01e-3);
      for (const t of [0.05, 0.3, 0.6, 0.95]) {
        const h = 1e-6;
        expect(s.dAlpha(t)).toBeCloseTo((s.alpha(t + h) - s.alpha(t - h)) / (2 * h), 5);
        expect(s.alpha(t + 0.01)).toBeLessThan(s.alpha(t));
        expect(new MaskedProcess({ vocabSize: 3, schedule: s }).weight(t)).toBeGreaterThan(0);
      }
    }
  });

  it('prior samples follow prior()', async () => {
    const p = new D3PMProcess({ kind: 'uniform', vocabSize: 5, T: 4 });
    await expectNoLeaks(async () => {
      const z = p.samplePrior(10, 200, new Rng(5));
      const zv = await z.data();
      z.dispose();
      const counts = new Float64Array(5);
      for (const v of zv) counts[v] = counts[v]! + 1;
      const { stat, df } = chiSquare(counts, p.prior(), zv.length);
      expect(stat).toBeLessThan(chiSquareCritical(df));
      // q(z_T | x0) is the prior for uniform (all schedules end at ᾱ_T = 0) and absorbing
      for (const x of [0, 3]) {
        const M = p.marginalMatrix(4);
        for (let zz = 0; zz < 5; zz++) expect(M[zz * 5 + x]).toBeCloseTo(p.prior()[zz]!, 12);
      }
    });
  });
});
