/**
 * tfjs tensors ↔ safetensors entries: float16 conversion, decoding one entry into a host array tfjs accepts,
 * and reading tensors back to the host to encode them (or decoding a file into tensors). The byte format itself
 * (encodeSafetensors / decodeSafetensors) is in safetensors.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DTYPE_SIZES,
  LITTLE_ENDIAN,
  SafetensorsError,
  bytesOf,
  decodeSafetensors,
  encodeSafetensors,
  numel,
  swapInPlace,
  type SafeTensor,
} from './safetensors.js';

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * float → IEEE half, round to nearest even.
 *
 * @example
 * ```ts
 * floatToHalf(1);  // 0x3c00
 * floatToHalf(-2); // 0xc000
 * ```
 */
export function floatToHalf(x: number): number {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0] as number;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let hm = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && hm & 1)) hm++;
    return sign | hm;
  }
  let hm = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && hm & 1)) {
    hm++;
    if (hm === 0x400) {
      hm = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | hm;
}

/**
 * Decode one entry into a host array tfjs accepts: float32 for float dtypes, int32 for ints (a value outside
 * int32 is a `SafetensorsError`), bool (0 or 1; any non-zero byte is true) for BOOL.
 *
 * @example
 * ```ts
 * const { values, dtype } = toHostArray({ dtype: 'F16', shape: [1], data: Uint8Array.from([0x00, 0x3c]) }); // Float32Array [1], 'float32'
 * ```
 */
export function toHostArray(t: SafeTensor): {
  values: Float32Array | Int32Array | Uint8Array;
  dtype: 'float32' | 'int32' | 'bool';
} {
  const b = new Uint8Array(t.data); // aligned copy
  if (!LITTLE_ENDIAN && DTYPE_SIZES[t.dtype] > 1) swapInPlace(b, DTYPE_SIZES[t.dtype]);
  const n = numel(t.shape);
  switch (t.dtype) {
    case 'F32':
      return { values: new Float32Array(b.buffer, 0, n), dtype: 'float32' };
    case 'F64':
      return { values: Float32Array.from(new Float64Array(b.buffer, 0, n)), dtype: 'float32' };
    case 'F16':
      return { values: Float32Array.from(new Uint16Array(b.buffer, 0, n), halfToFloat), dtype: 'float32' };
    case 'BF16': {
      const src = new Uint16Array(b.buffer, 0, n);
      const u = new Uint32Array(n);
      for (let i = 0; i < n; i++) u[i] = (src[i] as number) << 16;
      return { values: new Float32Array(u.buffer), dtype: 'float32' };
    }
    case 'I32':
      return { values: new Int32Array(b.buffer, 0, n), dtype: 'int32' };
    case 'I16':
      return { values: Int32Array.from(new Int16Array(b.buffer, 0, n)), dtype: 'int32' };
    case 'I8':
      return { values: Int32Array.from(new Int8Array(b.buffer, 0, n)), dtype: 'int32' };
    case 'U8':
      return { values: Int32Array.from(b), dtype: 'int32' };
    case 'U16':
      return { values: Int32Array.from(new Uint16Array(b.buffer, 0, n)), dtype: 'int32' };
    case 'BOOL':
      // a byte other than 0 is true; tfjs would otherwise keep 7 or 255 as a "bool" and ops would disagree
      return { values: b.map((x) => (x === 0 ? 0 : 1)), dtype: 'bool' };
    case 'U32': {
      const src = new Uint32Array(b.buffer, 0, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i] as number;
        if (v > 2147483647) throw new SafetensorsError(`U32 value ${v} does not fit int32 (element ${i})`);
        out[i] = v;
      }
      return { values: out, dtype: 'int32' };
    }
    case 'I64':
    case 'U64': {
      const src = t.dtype === 'I64' ? new BigInt64Array(b.buffer, 0, n) : new BigUint64Array(b.buffer, 0, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i] as bigint;
        if (v > 2147483647n || v < -2147483648n)
          throw new SafetensorsError(`${t.dtype} value ${v} does not fit int32 (element ${i})`);
        out[i] = Number(v);
      }
      return { values: out, dtype: 'int32' };
    }
  }
}

/**
 * Read tensors back to the host and encode. float32 tensors are stored as F32 (or F16 when asked).
 *
 * @example
 * ```ts
 * const bytes = await tensorsToSafetensors({ w: tf.ones([2, 2]) }, { note: 'demo' }, { float: 'F16' });
 * ```
 */
export async function tensorsToSafetensors(
  map: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
  opts: { float?: 'F32' | 'F16' } = {},
): Promise<Uint8Array> {
  const entries: Record<string, SafeTensor> = {};
  for (const [name, t] of Object.entries(map)) {
    const values = await t.data();
    let st: SafeTensor;
    if (t.dtype === 'float32') {
      if (opts.float === 'F16')
        st = { dtype: 'F16', shape: t.shape, data: bytesOf(Uint16Array.from(values as Float32Array, floatToHalf)) };
      else st = { dtype: 'F32', shape: t.shape, data: bytesOf(values as Float32Array) };
    } else if (t.dtype === 'int32') st = { dtype: 'I32', shape: t.shape, data: bytesOf(values as Int32Array) };
    else if (t.dtype === 'bool')
      st = { dtype: 'BOOL', shape: t.shape, data: bytesOf(Uint8Array.from(values as Uint8Array)) };
    else throw new SafetensorsError(`tensor '${name}': tfjs dtype ${t.dtype} has no safetensors encoding here`);
    entries[name] = st;
  }
  return encodeSafetensors(entries, metadata);
}

/**
 * Decode a file into tfjs tensors (caller owns and disposes them). Every entry is converted on the host
 * first (a value that does not fit, such as a U32 above 2^31 − 1, throws before any tensor exists), and a
 * failure while creating the tensors disposes the ones already made: an error never leaks a tensor.
 *
 * @example
 * ```ts
 * const { tensors } = safetensorsToTensors(bytes);
 * // ... use them ...
 * tf.dispose(Object.values(tensors)); // the caller owns them
 * ```
 */
export function safetensorsToTensors(bytes: Uint8Array): {
  tensors: Record<string, tf.Tensor>;
  metadata: Record<string, string>;
} {
  const file = decodeSafetensors(bytes);
  const host = Object.entries(file.tensors).map(([name, st]) => {
    try {
      return { name, shape: st.shape, ...toHostArray(st) };
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
      throw new SafetensorsError(`tensor '${name.slice(0, 60)}': ${e.message.slice('safetensors: '.length)}`);
    }
  });
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const h of host) tensors[h.name] = tf.tensor(h.values, h.shape, h.dtype);
  } catch (e) {
    tf.dispose(Object.values(tensors));
    throw e;
  }
  return { tensors, metadata: file.metadata };
}
