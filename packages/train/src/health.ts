/**
 * Finiteness of checkpoint weights, read from the safetensors bytes on the host (no tensors made): `eval` and
 * `sample` refuse non-finite weights naming the tensor, and checkpoint pruning keeps the newest finite checkpoint.
 */
import { decodeSafetensors } from '@altar/backend';

/**
 * Where the first NaN or ±Infinity of a weight file is: the tensor's name, the flat index and the value.
 *
 * @example
 * ```ts
 * const bad: NonFiniteEntry | null = firstNonFinite(files['model.safetensors']!);
 * if (bad) logger.warn(`'${bad.tensor}'[${bad.index}] is ${bad.value}`);
 * ```
 */
export interface NonFiniteEntry {
  tensor: string;
  index: number;
  value: number;
}

/**
 * The first non-finite value of a safetensors file's float tensors (F64, F32, F16, BF16), in the file's tensor
 * order; null when every value is finite. Integer tensors are always finite. Throws `SafetensorsError` on a
 * malformed file.
 *
 * @example
 * ```ts
 * firstNonFinite(readFileSync('run/step-00000600/ema.safetensors')); // null, or { tensor: 'lmHead.w', index: 3, value: NaN }
 * ```
 */
export function firstNonFinite(bytes: Uint8Array): NonFiniteEntry | null {
  const { tensors } = decodeSafetensors(bytes);
  for (const [name, t] of Object.entries(tensors)) {
    const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const half = (i: number, expMask: number) => {
      const h = v.getUint16(2 * i, true);
      if ((h & expMask) !== expMask) return null;
      const mantissa = expMask === 0x7c00 ? h & 0x3ff : h & 0x7f;
      return mantissa !== 0 ? NaN : h & 0x8000 ? -Infinity : Infinity;
    };
    if (t.dtype === 'F32' || t.dtype === 'F64') {
      const size = t.dtype === 'F32' ? 4 : 8;
      for (let i = 0; i < t.data.byteLength / size; i++) {
        const x = size === 4 ? v.getFloat32(4 * i, true) : v.getFloat64(8 * i, true);
        if (!Number.isFinite(x)) return { tensor: name, index: i, value: x };
      }
    } else if (t.dtype === 'F16' || t.dtype === 'BF16') {
      const mask = t.dtype === 'F16' ? 0x7c00 : 0x7f80;
      for (let i = 0; i < t.data.byteLength / 2; i++) {
        const x = half(i, mask);
        if (x !== null) return { tensor: name, index: i, value: x };
      }
    }
  }
  return null;
}
