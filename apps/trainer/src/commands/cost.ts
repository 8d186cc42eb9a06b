/**
 * `altar cost`: the lecture's formula as a tool. Predicts the wall time of sampling n tokens with an AR
 * model (n sequential calls, each streaming every weight) against a diffusion model with T steps (T calls
 * over all n positions) on a hardware profile, with the roofline model of @altar/samplers, and says where
 * the two cross.
 */
import { BACKEND_CHOICES, initBackend } from '@altar/backend';
import {
  CostModel,
  HARDWARE_PROFILES,
  calibrateLocal,
  type HardwareProfile,
  type RooflinePrediction,
} from '@altar/samplers';
import { choiceFlag, intFlag, numberFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../io.js';

const HARDWARE = ['h100', 'h200', 'local'] as const;

function parseSize(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const m = /^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kKmMbBgGtT]?)$/.exec(v.trim());
  if (!m) throw new UsageError(`--${name}: expected a number like 7e9, 125M or 7B, got '${v}'`);
  const mult: Record<string, number> = {
    '': 1,
    k: 1e3,
    K: 1e3,
    m: 1e6,
    M: 1e6,
    b: 1e9,
    B: 1e9,
    g: 1e9,
    G: 1e9,
    t: 1e12,
    T: 1e12,
  };
  const n = Number(m[1]) * mult[m[2]!]!;
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name}: expected a positive number, got '${v}'`);
  return n;
}

function fmtTime(s: number): string {
  if (s >= 1) return `${s.toPrecision(4)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toPrecision(4)} ms`;
  return `${(s * 1e6).toPrecision(4)} µs`;
}

export interface CostReport {
  hardware: HardwareProfile;
  params: number;
  bytesPerWeight: number;
  n: number;
  T: number;
  batch: number;
  opsPerCall: number;
  ar: RooflinePrediction & { calls: number; weightBytesLoaded: number };
  diffusion: RooflinePrediction & { calls: number; weightBytesLoaded: number };
  /** Diffusion time / AR time (< 1: diffusion faster). */
  ratio: number;
  ridgeTokens: number;
  /** Largest T for which diffusion over n tokens is no slower than AR. */
  crossoverT: number;
  /** Smallest n at which diffusion with T steps beats AR (null: never). */
  crossoverN: number | null;
}

/** The `altar cost` computation, no IO. */
export function costReport(
  hw: HardwareProfile,
  o: { params: number; bytesPerWeight: number; n: number; T: number; batch: number; opsPerCall: number },
): CostReport {
  const cm = new CostModel(hw);
  const ar = cm.predictAr(o);
  const diffusion = cm.predictDiffusion(o);
  const c = cm.crossover(o);
  const wb = o.params * o.bytesPerWeight;
  return {
    hardware: hw,
    ...o,
    ar: { ...ar, calls: o.n, weightBytesLoaded: o.n * wb },
    diffusion: { ...diffusion, calls: o.T, weightBytesLoaded: o.T * wb },
    ratio: diffusion.seconds / ar.seconds,
    ridgeTokens: cm.ridgeTokens(o.bytesPerWeight),
    crossoverT: c.maxT,
    crossoverN: c.minN,
  };
}

export const costCommand: Command = {
  name: 'cost',
  summary: 'roofline prediction of AR (n steps) vs diffusion (T steps) sampling time, and the crossover',
  help: `altar cost --params P --bpw B --n N --T T [--hardware h100|h200|local] [--batch b] [--ops K] [--json]

Predicts the wall time of generating n tokens:
  AR:        n calls, each loads P·bpw bytes and does 2·P·batch FLOPs
  diffusion: T calls, each loads P·bpw bytes and does 2·P·n·batch FLOPs
  one call = max(bytes / bandwidth, FLOPs / peak) + ops × dispatch overhead   (roofline)
Profiles: h100 (3.35 TB/s, 989 TFLOP/s bf16 dense, 67 TFLOP/s fp32), h200 (4.8 TB/s, same compute),
local (measured now: matMul GFLOP/s, add bandwidth and tiny-op dispatch time on --backend).
bpw ≤ 2 uses the 16-bit (tensor-core) peak, otherwise fp32.

Options:
  --params P      parameters (7e9, 125M, 7B) [required]
  --bpw B         bytes per weight [2]
  --n N           tokens to generate [required]
  --T T           diffusion steps [required]
  --hardware H    h100 | h200 | local [h100]
  --batch b       sequences decoded together [1]
  --ops K         kernels dispatched per forward call [0]
  --backend NAME  backend for --hardware local [auto]
  --json          the full report as JSON

Examples:
  altar cost --params 7B --bpw 2 --n 1024 --T 64
  altar cost --params 125M --bpw 4 --n 256 --T 32 --hardware local --ops 40`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      params: { type: 'string' },
      bpw: { type: 'string' },
      n: { type: 'string' },
      T: { type: 'string' },
      hardware: { type: 'string' },
      batch: { type: 'string' },
      ops: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.params === undefined) throw new UsageError('--params: required (e.g. 7B)');
    if (values.n === undefined) throw new UsageError('--n: required (tokens to generate)');
    if (values.T === undefined) throw new UsageError('--T: required (diffusion steps)');
    const params = parseSize('params', values.params, 0);
    const bytesPerWeight = numberFlag('bpw', values.bpw, 2);
    if (!(bytesPerWeight > 0)) throw new UsageError(`--bpw: expected a number > 0, got '${values.bpw}'`);
    const n = intFlag('n', values.n, 0, 1);
    const T = intFlag('T', values.T, 0, 1);
    const batch = intFlag('batch', values.batch, 1, 1);
    const opsPerCall = intFlag('ops', values.ops, 0, 0);
    const which = choiceFlag('hardware', values.hardware, HARDWARE, 'h100');
    let hw: HardwareProfile;
    if (which === 'local') {
      await initBackend(choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto'), {
        logger: { info: () => {}, warn: (m) => io.err(m + '\n') },
      });
      hw = (await calibrateLocal()).profile;
    } else hw = HARDWARE_PROFILES[which];
    const r = costReport(hw, { params, bytesPerWeight, n, T, batch, opsPerCall });
    if (values.json) {
      io.out(JSON.stringify(r) + '\n');
      return 0;
    }
    const gb = (b: number) => `${(b / 1e9).toPrecision(4)} GB`;
    io.out(
      [
        `hardware: ${hw.name} — ${hw.note ?? ''}`,
        `  bandwidth ${(hw.memBandwidth / 1e12).toPrecision(4)} TB/s, peak ${((bytesPerWeight <= 2 ? hw.peakFlops16 : hw.peakFlops32) / 1e12).toPrecision(4)} TFLOP/s (${bytesPerWeight <= 2 ? '16-bit' : 'fp32'}), dispatch ${(hw.dispatchSec * 1e6).toPrecision(3)} µs/op`,
        `model: ${params.toExponential(3)} params × ${bytesPerWeight} B/weight = ${gb(params * bytesPerWeight)} per call; n = ${n} tokens, T = ${T} steps, batch ${batch}, ${opsPerCall} ops/call`,
        `AR:        ${n} calls × ${fmtTime(r.ar.perCallSeconds)} = ${fmtTime(r.ar.seconds)}  (${r.ar.bound}-bound; loads ${gb(r.ar.weightBytesLoaded)} = n·P·bpw)`,
        `diffusion: ${T} calls × ${fmtTime(r.diffusion.perCallSeconds)} = ${fmtTime(r.diffusion.seconds)}  (${r.diffusion.bound}-bound; loads ${gb(r.diffusion.weightBytesLoaded)} = T·P·bpw)`,
        `diffusion / AR time: ${r.ratio.toPrecision(4)} → ${r.ratio < 1 ? 'diffusion is faster' : r.ratio > 1 ? 'AR is faster' : 'a tie'}`,
        `ridge: a call stays memory-bound up to ${r.ridgeTokens.toFixed(0)} tokens (bpw · peak / (2 · BW))`,
        `crossover: at n = ${n}, diffusion wins for T ≤ ${r.crossoverT}; at T = ${T}, diffusion wins for n ≥ ${r.crossoverN ?? 'never (T exceeds the compute ridge)'}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
