/**
 * Minimal PNG codec (Node-only: uses node:zlib). Decodes 8-bit, non-interlaced grayscale (0),
 * RGB (2), palette (3), gray+alpha (4) and RGBA (6) images, with all five scanline filters
 * (PNG spec, W3C 2003, §9: None, Sub, Up, Average, Paeth). Encodes 8-bit gray/RGB/RGBA with filter 0
 * (used to dump samples and to build test fixtures).
 */
import { inflateSync, deflateSync } from 'node:zlib';
import { AltarError } from '@altar/backend';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/**
 * Pixels decoded from a PNG: width, height, channels and row-major bytes.
 *
 * @example
 * ```ts
 * const img: DecodedPng = decodePng(readFileSync('cat.png'), 'cat.png');
 * const { width, height, channels } = img;
 * ```
 */
export interface DecodedPng {
  width: number;
  height: number;
  /** 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA); palette images decode to 3 or 4 (with tRNS). */
  channels: 1 | 2 | 3 | 4;
  /** (H*W*C) row-major bytes. */
  data: Uint8Array;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Decode a PNG file's bytes. `label` names the file in error messages.
 *
 * @example
 * ```ts
 * const { width, height, data } = decodePng(readFileSync('digit.png'), 'digit.png');
 * ```
 */
export function decodePng(bytes: Uint8Array, label = 'PNG'): DecodedPng {
  const fail = (msg: string): never => {
    throw new AltarError('BAD_PNG', `decodePng(${label}): ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array');
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) fail('not a PNG file (bad signature)');
  let o = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (o + 12 <= bytes.length) {
    const len = readU32(bytes, o);
    const type = String.fromCharCode(bytes[o + 4]!, bytes[o + 5]!, bytes[o + 6]!, bytes[o + 7]!);
    const dataStart = o + 8;
    const dataEnd = dataStart + len;
    if (dataEnd + 4 > bytes.length) fail(`chunk ${type} runs past the end of the file`);
    if (crc32(bytes, o + 4, dataEnd) !== readU32(bytes, dataEnd)) fail(`CRC mismatch in chunk ${type}`);
    const data = bytes.subarray(dataStart, dataEnd);
    if (type === 'IHDR') {
      width = readU32(data, 0);
      height = readU32(data, 4);
      const bitDepth = data[8]!;
      colorType = data[9]!;
      const interlace = data[12]!;
      if (bitDepth !== 8) fail(`bit depth ${bitDepth} is not supported (only 8)`);
      if (![0, 2, 3, 4, 6].includes(colorType)) fail(`color type ${colorType} is not valid`);
      if (interlace !== 0) fail('interlaced (Adam7) PNGs are not supported');
      if (width < 1 || height < 1) fail(`bad size ${width}x${height}`);
    } else if (type === 'PLTE') {
      palette = data.slice();
    } else if (type === 'tRNS') {
      trns = data.slice();
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
    o = dataEnd + 4;
  }
  if (colorType < 0) fail('missing IHDR chunk');
  if (!sawEnd) fail('missing IEND chunk (truncated file?)');
  if (idat.length === 0) fail('no IDAT chunks');
  const bpp = colorType === 0 ? 1 : colorType === 2 ? 3 : colorType === 3 ? 1 : colorType === 4 ? 2 : 4;
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(inflateSync(Buffer.concat(idat)));
  } catch (e) {
    return fail(`zlib inflate failed: ${(e as Error).message}`);
  }
  const stride = width * bpp;
  if (raw.length < height * (stride + 1))
    fail(`image data too short: ${raw.length} bytes for ${width}x${height}x${bpp}`);
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const prev = dst - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? px[dst + i - bpp]! : 0;
      const b = y > 0 ? px[prev + i]! : 0;
      const c = i >= bpp && y > 0 ? px[prev + i - bpp]! : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          return fail(`unknown filter type ${filter} on row ${y}`);
      }
      px[dst + i] = v & 0xff;
    }
  }
  if (colorType === 3) {
    if (!palette) fail('palette image without PLTE chunk');
    const hasAlpha = trns !== null;
    const C = hasAlpha ? 4 : 3;
    const out = new Uint8Array(width * height * C);
    for (let i = 0; i < width * height; i++) {
      const idx = px[i]!;
      if (idx * 3 + 2 >= palette!.length) fail(`palette index ${idx} out of range`);
      out[i * C] = palette![idx * 3]!;
      out[i * C + 1] = palette![idx * 3 + 1]!;
      out[i * C + 2] = palette![idx * 3 + 2]!;
      if (hasAlpha) out[i * C + 3] = idx < trns!.length ? trns![idx]! : 255;
    }
    return { width, height, channels: C, data: out };
  }
  const channels = (colorType === 0 ? 1 : colorType === 2 ? 3 : colorType === 4 ? 2 : 4) as 1 | 2 | 3 | 4;
  return { width, height, channels, data: px };
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/**
 * Encode (H*W*C) bytes, C ∈ {1, 2, 3, 4}, as an 8-bit PNG (filter 0).
 *
 * @example
 * ```ts
 * writeFileSync('sample.png', encodePng(16, 16, 1, floatsToBytes(sampleFloats)));
 * ```
 */
export function encodePng(width: number, height: number, channels: 1 | 2 | 3 | 4, data: Uint8Array): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new AltarError('BAD_ARG', `encodePng: bad size ${width}x${height}`);
  }
  if (![1, 2, 3, 4].includes(channels))
    throw new AltarError('BAD_ARG', `encodePng: channels must be 1-4, got ${channels}`);
  if (data.length !== width * height * channels) {
    throw new AltarError(
      'BAD_ARG',
      `encodePng: expected ${width}*${height}*${channels} = ${width * height * channels} bytes, got ${data.length}`,
    );
  }
  const colorType = channels === 1 ? 0 : channels === 2 ? 4 : channels === 3 ? 2 : 6;
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Convert decoded pixels to 1 (luma, ITU-R BT.601) or 3 channels; alpha is composited over black.
 *
 * @example
 * ```ts
 * const gray = toChannels(decodePng(bytes), 1); // (H*W) luma bytes
 * ```
 */
export function toChannels(img: DecodedPng, channels: 1 | 3): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * channels);
  const C = img.channels;
  for (let i = 0; i < n; i++) {
    const alpha = C === 2 ? img.data[i * 2 + 1]! / 255 : C === 4 ? img.data[i * 4 + 3]! / 255 : 1;
    const r = img.data[i * C]!;
    const g = C >= 3 ? img.data[i * C + 1]! : r;
    const b = C >= 3 ? img.data[i * C + 2]! : r;
    if (channels === 1) out[i] = Math.round((C >= 3 ? 0.299 * r + 0.587 * g + 0.114 * b : r) * alpha);
    else {
      out[i * 3] = Math.round(r * alpha);
      out[i * 3 + 1] = Math.round(g * alpha);
      out[i * 3 + 2] = Math.round(b * alpha);
    }
  }
  return out;
}
