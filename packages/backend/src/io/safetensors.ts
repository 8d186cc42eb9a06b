/**
 * safetensors reader/writer (format of huggingface/safetensors, written from the spec):
 *   [8 bytes: N, unsigned little-endian u64][N bytes: UTF-8 JSON header][data buffer]
 * header = { "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [begin, end] } },
 * offsets relative to the data buffer, tensors row-major little-endian, packed without holes.
 * The writer pads the header with spaces to a multiple of 8 (as the reference implementation does)
 * and orders tensors by dtype size (largest first) then name. The reader validates everything
 * before allocating: header length against the file size and a 100 MB cap, JSON shape, no duplicate
 * keys, known dtypes, offsets in range, contiguous and non-overlapping, and byte size =
 * prod(shape)·sizeof(dtype). Every step is linear in the file size (no backtracking regex on the header,
 * no recursion over attacker-controlled nesting), so a hostile file is rejected as fast as it is read.
 * Tensor conversion (tfjs tensors ↔ entries, float16) is in safetensors-tensors.ts.
 */
import { AltarError } from '../errors.js';

/**
 * A safetensors file failed validation (code `BAD_SAFETENSORS`); the message says which check and which tensor.
 *
 * @example
 * ```ts
 * try {
 *   decodeSafetensors(bytes);
 * } catch (e) {
 *   if (e instanceof SafetensorsError) console.error(`not a valid checkpoint: ${e.message}`);
 * }
 * ```
 */
export class SafetensorsError extends AltarError {
  constructor(message: string) {
    super('BAD_SAFETENSORS', `safetensors: ${message}`);
  }
}

/**
 * Bytes per element of every safetensors dtype.
 *
 * @example
 * ```ts
 * const bytes = DTYPE_SIZES['F16'] * 1024; // 2048
 * ```
 */
export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;
/**
 * A safetensors dtype name (F64 … BOOL).
 *
 * @example
 * ```ts
 * const dtype: SafeDtype = 'BF16';
 * ```
 */
export type SafeDtype = keyof typeof DTYPE_SIZES;

/**
 * One tensor: dtype, shape and its raw little-endian bytes.
 *
 * @example
 * ```ts
 * const t: SafeTensor = { dtype: 'F32', shape: [2], data: bytesOf(Float32Array.from([1, 2])) };
 * encodeSafetensors({ t });
 * ```
 */
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Uint8Array;
}

/**
 * A decoded safetensors file: its tensors by name and its string metadata.
 *
 * @example
 * ```ts
 * const { tensors, metadata }: SafetensorsFile = decodeSafetensors(bytes);
 * Object.keys(tensors); // the weight names
 * ```
 */
export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

/**
 * The reference implementation's cap on the header size.
 *
 * @example
 * ```ts
 * if (headerLength > MAX_HEADER_BYTES) throw new Error('header too large');
 * ```
 */
export const MAX_HEADER_BYTES = 100_000_000;

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is SafeDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Raw little-endian bytes of a typed array (copy).
 *
 * @example
 * ```ts
 * bytesOf(Float32Array.from([1])); // Uint8Array [0, 0, 128, 63]
 * ```
 */
export function bytesOf(a: Float32Array | Int32Array | Uint8Array | Uint16Array | Float64Array): Uint8Array {
  const out = new Uint8Array(a.byteLength);
  out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  if (!LITTLE_ENDIAN && a.BYTES_PER_ELEMENT > 1) swapInPlace(out, a.BYTES_PER_ELEMENT);
  return out;
}

export function swapInPlace(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/**
 * Encode tensors (raw bytes) + optional string metadata into a safetensors file.
 *
 * @example
 * ```ts
 * const file = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: bytesOf(Float32Array.from([0.5])) } }, { format: 'pt' });
 * ```
 */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort((a, b) => {
    const da = DTYPE_SIZES[(tensors[a] as SafeTensor).dtype];
    const db = DTYPE_SIZES[(tensors[b] as SafeTensor).dtype];
    return db - da || (a < b ? -1 : a > b ? 1 : 0);
  });
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata '${k}' must be a string, got ${typeof v}`);
    }
    header['__metadata__'] = metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new SafetensorsError(`'__metadata__' is reserved and cannot name a tensor`);
    const t = tensors[name] as SafeTensor;
    if (!isDtype(t.dtype)) throw new SafetensorsError(`tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new SafetensorsError(`tensor '${name}': bad shape [${t.shape}]`);
    const size = numel(t.shape) * DTYPE_SIZES[t.dtype];
    if (t.data.byteLength !== size) {
      throw new SafetensorsError(
        `tensor '${name}': ${t.data.byteLength} bytes for ${t.dtype} shape [${t.shape}] (expected ${size})`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const name of names) {
    const t = tensors[name] as SafeTensor;
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Parse and validate a safetensors file. Tensor `data` are copies (aligned, independent of `bytes`).
 *
 * @example
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(readFileSync('model.safetensors'));
 * tensors['w']!.shape;
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) throw new SafetensorsError('expected a Uint8Array');
  if (bytes.byteLength < 8)
    throw new SafetensorsError(`file of ${bytes.byteLength} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES))
    throw new SafetensorsError(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.byteLength)
    throw new SafetensorsError(`header length ${n} runs past the end of the ${bytes.byteLength}-byte file`);
  if (n < 2) throw new SafetensorsError(`header length ${n} is too small for a JSON object`);
  // Trailing padding is trimmed by a backward scan over the bytes: linear, unlike a `/ +$/` regex, which
  // backtracks over every run of spaces (quadratic: 80,000 spaces took seconds).
  let end = 8 + n;
  while (end > 8 && bytes[end - 1] === 0x20) end--;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, end));
  } catch {
    throw new SafetensorsError('header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    throw new SafetensorsError(`header must start with '{', got ${JSON.stringify(text.slice(0, 8))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new SafetensorsError('header is not a JSON object');
  const dup = firstDuplicateKey(text);
  if (dup !== undefined) throw new SafetensorsError(`header has the key ${show(dup.key)} twice (in ${dup.where})`);
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw new SafetensorsError('__metadata__ must be a string→string map');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new SafetensorsError(`__metadata__[${show(k)}] must be a string, got ${show(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new SafetensorsError(`tensor ${show(name)}: entry is not an object`);
    const { dtype, shape, data_offsets: off } = raw as Record<string, unknown>;
    if (!isDtype(dtype)) throw new SafetensorsError(`tensor ${show(name)}: unknown dtype ${show(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        `tensor ${show(name)}: shape must be an array of non-negative integers, got ${show(shape)}`,
      );
    }
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(
        `tensor ${show(name)}: data_offsets must be two non-negative integers, got ${show(off)}`,
      );
    }
    const [begin, end] = off as [number, number];
    if (begin > end) throw new SafetensorsError(`tensor ${show(name)}: data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLen)
      throw new SafetensorsError(
        `tensor ${show(name)}: data_offsets [${begin}, ${end}] out of range (data buffer is ${dataLen} bytes)`,
      );
    const expected = numel(shape as number[]) * DTYPE_SIZES[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(
        `tensor ${show(name)}: ${end - begin} bytes for ${dtype} shape ${show(shape)} (expected ${expected})`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor)
      throw new SafetensorsError(
        `tensor ${show(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${cursor})`,
      );
    if (e.begin > cursor)
      throw new SafetensorsError(`tensor ${show(e.name)}: hole in the data buffer at bytes ${cursor}..${e.begin}`);
    cursor = e.end;
  }
  if (cursor !== dataLen) throw new SafetensorsError(`data buffer is ${dataLen} bytes but tensors cover ${cursor}`);
  const tensors: Record<string, SafeTensor> = {};
  for (const e of entries) {
    // a copy into a fresh Uint8Array: Node's Buffer.slice would return a view into (pooled) file memory
    tensors[e.name] = {
      dtype: e.dtype,
      shape: e.shape,
      data: new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end)),
    };
  }
  return { tensors, metadata };
}

/**
 * A value for an error message, never recursive and never long: a hostile header may nest a million
 * arrays deep (JSON.stringify would overflow the stack) or hold a megabyte-long name.
 */
function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 60 ? `'${v.slice(0, 60)}…' (${v.length} chars)` : `'${v}'`;
  if (Array.isArray(v)) {
    const flat = v.length <= 8 && v.every((x) => typeof x === 'number');
    return flat ? `[${v.map((x) => String(x)).join(', ')}]` : `an array of ${v.length} item(s)`;
  }
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/**
 * The first key that occurs twice in one object of a JSON text (already known to be valid JSON), and where.
 * JSON.parse keeps the last of two equal keys; another reader may keep the first, so a header with a
 * duplicate means two different files to two readers: refuse it. One pass, a stack of key sets, no recursion.
 */
function firstDuplicateKey(text: string): { key: string; where: string } | undefined {
  // One frame per open object (keys seen, the last key, its name) or array (keys: null).
  const stack: Array<{ keys: Set<string> | null; last: string; name: string }> = [];
  let expectKey = false;
  // Native scans skip padding and numbers. Inside an array only strings and brackets matter (objects
  // nested in arrays mean nothing to safetensors, so their keys are not tracked; brackets stay balanced).
  const inObject = /["{}[\],]/g;
  const inArray = /["[\]]/g;
  let pos = 0;
  for (;;) {
    const scan = stack[stack.length - 1]?.keys === null ? inArray : inObject;
    scan.lastIndex = pos;
    const m = scan.exec(text);
    if (m === null) break;
    const i = m.index;
    const c = text.charCodeAt(i);
    pos = i + 1;
    if (c === 0x22) {
      // a string: its closing quote is the first one preceded by an even run of backslashes
      let close = text.indexOf('"', i + 1);
      for (;;) {
        let k = close - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((close - 1 - k) % 2 === 0) break;
        close = text.indexOf('"', close + 1);
      }
      pos = close + 1;
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const raw = text.slice(i + 1, close);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) return { key, where: top.name };
        top.keys.add(key);
        top.last = key;
        expectKey = false;
      }
    } else if (c === 0x7b || c === 0x5b) {
      // { or [: name the new frame after the key it is the value of
      const parent = stack[stack.length - 1];
      const name = !parent ? 'the header' : stack.length === 1 ? `entry ${show(parent.last)}` : parent.name;
      stack.push({ keys: c === 0x7b ? new Set() : null, last: '', name });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else {
      expectKey = stack[stack.length - 1]?.keys != null;
    }
  }
  return undefined;
}
