/**
 * Seeded randomness for the whole project. Numbers are generated on the host with xoshiro128**
 * (Blackman & Vigna, 2018) and uploaded, so one seed gives the same numbers on every backend and
 * every run. tfjs's own random ops (randomUniform, randomNormal with a `seed`) are deterministic
 * too, but `multinomial` and `dropout` without a seed are not: altar never calls them unseeded and
 * routes all sampling through this class instead.
 */
import { argMax, tensor, tidy, add, type Tensor } from '@tensorflow/tfjs-core';
import { AltarError } from './errors.js';

/** splitmix32: expands one 32-bit seed into well-mixed state words. */
function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return t >>> 0;
  };
}

/** FNV-1a hash of a string, for deriving named child streams. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The full state of an {@link Rng}: save it with a checkpoint, pass it to `new Rng(state)` to continue the stream.
 *
 * @example
 * ```ts
 * const saved: RngState = rng.state();
 * const again = new Rng(saved); // draws exactly what rng would draw next
 * ```
 */
export interface RngState {
  /** The four 32-bit words of the xoshiro128** state. */
  s: [number, number, number, number];
}

/**
 * Seeded random numbers on the host (xoshiro128**): all of altar's randomness goes through it, so a seed gives the
 * same numbers on every backend. Host draws (`nextDouble`, `nextCategorical`, …) and tensor draws (`normal`,
 * `uniform`, `randint`, `categorical` by Gumbel-max).
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.nextInt(0, 10);          // an integer in [0, 10)
 * const x = rng.normal([2, 3]); // (2, 3) standard normal tensor, same values on cpu, wasm and webgpu
 * const child = rng.fork('eval'); // an independent stream derived from the label
 * ```
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number | RngState = 0) {
    if (typeof seed === 'number') {
      if (!Number.isFinite(seed)) throw new AltarError('BAD_SEED', `Rng: seed must be a finite number, got ${seed}`);
      const sm = splitmix32((Math.floor(seed) >>> 0) ^ Math.floor(seed / 2 ** 32));
      this.s0 = sm();
      this.s1 = sm();
      this.s2 = sm();
      this.s3 = sm();
    } else {
      if (!Array.isArray(seed.s) || seed.s.length !== 4 || seed.s.some((w) => !Number.isInteger(w))) {
        throw new AltarError('BAD_SEED', `Rng: state must hold four integer words, got ${JSON.stringify(seed)}`);
      }
      [this.s0, this.s1, this.s2, this.s3] = seed.s.map((w) => w >>> 0) as [number, number, number, number];
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** The generator's state; `new Rng(state)` continues the exact stream (used by checkpoints). */
  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** An independent stream derived from this one's current state and a label; does not advance this. */
  fork(label: string): Rng {
    const h = hashString(label);
    const sm = splitmix32((this.s0 ^ Math.imul(this.s1, 31) ^ h) >>> 0);
    return new Rng({ s: [sm() ^ this.s2, sm() ^ this.s3, sm(), sm()] as [number, number, number, number] });
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul((Math.imul(this.s1, 5) << 7) | (Math.imul(this.s1, 5) >>> 25), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Uniform in the open interval (0, 1), exactly representable in float32 and never 0 or 1:
   * (k + 0.5) / 2^24. Safe to pass through log(-log(u)) after a float32 upload.
   */
  nextOpenUnit(): number {
    return ((this.nextU32() >>> 8) + 0.5) / 16777216;
  }

  /** Integer uniform on [lo, hi) without modulo bias. */
  nextInt(lo: number, hi: number): number {
    const n = hi - lo;
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || n <= 0 || n > 2 ** 32) {
      throw new AltarError('BAD_ARG', `Rng.nextInt: need integers lo < hi with hi - lo <= 2^32, got [${lo}, ${hi})`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return lo + (x % n);
  }

  /** Standard normal (Box–Muller, both values used). */
  nextNormal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = 1 - this.nextDouble(); // (0, 1]
    const u2 = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Sample an index from unnormalised non-negative weights (inverse CDF in float64). */
  nextCategorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    if (!(total > 0) || !Number.isFinite(total)) {
      throw new AltarError(
        'BAD_ARG',
        `Rng.nextCategorical: weights must be non-negative with a positive finite sum, got sum ${total}`,
      );
    }
    let u = this.nextDouble() * total;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (w > 0) last = i;
      u -= w;
      if (u < 0 && w > 0) return i;
    }
    return last; // rounding left u ≥ 0: the last index with positive weight
  }

  /** Fisher–Yates shuffle of an index range [0, n). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.nextInt(0, i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }

  uniformArray(size: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * this.nextDouble();
    return out;
  }

  normalArray(size: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = mean + std * this.nextNormal();
    return out;
  }

  /**
   * Uniform in the open interval (0, 1) with 53 random bits: (k + 0.5) / 2^53, never 0 or 1. Its tail reaches
   * 1 − 2^−54, where a 24-bit uniform stops at 1 − 2^−25 (what truncates float32 Gumbel noise).
   */
  nextOpenUnit53(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /**
   * Standard Gumbel noise −log(−log u) from 53-bit uniforms u ∈ (0, 1), computed in float64 and stored as
   * float32. A 24-bit uniform would cap the noise near 17.3 and starve tokens more than ~17 nats below the
   * leader (the float32 Gumbel-max trap of masked-diffusion sampling, Zheng et al. 2024); 53 bits reach ~37.
   */
  gumbelArray(size: number): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = -Math.log(-Math.log(this.nextOpenUnit53()));
    return out;
  }

  uniform(shape: number[], lo = 0, hi = 1): Tensor {
    return tensor(this.uniformArray(sizeOf(shape), lo, hi), shape, 'float32');
  }

  normal(shape: number[], mean = 0, std = 1): Tensor {
    return tensor(this.normalArray(sizeOf(shape), mean, std), shape, 'float32');
  }

  randint(shape: number[], lo: number, hi: number): Tensor {
    const n = sizeOf(shape);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextInt(lo, hi);
    return tensor(out, shape, 'int32');
  }

  /**
   * Categorical samples along the last axis of `logits` by the Gumbel-max trick:
   * argmax(logits + G), G ~ Gumbel(0, 1). Exact in distribution, no normalisation needed, stable for
   * any logit scale. Returns int32 of shape logits.shape[:-1].
   */
  categorical(logits: Tensor): Tensor {
    const g = this.gumbelArray(logits.size);
    return tidy(() => argMax(add(logits, tensor(g, logits.shape, 'float32')), -1));
  }
}

function sizeOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new AltarError('BAD_SHAPE', `Rng: bad shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}
