/**
 * The conformance suite: every op of OP_CASES (forward and gradient) and a tiny-transformer training
 * run on each backend, compared with the cpu backend.
 *
 * Error measures, per output element i of a tensor whose cpu reference is r:
 *   abs_i = |x_i − r_i|,   rel_i = abs_i / max(|r_i|, 1e-3 · max_j |r_j|, 1e-6)
 * (relative to the element, floored at a thousandth of the tensor's scale, so near-zero entries of
 * a large tensor do not blow up the ratio). An op fails when any rel_i > tolerance (default 1e-3),
 * when it throws, or when shapes differ.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../init.js';
import type { BackendName } from '../init-types.js';
import { Rng } from '../rng.js';
import { OP_CASES, makeInputValues, type OpCase } from './ops.js';
import { tinyTransformerTrain } from './train-step.js';

export interface OpResult {
  name: string;
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  error?: string;
}

export interface BackendReport {
  name: BackendName;
  adapter: string;
  ops: number;
  failed: string[];
  maxAbsError: number;
  maxRelError: number;
  /** Loss decrease over the tiny-transformer run (first loss − last loss, nats/token): > 0 means it trains. */
  trainStepLossDelta: number;
  /** Largest |loss − cpu loss| over the run's trajectory. */
  trainLossMaxAbsErrorVsCpu: number;
  seconds: number;
  results: OpResult[];
}

export interface SkippedBackend {
  name: BackendName;
  skipped: string;
}

export interface ConformanceReport {
  tolerance: number;
  backends: Array<BackendReport | SkippedBackend>;
}

interface CaseOutput {
  arrays: Array<{ shape: number[]; values: Float32Array }>;
}

async function runCase(c: OpCase, seed: number): Promise<CaseOutput> {
  const rng = new Rng(seed);
  const values = c.inputs.map((s) => makeInputValues(s, rng));
  const xs = c.inputs.map((s, i) => tf.tensor(values[i]!, s.shape, s.dtype ?? 'float32'));
  const toRead: tf.Tensor[] = [];
  try {
    const out = tf.tidy(() => c.fn(...xs));
    toRead.push(out);
    if (c.grad) {
      const floatIdx = c.inputs.map((s, i) => ((s.dtype ?? 'float32') === 'float32' ? i : -1)).filter((i) => i >= 0);
      const w = tf.tensor(rng.normalArray(out.size), out.shape, 'float32');
      toRead.push(w);
      const grads = tf.tidy(() =>
        tf.grads((...fl: tf.Tensor[]) => {
          const all = xs.map((x, i) => {
            const k = floatIdx.indexOf(i);
            return k >= 0 ? fl[k]! : x;
          });
          return tf.sum(tf.mul(c.fn(...all), w));
        })(floatIdx.map((i) => xs[i]!)),
      );
      toRead.push(...grads);
    }
    const arrays = [];
    for (const [k, t] of toRead.entries()) {
      if (c.grad && k === 1) continue; // the weight tensor w
      arrays.push({ shape: t.shape, values: Float32Array.from(await t.data()) });
    }
    return { arrays };
  } finally {
    tf.dispose([...xs, ...toRead]);
  }
}

export function compareArrays(got: CaseOutput, ref: CaseOutput, tolerance: number): Omit<OpResult, 'name'> {
  let maxAbs = 0;
  let maxRel = 0;
  if (got.arrays.length !== ref.arrays.length)
    return { ok: false, maxAbsError: Infinity, maxRelError: Infinity, error: 'different number of outputs' };
  for (let a = 0; a < ref.arrays.length; a++) {
    const r = ref.arrays[a]!;
    const g = got.arrays[a]!;
    if (r.shape.join(',') !== g.shape.join(',')) {
      return {
        ok: false,
        maxAbsError: Infinity,
        maxRelError: Infinity,
        error: `shape [${g.shape}] != cpu [${r.shape}]`,
      };
    }
    let scale = 0;
    for (const v of r.values) scale = Math.max(scale, Math.abs(v));
    const floor = Math.max(1e-3 * scale, 1e-6);
    for (let i = 0; i < r.values.length; i++) {
      const diff = Math.abs(g.values[i]! - r.values[i]!);
      if (Number.isNaN(diff)) return { ok: false, maxAbsError: NaN, maxRelError: NaN, error: `NaN at element ${i}` };
      maxAbs = Math.max(maxAbs, diff);
      maxRel = Math.max(maxRel, diff / Math.max(Math.abs(r.values[i]!), floor));
    }
  }
  return { ok: maxRel <= tolerance, maxAbsError: maxAbs, maxRelError: maxRel };
}

export interface SuiteOptions {
  backends: BackendName[];
  tolerance?: number;
  cases?: OpCase[];
  trainSteps?: number;
  /** Backends that must be present: a missing one is reported as failed rather than skipped. */
  required?: BackendName[];
  onProgress?: (message: string) => void;
}

export async function runConformance(options: SuiteOptions): Promise<ConformanceReport> {
  const tolerance = options.tolerance ?? 1e-3;
  const cases = options.cases ?? OP_CASES;
  const trainSteps = options.trainSteps ?? 6;
  const say = options.onProgress ?? (() => {});
  await initBackend('cpu');
  const refs: Array<CaseOutput | Error> = [];
  for (const [i, c] of cases.entries()) {
    try {
      refs.push(await runCase(c, 1000 + i));
    } catch (e) {
      refs.push(e instanceof Error ? e : new Error(String(e)));
    }
  }
  const refTrain = await tinyTransformerTrain(trainSteps);
  const report: ConformanceReport = { tolerance, backends: [] };
  for (const name of options.backends) {
    const t0 = performance.now();
    let adapter: string;
    try {
      adapter = (await initBackend(name)).adapter;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (options.required?.includes(name)) {
        report.backends.push({
          name,
          adapter: 'unavailable',
          ops: 0,
          failed: [`backend unavailable: ${reason}`],
          maxAbsError: NaN,
          maxRelError: NaN,
          trainStepLossDelta: NaN,
          trainLossMaxAbsErrorVsCpu: NaN,
          seconds: 0,
          results: [],
        });
      } else report.backends.push({ name, skipped: reason });
      say(`${name}: skipped (${reason})`);
      continue;
    }
    say(`${name}: ${adapter}`);
    const results: OpResult[] = [];
    for (const [i, c] of cases.entries()) {
      try {
        const ref = refs[i]!;
        if (ref instanceof Error) throw new Error(`cpu reference failed: ${ref.message}`);
        const got = await runCase(c, 1000 + i);
        results.push({ name: c.name, ...compareArrays(got, ref, tolerance) });
      } catch (e) {
        results.push({
          name: c.name,
          ok: false,
          maxAbsError: NaN,
          maxRelError: NaN,
          error: (e instanceof Error ? e.message : String(e)).split('\n')[0]!,
        });
      }
    }
    const failed = results
      .filter((r) => !r.ok)
      .map((r) => (r.error ? `${r.name}: ${r.error}` : `${r.name}: rel ${r.maxRelError.toExponential(2)}`));
    let trainDelta = NaN;
    let trainErr = NaN;
    try {
      const tr = await tinyTransformerTrain(trainSteps);
      trainDelta = tr.losses[0]! - tr.losses[tr.losses.length - 1]!;
      trainErr = Math.max(...tr.losses.map((l, k) => Math.abs(l - refTrain.losses[k]!)));
      if (!(trainDelta > 0)) failed.push(`tiny transformer did not train (loss delta ${trainDelta})`);
      if (!(trainErr < 1e-2)) failed.push(`tiny transformer loss differs from cpu by ${trainErr}`);
    } catch (e) {
      failed.push(`tiny transformer train step threw: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
    const finite = results.filter((r) => Number.isFinite(r.maxRelError));
    report.backends.push({
      name,
      adapter,
      ops: results.length,
      failed,
      maxAbsError: Math.max(0, ...finite.map((r) => r.maxAbsError)),
      maxRelError: Math.max(0, ...finite.map((r) => r.maxRelError)),
      trainStepLossDelta: trainDelta,
      trainLossMaxAbsErrorVsCpu: trainErr,
      seconds: (performance.now() - t0) / 1000,
      results,
    });
    say(
      `${name}: ${results.length} ops, ${failed.length} failed, max rel ${Math.max(0, ...finite.map((r) => r.maxRelError)).toExponential(2)}`,
    );
  }
  await initBackend('cpu');
  return report;
}

export function isSkipped(b: BackendReport | SkippedBackend): b is SkippedBackend {
  return 'skipped' in b;
}
