/**
 * A folder of PNG files as an image source (Node-only). Files are listed once and decoded on demand,
 * one batch at a time, so a folder of any size streams; nothing is loaded whole into tensors.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { bytesToFloats, type ImageBatch } from './images.js';
import type { VectorSource } from './gmm.js';
import { decodePng, toChannels } from './png.js';

/**
 * Options of the PNG folder loaders: output channels and the required size.
 *
 * @example
 * ```ts
 * new PngFolderSource('data/faces', { channels: 3, size: 32 });
 * ```
 */
export interface PngFolderOptions {
  /** Output channels: 1 (luma) or 3 (RGB). Default: 3. */
  channels?: 1 | 3;
  /** Required height = width; every file must match (no resizing). Default: the first file's size. */
  size?: number;
}

/**
 * The sorted list of *.png files in `dir` (non-recursive). Throws if there are none.
 *
 * @example
 * ```ts
 * listPngFiles('data/faces'); // ['data/faces/0001.png', …], sorted
 * ```
 */
export function listPngFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir);
  } catch (e) {
    throw new AltarError('BAD_PATH', `PNG folder ${dir}: cannot read (${(e as Error).message})`);
  }
  const files = names
    .filter((n) => n.toLowerCase().endsWith('.png'))
    .sort()
    .map((n) => join(dir, n));
  if (files.length === 0) throw new AltarError('BAD_PATH', `PNG folder ${dir}: contains no .png files`);
  return files;
}

/**
 * Images read from a folder of PNG files on demand (a VectorSource): every file the same size, no resizing.
 *
 * @example
 * ```ts
 * const source = new PngFolderSource('data/faces', { channels: 3 });
 * const x = source.sampleTensor(16, new Rng(0)); // (16, H, W, 3) in [−1, 1]
 * ```
 */
export class PngFolderSource implements VectorSource {
  readonly name: string;
  readonly files: readonly string[];
  readonly size: number;
  readonly channels: 1 | 3;
  readonly dim: number;

  constructor(dir: string, options: PngFolderOptions = {}) {
    const channels = options.channels ?? 3;
    if (channels !== 1 && channels !== 3)
      throw new AltarError('BAD_ARG', `PngFolderSource: channels must be 1 or 3, got ${String(channels)}`);
    this.files = listPngFiles(dir);
    const first = decodePng(new Uint8Array(readFileSync(this.files[0]!)), this.files[0]);
    if (first.width !== first.height) {
      throw new AltarError(
        'BAD_PNG',
        `PngFolderSource: ${this.files[0]} is ${first.width}x${first.height}; images must be square`,
      );
    }
    this.size = options.size ?? first.width;
    this.channels = channels;
    this.dim = this.size * this.size * channels;
    this.name = `png(${dir}, ${this.files.length} files)`;
  }

  get length(): number {
    return this.files.length;
  }

  /** Decode file i into (H*W*C) bytes, checking its size. */
  readBytes(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.files.length) {
      throw new AltarError('BAD_ARG', `PngFolderSource.readBytes: index ${i} outside [0, ${this.files.length})`);
    }
    const file = this.files[i]!;
    const img = decodePng(new Uint8Array(readFileSync(file)), file);
    if (img.width !== this.size || img.height !== this.size) {
      throw new AltarError(
        'BAD_PNG',
        `PngFolderSource: ${file} is ${img.width}x${img.height}, expected ${this.size}x${this.size}`,
      );
    }
    return toChannels(img, this.channels);
  }

  /** Decode the given files into one batch (B, H, W, C). Labels are the file indices. */
  readBatch(indices: ArrayLike<number>): ImageBatch {
    const B = indices.length;
    const bytes = new Uint8Array(B * this.dim);
    const labels = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      bytes.set(this.readBytes(indices[b]!), b * this.dim);
      labels[b] = indices[b]!;
    }
    return { bytes, floats: bytesToFloats(bytes), shape: [B, this.size, this.size, this.channels], labels };
  }

  /** B files drawn uniformly with replacement; floats in [−1, 1]. */
  sampleBatch(batchSize: number, rng: Rng): Float32Array {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new AltarError(
        'BAD_ARG',
        `PngFolderSource.sampleBatch: batchSize must be a positive integer, got ${batchSize}`,
      );
    const idx = Int32Array.from({ length: batchSize }, () => rng.nextInt(0, this.files.length));
    return this.readBatch(idx).floats;
  }

  sampleTensor(batchSize: number, rng: Rng): tf.Tensor4D {
    return tf.tensor4d(this.sampleBatch(batchSize, rng), [batchSize, this.size, this.size, this.channels], 'float32');
  }
}

/**
 * Decode every PNG in a (small) folder into host arrays. For large folders use PngFolderSource.
 *
 * @example
 * ```ts
 * const { floats, shape, files } = loadPngFolder('data/icons', { channels: 1 });
 * ```
 */
export function loadPngFolder(dir: string, options: PngFolderOptions = {}): ImageBatch & { files: string[] } {
  const src = new PngFolderSource(dir, options);
  const batch = src.readBatch(Int32Array.from({ length: src.length }, (_, i) => i));
  return { ...batch, files: [...src.files] };
}
