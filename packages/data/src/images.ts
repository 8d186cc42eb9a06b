/**
 * Procedural images for continuous diffusion: simple shapes (disc, ring, square, bar, cross, triangle)
 * and seven-segment digit glyphs, rendered with 4×4 supersampled coverage (anti-aliased), seeded.
 * Pixel convention: 8-bit bytes b ∈ {0..255} and floats f = b / 127.5 − 1 ∈ [−1, 1] (the DDPM
 * convention, Ho et al. 2020 §3.3, so the discretised decoder's bins are exact); layout (B, H, W, C).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import type { VectorSource } from './gmm.js';
import { rejectUnknownKeys, requireInt } from './validate.js';

/**
 * The procedural shapes {@link generateShapeImages} can draw.
 *
 * @example
 * ```ts
 * generateShapeImages({ size: 16, channels: 1, count: 8, seed: 0, kinds: SHAPE_KINDS.slice(0, 2) }); // discs and rings
 * ```
 */
export const SHAPE_KINDS = ['disc', 'ring', 'square', 'bar', 'cross', 'triangle', 'digit'] as const;
/**
 * One of {@link SHAPE_KINDS}.
 *
 * @example
 * ```ts
 * const kinds: ShapeKind[] = ['square', 'cross'];
 * ```
 */
export type ShapeKind = (typeof SHAPE_KINDS)[number];

/**
 * Image size, channels and shape kinds of the procedural image sources.
 *
 * @example
 * ```ts
 * const config: ShapeImageConfig = { size: 16, channels: 3, kinds: ['disc', 'digit'] };
 * new ShapeImageSource(config);
 * ```
 */
export interface ShapeImageConfig {
  /** Height = width in pixels (16 or 32 typical; any 8..256). */
  size: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Which shapes to draw (default all). */
  kinds?: readonly ShapeKind[];
}

/**
 * A batch of images as bytes and as floats in [−1, 1], with the (B, H, W, C) shape and a label per image.
 *
 * @example
 * ```ts
 * const { floats, shape }: ImageBatch = generateShapeImages({ size: 16, channels: 1, count: 4, seed: 0 });
 * const x = tf.tensor4d(floats, shape); // (4, 16, 16, 1)
 * ```
 */
export interface ImageBatch {
  /** (B*H*W*C) bytes, row-major (B, H, W, C). */
  bytes: Uint8Array;
  /** Same pixels as floats in [−1, 1]: f = b / 127.5 − 1. */
  floats: Float32Array;
  shape: [number, number, number, number];
  /** Per image: index into SHAPE_KINDS, and for digits 10 + digit. */
  labels: Int32Array;
}

/** Seven-segment layout: segments a..g as [x0, y0, x1, y1] in a unit glyph box. */
const SEGMENTS: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 1, 0], // a top
  [1, 0, 1, 0.5], // b upper right
  [1, 0.5, 1, 1], // c lower right
  [0, 1, 1, 1], // d bottom
  [0, 0.5, 0, 1], // e lower left
  [0, 0, 0, 0.5], // f upper left
  [0, 0.5, 1, 0.5], // g middle
];
const DIGIT_SEGMENTS = ['abcdef', 'bc', 'abged', 'abgcd', 'fgbc', 'afgcd', 'afgedc', 'abc', 'abcdefg', 'abcdfg'];

function segmentDistance(px: number, py: number, x0: number, y0: number, x1: number, y1: number): number {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const u = len2 > 0 ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len2)) : 0;
  return Math.hypot(px - (x0 + u * dx), py - (y0 + u * dy));
}

/** An inside-test in pixel coordinates for one randomly placed shape. */
interface PlacedShape {
  inside: (x: number, y: number) => boolean;
  label: number;
  /** Conservative bounding box [x0, y0, x1, y1] in pixels (pixels outside are skipped). */
  box?: [number, number, number, number];
}

function makeShape(kind: ShapeKind, size: number, rng: Rng): PlacedShape {
  const S = size;
  const cx = S * (0.35 + 0.3 * rng.nextDouble());
  const cy = S * (0.35 + 0.3 * rng.nextDouble());
  const r = S * (0.18 + 0.14 * rng.nextDouble());
  const theta = Math.PI * rng.nextDouble();
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const rot = (x: number, y: number): [number, number] => [c * (x - cx) + s * (y - cy), -s * (x - cx) + c * (y - cy)];
  const label = SHAPE_KINDS.indexOf(kind);
  const box: [number, number, number, number] = [
    cx - 1.75 * r - 1,
    cy - 1.75 * r - 1,
    cx + 1.75 * r + 1,
    cy + 1.75 * r + 1,
  ];
  switch (kind) {
    case 'disc':
      return { box, inside: (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r, label };
    case 'ring': {
      const rin = r * 0.6;
      return {
        box,
        inside: (x, y) => {
          const d2 = (x - cx) ** 2 + (y - cy) ** 2;
          return d2 <= r * r && d2 >= rin * rin;
        },
        label,
      };
    }
    case 'square':
      return {
        box,
        inside: (x, y) => {
          const [u, v] = rot(x, y);
          return Math.abs(u) <= r * 0.85 && Math.abs(v) <= r * 0.85;
        },
        label,
      };
    case 'bar': {
      const w = Math.max(1, S * 0.07);
      return {
        box,
        inside: (x, y) => {
          const [u, v] = rot(x, y);
          return Math.abs(u) <= r * 1.4 && Math.abs(v) <= w;
        },
        label,
      };
    }
    case 'cross': {
      const w = Math.max(1, S * 0.06);
      return {
        box,
        inside: (x, y) => {
          const [u, v] = rot(x, y);
          return (Math.abs(u) <= r * 1.2 && Math.abs(v) <= w) || (Math.abs(v) <= r * 1.2 && Math.abs(u) <= w);
        },
        label,
      };
    }
    case 'triangle': {
      const verts = [0, 1, 2].map((i) => {
        const a = theta + (2 * Math.PI * i) / 3;
        return [cx + r * 1.2 * Math.cos(a), cy + r * 1.2 * Math.sin(a)] as const;
      });
      return {
        box,
        inside: (x, y) => {
          let sign = 0;
          for (let i = 0; i < 3; i++) {
            const [ax, ay] = verts[i]!;
            const [bx, by] = verts[(i + 1) % 3]!;
            const cr = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
            const sg = cr >= 0 ? 1 : -1;
            if (sign === 0) sign = sg;
            else if (sg !== sign) return false;
          }
          return true;
        },
        label,
      };
    }
    case 'digit': {
      const digit = rng.nextInt(0, 10);
      const segs = DIGIT_SEGMENTS[digit]!.split('').map((ch) => SEGMENTS[ch.charCodeAt(0) - 97]!);
      const gw = S * (0.3 + 0.1 * rng.nextDouble());
      const gh = gw * 1.8;
      const gx = S * 0.5 - gw / 2 + (rng.nextDouble() - 0.5) * (S - gw) * 0.4;
      const gy = S * 0.5 - gh / 2 + (rng.nextDouble() - 0.5) * Math.max(0, S - gh) * 0.4;
      const stroke = Math.max(0.8, S * 0.055);
      return {
        box: [gx - stroke - 1, gy - stroke - 1, gx + gw + stroke + 1, gy + gh + stroke + 1],
        inside: (x, y) => {
          const u = (x - gx) / gw;
          const v = (y - gy) / gh;
          for (const [x0, y0, x1, y1] of segs) {
            if (segmentDistance(u * gw, v * gh, x0 * gw, y0 * gh, x1 * gw, y1 * gh) <= stroke) return true;
          }
          return false;
        },
        label: 10 + digit,
      };
    }
    default:
      throw new ConfigError('images.kinds', `unknown shape ${JSON.stringify(kind)}`);
  }
}

function resolveImageConfig(config: ShapeImageConfig): Required<ShapeImageConfig> {
  if (typeof config !== 'object' || config === null) throw new ConfigError('images', 'expected a config object');
  rejectUnknownKeys('images', config, ['size', 'channels', 'kinds']);
  requireInt('images.size', config.size, 8, 256);
  if (config.channels !== 1 && config.channels !== 3)
    throw new ConfigError('images.channels', `expected 1 or 3, got ${String(config.channels)}`);
  const kinds = config.kinds ?? SHAPE_KINDS;
  if (!Array.isArray(kinds) || kinds.length === 0)
    throw new ConfigError('images.kinds', 'expected a non-empty array of shape kinds');
  kinds.forEach((k, i) => {
    if (!SHAPE_KINDS.includes(k))
      throw new ConfigError(
        `images.kinds[${i}]`,
        `unknown shape ${JSON.stringify(k)}; expected one of ${SHAPE_KINDS.join(', ')}`,
      );
  });
  return { size: config.size, channels: config.channels, kinds };
}

/** Render `count` images into bytes (B, H, W, C). Background 0; shape colour random (bright). */
function render(c: Required<ShapeImageConfig>, count: number, rng: Rng): { bytes: Uint8Array; labels: Int32Array } {
  const S = c.size;
  const C = c.channels;
  const bytes = new Uint8Array(count * S * S * C);
  const labels = new Int32Array(count);
  const SS = 4; // supersampling per axis
  for (let b = 0; b < count; b++) {
    const kind = c.kinds[rng.nextInt(0, c.kinds.length)]!;
    const shape = makeShape(kind, S, rng);
    labels[b] = shape.label;
    const [bx0, by0, bx1, by1] = shape.box ?? [0, 0, S, S];
    const xlo = Math.max(0, Math.floor(bx0));
    const xhi = Math.min(S, Math.ceil(bx1));
    const ylo = Math.max(0, Math.floor(by0));
    const yhi = Math.min(S, Math.ceil(by1));
    const colour = C === 1 ? [160 + 95 * rng.nextDouble()] : [0, 1, 2].map(() => 60 + 195 * rng.nextDouble());
    for (let y = ylo; y < yhi; y++) {
      for (let x = xlo; x < xhi; x++) {
        let hits = 0;
        for (let sy = 0; sy < SS; sy++)
          for (let sx = 0; sx < SS; sx++) if (shape.inside(x + (sx + 0.5) / SS, y + (sy + 0.5) / SS)) hits++;
        if (hits === 0) continue;
        const cov = hits / (SS * SS);
        for (let ch = 0; ch < C; ch++) bytes[((b * S + y) * S + x) * C + ch] = Math.round(cov * colour[ch]!);
      }
    }
  }
  return { bytes, labels };
}

/**
 * f = b / 127.5 − 1.
 *
 * @example
 * ```ts
 * bytesToFloats(Uint8Array.from([0, 255])); // Float32Array [-1, 1]
 * ```
 */
export function bytesToFloats(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 127.5 - 1;
  return out;
}

/**
 * b = round((f + 1) · 127.5) clamped to [0, 255].
 *
 * @example
 * ```ts
 * floatsToBytes([-1, 0, 1, 2]); // Uint8Array [0, 128, 255, 255]
 * ```
 */
export function floatsToBytes(floats: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(floats.length);
  for (let i = 0; i < floats.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((floats[i]! + 1) * 127.5)));
  return out;
}

/**
 * Generate a batch of shape images from a seed (deterministic).
 *
 * @example
 * ```ts
 * const batch = generateShapeImages({ size: 32, channels: 3, count: 64, seed: 1 }); // the same 64 images for seed 1
 * ```
 */
export function generateShapeImages(options: ShapeImageConfig & { count: number; seed: number }): ImageBatch {
  const { count, seed, ...rest } = options;
  requireInt('images.count', count, 1);
  if (typeof seed !== 'number' || !Number.isFinite(seed))
    throw new ConfigError('images.seed', `expected a finite number, got ${String(seed)}`);
  const c = resolveImageConfig(rest);
  const { bytes, labels } = render(c, count, new Rng(seed));
  return { bytes, floats: bytesToFloats(bytes), shape: [count, c.size, c.size, c.channels], labels };
}

/**
 * An endless source of procedural images; `dim` = H·W·C.
 *
 * @example
 * ```ts
 * const source = new ShapeImageSource({ size: 16, channels: 1 });
 * const x = source.sampleTensor(8, new Rng(0)); // (8, 16, 16, 1) in [−1, 1]
 * ```
 */
export class ShapeImageSource implements VectorSource {
  readonly name: string;
  readonly dim: number;
  readonly size: number;
  readonly channels: 1 | 3;
  private readonly config: Required<ShapeImageConfig>;

  constructor(config: ShapeImageConfig) {
    this.config = resolveImageConfig(config);
    this.size = this.config.size;
    this.channels = this.config.channels;
    this.dim = this.size * this.size * this.channels;
    this.name = `shapes(${this.size}x${this.size}x${this.channels})`;
  }

  /** Bytes and labels for B images drawn with `rng`. */
  sampleBytes(batchSize: number, rng: Rng): { bytes: Uint8Array; labels: Int32Array } {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new AltarError(
        'BAD_ARG',
        `ShapeImageSource.sampleBytes: batchSize must be a positive integer, got ${batchSize}`,
      );
    return render(this.config, batchSize, rng);
  }

  /** (B*H*W*C) floats in [−1, 1]. */
  sampleBatch(batchSize: number, rng: Rng): Float32Array {
    return bytesToFloats(this.sampleBytes(batchSize, rng).bytes);
  }

  /** (B, H, W, C) float32 tensor in [−1, 1]; the caller disposes it. */
  sampleTensor(batchSize: number, rng: Rng): tf.Tensor4D {
    return tf.tensor4d(this.sampleBatch(batchSize, rng), [batchSize, this.size, this.size, this.channels], 'float32');
  }
}
