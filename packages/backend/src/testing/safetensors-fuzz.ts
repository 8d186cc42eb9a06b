/**
 * The safetensors reader's mutation fuzzer: mutate a real checkpoint (safetensors-mutations.ts, 18 kinds),
 * decode each mutant with `safetensorsToTensors`, and classify the outcome. The contract it checks:
 * every mutant is either rejected with a `SafetensorsError` or decodes to exactly what its header says
 * (checked against an independent decode of the header and the data slice); nothing else is thrown;
 * no case is slow; no tensor is leaked; memory stays bounded by the file's size whatever the header claims.
 * Used by the test suite (a bounded, seeded run) and by `pnpm fuzz` (the long run).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { SafetensorsError } from '../io/safetensors.js';
import { safetensorsToTensors } from '../io/safetensors-tensors.js';
import { Rng } from '../rng.js';
import { SAFETENSORS_MUTATIONS, mutateSafetensors, type SafetensorsMutation } from './safetensors-mutations.js';

/**
 * Options of {@link fuzzSafetensors}.
 *
 * @example
 * ```ts
 * const opts: SafetensorsFuzzOptions = { file: checkpoint, n: 2000, seed: 1 };
 * ```
 */
export interface SafetensorsFuzzOptions {
  /** The file to mutate (a real checkpoint). */
  file: Uint8Array;
  /** How many mutants to try. */
  n: number;
  /** Seed of the mutation stream (the same seed gives the same mutants). */
  seed?: number;
  /** A decode slower than this, in the best of three tries, counts as a hang (default 50 ms). */
  slowMs?: number;
  /**
   * Called with every accepted file's tensors (load them into a model, say); it must not dispose them.
   * An AltarError whose code is in `refuseCodes` counts as a refusal; any other exception is a crash.
   */
  onAccepted?: (tensors: Record<string, tf.Tensor>) => void;
  /** AltarError codes `onAccepted` may throw (default: none). */
  refuseCodes?: readonly string[];
}

/**
 * One contract violation found by the fuzzer.
 *
 * @example
 * ```ts
 * const f: FuzzFailure = { index: 17, kind: 'truncate', what: 'crash', message: 'RangeError: …' };
 * ```
 */
export interface FuzzFailure {
  /** Position of the mutant in the seeded stream (re-create it with the same seed). */
  index: number;
  kind: SafetensorsMutation;
  what: 'crash' | 'wrong' | 'hang' | 'leak';
  message: string;
}

/**
 * What a fuzz run found. `failures` keeps the first 20 violations; the counters count all.
 *
 * @example
 * ```ts
 * const r: SafetensorsFuzzReport = fuzzSafetensors({ file, n: 100 });
 * r.crashes + r.wrong + r.hangs + r.leaks; // 0
 * ```
 */
export interface SafetensorsFuzzReport {
  tried: number;
  /** Mutants rejected with a SafetensorsError (code BAD_SAFETENSORS). */
  rejected: number;
  /** Mutants that decoded, and decoded to exactly what their header says. */
  acceptedValid: number;
  /** Accepted mutants that `onAccepted` refused with an allowed AltarError code. */
  refused: number;
  /** Exceptions other than a SafetensorsError (from the reader or from `onAccepted`). */
  crashes: number;
  /** Accepted mutants whose tensors differ from what the header says. */
  wrong: number;
  /** Mutants slower than `slowMs` in the best of three tries. */
  hangs: number;
  /** Tensors left allocated, summed over all mutants. */
  leaks: number;
  /** Decode time per mutant, first try (ms). */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
  /** The slowest mutant's best of three tries (what `hangs` is judged on). */
  maxBestMs: number;
  /** Largest growth of ArrayBuffer memory during one decode, in bytes, and the largest mutant's size. */
  maxBufferGrowth: number;
  maxFileBytes: number;
  /** Peak resident memory of the process so far, in bytes (Node only; 0 elsewhere). */
  peakRssBytes: number;
  byKind: Record<SafetensorsMutation, { tried: number; rejected: number; accepted: number }>;
  failures: FuzzFailure[];
}

const half = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25));
};

/** The value of element i of a slice, as tfjs should hold it (bit patterns for F32 and BF16). */
function expectedAt(dtype: string, v: DataView, i: number): number | undefined {
  switch (dtype) {
    case 'F32':
      return v.getUint32(4 * i, true);
    case 'BF16':
      return v.getUint16(2 * i, true) * 65536;
    case 'F64':
      return Math.fround(v.getFloat64(8 * i, true));
    case 'F16':
      return Math.fround(half(v.getUint16(2 * i, true)));
    case 'I64':
    case 'U64': {
      const b = dtype === 'I64' ? v.getBigInt64(8 * i, true) : v.getBigUint64(8 * i, true);
      return b > 2147483647n || b < -2147483648n ? undefined : Number(b);
    }
    case 'I32':
      return v.getInt32(4 * i, true);
    case 'U32':
      return v.getUint32(4 * i, true);
    case 'I16':
      return v.getInt16(2 * i, true);
    case 'U16':
      return v.getUint16(2 * i, true);
    case 'I8':
      return v.getInt8(i);
    case 'U8':
      return v.getUint8(i);
    default:
      return v.getUint8(i) === 0 ? 0 : 1; // BOOL
  }
}

const TF_DTYPE: Record<string, string> = { F32: 'float32', F64: 'float32', F16: 'float32', BF16: 'float32' };

/**
 * Check an accepted file independently of the reader: parse its header again, and compare every decoded
 * tensor (dtype, shape, each element; float32 and bfloat16 bit for bit) with its slice of the data buffer.
 * Returns what differs, or null.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = safetensorsToTensors(bytes);
 * verifyDecoded(bytes, tensors, metadata); // null: exactly what the header says
 * ```
 */
export function verifyDecoded(
  bytes: Uint8Array,
  tensors: Record<string, tf.Tensor>,
  metadata: Record<string, string>,
): string | null {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const meta = (header['__metadata__'] ?? {}) as Record<string, string>;
  if (JSON.stringify(Object.entries(meta).sort()) !== JSON.stringify(Object.entries(metadata).sort()))
    return 'metadata differs from the header';
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (names.length !== Object.keys(tensors).length) return `${Object.keys(tensors).length} tensors for ${names.length}`;
  for (const name of names) {
    const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const t = tensors[name];
    if (!t) return `tensor '${name}' missing`;
    const want = TF_DTYPE[e.dtype] ?? (e.dtype === 'BOOL' ? 'bool' : 'int32');
    if (t.dtype !== want) return `tensor '${name}': dtype ${t.dtype} for ${e.dtype}`;
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i]))
      return `tensor '${name}': shape [${t.shape}] for [${e.shape}]`;
    const [begin, end] = e.data_offsets;
    const slice = new Uint8Array(bytes.subarray(8 + n + begin, 8 + n + end));
    const view = new DataView(slice.buffer);
    const got = t.dataSync();
    const bits = e.dtype === 'F32' || e.dtype === 'BF16' ? new Uint32Array(new Float32Array(got).buffer) : got;
    for (let i = 0; i < t.size; i++) {
      const x = expectedAt(e.dtype, view, i);
      if (x === undefined || !Object.is(bits[i], x))
        return `tensor '${name}': element ${i} is ${bits[i]}, the file says ${x ?? 'a value outside int32'}`;
    }
  }
  return null;
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

const proc = (globalThis as { process?: NodeJS.Process }).process;
const bufferBytes = (): number => proc?.memoryUsage().arrayBuffers ?? 0;

/**
 * Run `n` seeded mutants of `file` through the reader and report (see {@link SafetensorsFuzzReport}).
 * Synchronous; needs a tfjs backend (the suite uses cpu). Each decode is timed alone (the independent check
 * and `onAccepted` are not), and a slow one is retried twice so a GC pause is not taken for a hang.
 *
 * @example
 * ```ts
 * const report = fuzzSafetensors({ file: await readFile('model.safetensors'), n: 2000, seed: 1 });
 * expect(report.crashes + report.wrong + report.hangs + report.leaks).toBe(0);
 * ```
 */
export function fuzzSafetensors(opts: SafetensorsFuzzOptions): SafetensorsFuzzReport {
  const slowMs = opts.slowMs ?? 50;
  const rng = new Rng(opts.seed ?? 1);
  const file = new Uint8Array(opts.file); // a private copy (a Node Buffer's slice() is a view, not a copy)
  const byKind = Object.fromEntries(
    SAFETENSORS_MUTATIONS.map((k) => [k, { tried: 0, rejected: 0, accepted: 0 }]),
  ) as SafetensorsFuzzReport['byKind'];
  const r: SafetensorsFuzzReport = {
    ...{ tried: 0, rejected: 0, acceptedValid: 0, refused: 0, crashes: 0, wrong: 0, hangs: 0, leaks: 0 },
    ...{ medianMs: 0, p99Ms: 0, maxMs: 0, maxBestMs: 0, maxBufferGrowth: 0, maxFileBytes: 0, peakRssBytes: 0 },
    ...{ byKind, failures: [] },
  };
  const times: number[] = [];
  const fail = (f: FuzzFailure) => {
    if (r.failures.length < 20) r.failures.push(f);
  };
  for (let index = 0; index < opts.n; index++) {
    const { kind, bytes } = mutateSafetensors(file, rng);
    const stats = byKind[kind];
    r.tried++;
    stats.tried++;
    r.maxFileBytes = Math.max(r.maxFileBytes, bytes.length);
    const before = tf.memory().numTensors;
    const buffers = bufferBytes();
    const decode = () => {
      const t0 = performance.now();
      try {
        const out = safetensorsToTensors(bytes);
        return { ms: performance.now() - t0, out, error: undefined };
      } catch (error) {
        return { ms: performance.now() - t0, out: undefined, error };
      }
    };
    const first = decode();
    r.maxBufferGrowth = Math.max(r.maxBufferGrowth, bufferBytes() - buffers);
    times.push(first.ms);
    let best = first.ms;
    for (let retry = 0; retry < 2 && best > slowMs; retry++) {
      const again = decode();
      if (again.out) tf.dispose(Object.values(again.out.tensors));
      best = Math.min(best, again.ms);
    }
    r.maxBestMs = Math.max(r.maxBestMs, best);
    if (best > slowMs) {
      r.hangs++;
      fail({ index, kind, what: 'hang', message: `decode took ${best.toFixed(1)} ms (best of 3)` });
    }
    if (first.error !== undefined) {
      if (first.error instanceof SafetensorsError && first.error.code === 'BAD_SAFETENSORS') {
        r.rejected++;
        stats.rejected++;
      } else {
        r.crashes++;
        fail({ index, kind, what: 'crash', message: String(first.error) });
      }
    } else if (first.out) {
      const { tensors, metadata } = first.out;
      stats.accepted++;
      try {
        const diff = verifyDecoded(bytes, tensors, metadata);
        if (diff !== null) {
          r.wrong++;
          fail({ index, kind, what: 'wrong', message: diff });
        } else {
          r.acceptedValid++;
          opts.onAccepted?.(tensors);
        }
      } catch (e) {
        if (e instanceof AltarError && (opts.refuseCodes ?? []).includes(e.code)) r.refused++;
        else {
          r.crashes++;
          fail({ index, kind, what: 'crash', message: `after decoding: ${String(e)}` });
        }
      } finally {
        tf.dispose(Object.values(tensors));
      }
    }
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) {
      r.leaks += leaked;
      fail({ index, kind, what: 'leak', message: `${leaked} tensor(s) left allocated` });
    }
  }
  times.sort((a, b) => a - b);
  r.medianMs = percentile(times, 0.5);
  r.p99Ms = percentile(times, 0.99);
  r.maxMs = times[times.length - 1] ?? 0;
  r.peakRssBytes = (proc?.resourceUsage().maxRSS ?? 0) * 1024;
  return r;
}
