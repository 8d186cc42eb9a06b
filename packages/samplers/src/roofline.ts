/**
 * The roofline cost model that predicts sampling runs: hardware profiles, the model, and local calibration.
 *
 * Prediction (Williams, Waterman & Patterson, "Roofline", CACM 2009): one call takes
 *   t_call = max(bytes / BW, FLOPs / peak) + ops × t_dispatch
 * and a run takes NFE × t_call. The per-dispatch term models kernel-launch / op-dispatch overhead, which
 * dominates tiny models on any backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';

/**
 * A hardware profile for the roofline {@link CostModel}: bandwidth, peak FLOP/s and per-op dispatch time.
 *
 * @example
 * ```ts
 * const laptop: HardwareProfile = { name: 'laptop', memBandwidth: 100e9, peakFlops16: 20e12, peakFlops32: 10e12, dispatchSec: 10e-6 };
 * new CostModel(laptop).predictAr({ params: 1e9, bytesPerWeight: 2, n: 256 });
 * ```
 */
export interface HardwareProfile {
  name: string;
  /** Memory bandwidth, bytes/s. */
  memBandwidth: number;
  /** Peak dense FLOP/s at 16-bit weights (tensor cores) and at fp32. */
  peakFlops16: number;
  peakFlops32: number;
  /** Seconds of fixed overhead per dispatched op (kernel launch, tfjs op dispatch). */
  dispatchSec: number;
  note?: string;
}

/**
 * NVIDIA H100 SXM5 datasheet: HBM3 3.35 TB/s; 989 TFLOP/s dense BF16 (tensor core), 67 TFLOP/s FP32
 * (non-tensor). Kernel launch ≈ 4 µs (CUDA launch latency, typical measured figure without graphs).
 *
 * @example
 * ```ts
 * new CostModel(H100_SXM).ridgeTokens(2); // ≈ 295 tokens per call before compute binds
 * ```
 */
export const H100_SXM: HardwareProfile = {
  name: 'h100',
  memBandwidth: 3.35e12,
  peakFlops16: 989e12,
  peakFlops32: 67e12,
  dispatchSec: 4e-6,
  note: 'H100 SXM5 datasheet (3.35 TB/s, 989 TFLOP/s bf16 dense, 67 TFLOP/s fp32)',
};

/**
 * NVIDIA H200: HBM3e 4.8 TB/s, same Hopper compute as H100 SXM.
 *
 * @example
 * ```ts
 * new CostModel(H200).crossover({ params: 7e9, bytesPerWeight: 2, n: 1024, T: 64 }); // { maxT, minN }
 * ```
 */
export const H200: HardwareProfile = {
  name: 'h200',
  memBandwidth: 4.8e12,
  peakFlops16: 989e12,
  peakFlops32: 67e12,
  dispatchSec: 4e-6,
  note: 'H200 datasheet (4.8 TB/s, compute as H100 SXM)',
};

/**
 * The built-in profiles by the names a CLI flag or config uses.
 *
 * @example
 * ```ts
 * const model = new CostModel(HARDWARE_PROFILES['h200']);
 * ```
 */
export const HARDWARE_PROFILES: Readonly<Record<'h100' | 'h200', HardwareProfile>> = { h100: H100_SXM, h200: H200 };

/**
 * One sampling run for the model to predict: `calls` network calls, each the same size.
 *
 * @example
 * ```ts
 * const shape: RunShape = { calls: 64, bytesPerCall: 14e9, flopsPerCall: 2 * 7e9 * 1024, opsPerCall: 400, bytesPerWeight: 2 };
 * new CostModel(H200).predict(shape).seconds;
 * ```
 */
export interface RunShape {
  /** Network calls (NFE). */
  calls: number;
  /** Bytes each call reads: weights (+ activations/KV cache if you count them). */
  bytesPerCall: number;
  /** FLOPs each call performs. */
  flopsPerCall: number;
  /** Ops (kernels) each call dispatches. */
  opsPerCall: number;
  /** Bytes per weight: 2 selects the 16-bit peak, otherwise fp32. */
  bytesPerWeight?: number;
}

/**
 * A roofline prediction for a run: total and per-call seconds, each term, and the term that bounds a call.
 *
 * @example
 * ```ts
 * const p: RooflinePrediction = new CostModel(H100_SXM).predictAr({ params: 7e9, bytesPerWeight: 2, n: 256 });
 * const { seconds, bound } = p; // bound 'memory': AR decoding at batch 1 streams every weight per token
 * ```
 */
export interface RooflinePrediction {
  seconds: number;
  perCallSeconds: number;
  memorySeconds: number;
  computeSeconds: number;
  dispatchSeconds: number;
  /** Which roofline term bounds a call. */
  bound: 'memory' | 'compute' | 'dispatch';
}

/**
 * The roofline cost model over one hardware profile.
 *
 * @example
 * ```ts
 * const m = new CostModel(H200);
 * const ar = m.predictAr({ params: 1e9, bytesPerWeight: 2, n: 128 });
 * const diff = m.predictDiffusion({ params: 1e9, bytesPerWeight: 2, n: 128, T: 16 });
 * ar.seconds / diff.seconds; // 8 = 128 / 16: both memory-bound, each call streams every weight
 * ```
 */
export class CostModel {
  constructor(readonly hw: HardwareProfile) {}

  peakFor(bytesPerWeight = 4): number {
    return bytesPerWeight <= 2 ? this.hw.peakFlops16 : this.hw.peakFlops32;
  }

  /** t = calls × (max(bytes/BW, FLOPs/peak) + ops × dispatch). */
  predict(run: RunShape): RooflinePrediction {
    for (const k of ['calls', 'bytesPerCall', 'flopsPerCall', 'opsPerCall'] as const) {
      if (!(run[k] >= 0) || !Number.isFinite(run[k]))
        throw new AltarError('BAD_ARG', `CostModel.predict: ${k} must be a finite number ≥ 0, got ${run[k]}`);
    }
    const mem = run.bytesPerCall / this.hw.memBandwidth;
    const comp = run.flopsPerCall / this.peakFor(run.bytesPerWeight);
    const disp = run.opsPerCall * this.hw.dispatchSec;
    const per = Math.max(mem, comp) + disp;
    const bound = disp > Math.max(mem, comp) ? 'dispatch' : mem >= comp ? 'memory' : 'compute';
    return {
      seconds: run.calls * per,
      perCallSeconds: per,
      memorySeconds: mem,
      computeSeconds: comp,
      dispatchSeconds: disp,
      bound,
    };
  }

  /**
   * AR decoding of n tokens (batch b): n calls, each loads P·bpw bytes and does 2·P·b FLOPs
   * (a forward is ≈ 2 FLOPs per weight per token; Kaplan et al. 2020, §2.1).
   */
  predictAr(o: {
    params: number;
    bytesPerWeight: number;
    n: number;
    batch?: number;
    opsPerCall?: number;
  }): RooflinePrediction {
    const b = o.batch ?? 1;
    return this.predict({
      calls: o.n,
      bytesPerCall: o.params * o.bytesPerWeight,
      flopsPerCall: 2 * o.params * b,
      opsPerCall: o.opsPerCall ?? 0,
      bytesPerWeight: o.bytesPerWeight,
    });
  }

  /** Diffusion with T steps over n positions: T calls, each loads P·bpw bytes and does 2·P·n·b FLOPs. */
  predictDiffusion(o: {
    params: number;
    bytesPerWeight: number;
    n: number;
    T: number;
    batch?: number;
    opsPerCall?: number;
  }): RooflinePrediction {
    const b = o.batch ?? 1;
    return this.predict({
      calls: o.T,
      bytesPerCall: o.params * o.bytesPerWeight,
      flopsPerCall: 2 * o.params * o.n * b,
      opsPerCall: o.opsPerCall ?? 0,
      bytesPerWeight: o.bytesPerWeight,
    });
  }

  /**
   * Ridge point in tokens per call: the number of tokens a call must process before compute, not
   * weight streaming, bounds it: n* = bpw · peak / (2 · BW).
   */
  ridgeTokens(bytesPerWeight: number): number {
    return (bytesPerWeight * this.peakFor(bytesPerWeight)) / (2 * this.hw.memBandwidth);
  }

  /**
   * Crossovers for one (P, bpw, n, T): the largest T at which diffusion over n tokens is no slower than AR,
   * and the smallest n at which diffusion with T steps beats AR (null when it never does).
   */
  crossover(o: { params: number; bytesPerWeight: number; n: number; T: number; batch?: number; opsPerCall?: number }): {
    maxT: number;
    minN: number | null;
  } {
    const ar = this.predictAr(o).seconds;
    const perStep = this.predictDiffusion({ ...o, T: 1 }).seconds;
    const maxT = perStep > 0 ? Math.floor(ar / perStep) : Infinity;
    // AR(n) − Diff(n, T) is non-decreasing in n once diffusion is memory-bound, so scan doubling then bisect.
    const faster = (n: number) => this.predictDiffusion({ ...o, n }).seconds < this.predictAr({ ...o, n }).seconds;
    let hi = 1;
    while (!faster(hi) && hi < 2 ** 40) hi *= 2;
    if (!faster(hi)) return { maxT, minN: null };
    let lo = Math.max(1, Math.floor(hi / 2));
    if (faster(lo)) return { maxT, minN: lo };
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (faster(mid)) hi = mid;
      else lo = mid;
    }
    return { maxT, minN: hi };
  }
}

/**
 * Count the kernels one call dispatches (tf.profile), for RunShape.opsPerCall. The callback's result is
 * disposed.
 *
 * @example
 * ```ts
 * const opsPerCall = await countDispatches(() => model.forward(tokens)); // kernels per forward call
 * ```
 */
export async function countDispatches(fn: () => tf.TensorContainer): Promise<number> {
  const info = await tf.profile(() => fn());
  tf.dispose(info.result);
  return info.kernels.length;
}

/**
 * The figures {@link calibrateLocal} measured on the current backend.
 *
 * @example
 * ```ts
 * const { calibration } = await calibrateLocal();
 * const line = `${calibration.backend}: ${calibration.matMulGflops} GFLOP/s, ${calibration.dispatchUs} µs/op`;
 * ```
 */
export interface CalibrationResult {
  backend: string;
  matMulGflops: number;
  memBandwidthGBs: number;
  dispatchUs: number;
}

async function medianMs(fn: () => Promise<void>, reps: number): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  return xs[xs.length >> 1]!;
}

/**
 * Measure a `local` profile on the current backend: matMul GFLOP/s (an m×m by m×m product, 2m³ FLOPs),
 * memory bandwidth from a large add (3 × 4 bytes per element), and the dispatch time of a tiny op
 * (a chain of `ops` scalar adds). Takes well under a second with the defaults.
 *
 * @example
 * ```ts
 * await initBackend('wasm');
 * const { profile } = await calibrateLocal();
 * const predicted = new CostModel(profile).predictAr({ params: model.paramCount(), bytesPerWeight: 4, n: 64 });
 * ```
 */
export async function calibrateLocal(
  o: { matSize?: number; addSize?: number; ops?: number; reps?: number } = {},
): Promise<{ profile: HardwareProfile; calibration: CalibrationResult }> {
  const m = o.matSize ?? 256;
  const size = o.addSize ?? 1 << 20;
  const ops = o.ops ?? 200;
  const reps = o.reps ?? 5;
  const a = tf.ones([m, m]);
  const b = tf.ones([m, m]);
  const x = tf.ones([size]);
  const y = tf.ones([size]);
  const s = tf.scalar(1);
  try {
    const mmMs = await medianMs(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    }, reps);
    const addMs = await medianMs(async () => {
      const c = tf.add(x, y);
      await c.data();
      c.dispose();
    }, reps);
    const chainMs = await medianMs(async () => {
      let c: tf.Tensor = s.clone();
      for (let i = 0; i < ops; i++) {
        const n = tf.add(c, s);
        c.dispose();
        c = n;
      }
      await c.data();
      c.dispose();
    }, reps);
    const matMulGflops = (2 * m ** 3) / (mmMs * 1e-3) / 1e9;
    const memBandwidthGBs = (3 * 4 * size) / (addMs * 1e-3) / 1e9;
    const dispatchUs = (chainMs * 1e3) / ops;
    const backend = tf.getBackend();
    const profile: HardwareProfile = {
      name: 'local',
      memBandwidth: memBandwidthGBs * 1e9,
      peakFlops16: matMulGflops * 1e9, // tfjs computes in float32 whatever the storage
      peakFlops32: matMulGflops * 1e9,
      dispatchSec: dispatchUs * 1e-6,
      note: `measured on tfjs ${backend}: matMul ${m}² ${matMulGflops.toFixed(2)} GFLOP/s, add ${memBandwidthGBs.toFixed(2)} GB/s, ${dispatchUs.toFixed(1)} µs/op`,
    };
    return { profile, calibration: { backend, matMulGflops, memBandwidthGBs, dispatchUs } };
  } finally {
    tf.dispose([a, b, x, y, s]);
  }
}
