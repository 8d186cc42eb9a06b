/**
 * Mutations of a safetensors file for the reader's fuzz suite (safetensors-fuzz.ts runs them). Each kind
 * takes the current bytes and a seeded {@link Rng} and returns new bytes; header-level kinds parse the
 * current header, edit it as an object or as text, and write a fresh length prefix (so the damage is in
 * the header itself, not only in the prefix). When the current header does not parse (a stacked mutation
 * after a byte flip), a header-level kind falls back to a byte flip. The 18 kinds:
 *
 *  1. `flip-bits`            flip 1–8 random bits anywhere in the file
 *  2. `set-header-byte`      set 1–4 header bytes to random values (structure, quotes, UTF-8 damage)
 *  3. `truncate`             cut the file at a random length (inside the prefix, header or data)
 *  4. `insert-bytes`         insert 1–64 random bytes anywhere, or append them after the data
 *  5. `delete-bytes`         remove a random range of 1–64 bytes
 *  6. `header-length-lie`    the u64 prefix says 0, 1, N ± 1, N ± 8, the file size, 2^32, 2^53, 2^64 − 1, the cap ± 1
 *  7. `dtype-relabel`        another dtype, usually with the shape rescaled so that the byte size still fits
 *                            (F32 → I32, U32, F16 [.., 2k], U8 [.., 4k], F64 [.., k/2], BOOL, …)
 *  8. `dtype-garbage`        unknown dtype names and non-strings ("F33", "f32", "", 32, null, ["F32"], {})
 *  9. `offsets-out-of-range` an end (or begin) past the data buffer, by 1 byte or by 2^40
 * 10. `offsets-overlap`      two tensors' ranges overlap, coincide or are swapped
 * 11. `offsets-malformed`    negative, reversed, fractional, 1e400 (Infinity), NaN/Infinity tokens, strings,
 *                            three numbers, one number, missing
 * 12. `shape-nonfinite`      a shape entry NaN, Infinity, -Infinity, 1e400, -1, 1.5, -0, "2", null, 2^53, true
 * 13. `shape-reshape`        a reshape with the same element count (valid), a different count, [], [0],
 *                            a huge dimension beside a zero, 20,000 dimensions
 * 14. `duplicate-key`        a tensor name, `dtype`, `data_offsets` or `__metadata__` written twice
 * 15. `entry-edit`           a tensor renamed (valid), removed (a hole), added (empty or overlapping), or its
 *                            entry replaced by a number, a string, an array or null; extra keys in an entry
 * 16. `metadata-mutation`    __metadata__ a non-object, holding numbers / nested objects / long strings / odd keys
 * 17. `json-syntax`          JSON-level damage and stress: a deleted or inserted structural character, a
 *                            20,000-deep nested array, an 80,000-space run inside the header, escaped names,
 *                            a BOM, a trailing NUL, a header that is only padding
 * 18. `stacked`              2–4 of the kinds above applied in sequence
 *
 * @module
 */
import type { Rng } from '../rng.js';
import { DTYPE_SIZES } from '../io/safetensors.js';

/**
 * The 18 mutation kinds of the safetensors fuzzer, in the order of the module's list.
 *
 * @example
 * ```ts
 * for (const kind of SAFETENSORS_MUTATIONS) mutateSafetensors(bytes, rng, kind);
 * ```
 */
export const SAFETENSORS_MUTATIONS = [
  'flip-bits',
  'set-header-byte',
  'truncate',
  'insert-bytes',
  'delete-bytes',
  'header-length-lie',
  'dtype-relabel',
  'dtype-garbage',
  'offsets-out-of-range',
  'offsets-overlap',
  'offsets-malformed',
  'shape-nonfinite',
  'shape-reshape',
  'duplicate-key',
  'entry-edit',
  'metadata-mutation',
  'json-syntax',
  'stacked',
] as const;

/**
 * One of the 18 mutation kinds.
 *
 * @example
 * ```ts
 * const kind: SafetensorsMutation = 'header-length-lie';
 * ```
 */
export type SafetensorsMutation = (typeof SAFETENSORS_MUTATIONS)[number];

type Entry = { dtype?: unknown; shape?: unknown; data_offsets?: unknown; [k: string]: unknown };
type Header = Record<string, unknown>;

/** A raw JSON token to splice into a stringified header (NaN, Infinity: not expressible as JS values). */
class Raw {
  constructor(readonly text: string) {}
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.nextInt(0, xs.length)] as T;

function headerLength(bytes: Uint8Array): number {
  if (bytes.length < 8) return -1;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n > BigInt(bytes.length - 8) ? -1 : Number(n);
}

/** The current header as an object and the data buffer, or null when the file has no parseable header. */
function parseFile(bytes: Uint8Array): { header: Header; data: Uint8Array } | null {
  const n = headerLength(bytes);
  if (n < 2) return null;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    return { header: v as Header, data: bytes.subarray(8 + n) };
  } catch {
    return null;
  }
}

/** JSON text of a header whose values may hold {@link Raw} tokens. */
function stringify(header: Header): string {
  const raws: string[] = [];
  const text = JSON.stringify(header, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `\u0000RAW${raws.length - 1}\u0000`;
    }
    return v;
  });
  return text
    .split(/"\\u0000RAW(\d+)\\u0000"/)
    .map((part, i) => (i % 2 === 1 ? (raws[Number(part)] as string) : part))
    .join('');
}

/** [u64 N][header text padded with spaces to a multiple of 8][data] — what the writer produces. */
function assemble(headerText: string | Uint8Array, data: Uint8Array): Uint8Array {
  const h = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const padded = Math.ceil(h.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(h, 8);
  out.fill(0x20, 8 + h.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

function tensorNames(h: Header): string[] {
  return Object.keys(h).filter((k) => k !== '__metadata__' && typeof h[k] === 'object' && h[k] !== null);
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextInt(0, 256);
  return b;
}

function flipBits(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  if (out.length === 0) return out;
  for (let k = rng.nextInt(1, 9); k > 0; k--) {
    const i = rng.nextInt(0, out.length);
    out[i] = (out[i] as number) ^ (1 << rng.nextInt(0, 8));
  }
  return out;
}

/** Edit a tensor entry of the parsed header (falls back to a bit flip when there is none). */
function editEntry(bytes: Uint8Array, rng: Rng, edit: (e: Entry, h: Header, name: string) => void): Uint8Array {
  const f = parseFile(bytes);
  const names = f ? tensorNames(f.header) : [];
  if (!f || names.length === 0) return flipBits(bytes, rng);
  const name = pick(rng, names);
  edit(f.header[name] as Entry, f.header, name);
  return assemble(stringify(f.header), f.data);
}

const DTYPE_BYTES: Record<string, number> = DTYPE_SIZES;

function relabel(e: Entry, rng: Rng): void {
  const to = pick(rng, Object.keys(DTYPE_BYTES));
  const from = typeof e.dtype === 'string' && Object.hasOwn(DTYPE_BYTES, e.dtype) ? DTYPE_BYTES[e.dtype]! : 4;
  e.dtype = to;
  const shape = Array.isArray(e.shape) ? [...(e.shape as unknown[])] : [];
  if (rng.nextDouble() < 0.15 || shape.length === 0) return; // keep the shape: usually a size mismatch
  const last = shape[shape.length - 1];
  if (typeof last !== 'number') return;
  const scaled = (last * from) / (DTYPE_BYTES[to] as number);
  shape[shape.length - 1] = Number.isInteger(scaled) ? scaled : last;
  e.shape = shape;
}

const HUGE = 2 ** 40;

function mutateOnce(kind: SafetensorsMutation, bytes: Uint8Array, rng: Rng): Uint8Array {
  const n = Math.max(0, headerLength(bytes));
  switch (kind) {
    case 'flip-bits':
      return flipBits(bytes, rng);
    case 'set-header-byte': {
      const out = bytes.slice();
      if (n === 0) return flipBits(bytes, rng);
      for (let k = rng.nextInt(1, 5); k > 0; k--) out[8 + rng.nextInt(0, n)] = rng.nextInt(0, 256);
      return out;
    }
    case 'truncate':
      return bytes.slice(0, rng.nextInt(0, Math.max(1, bytes.length)));
    case 'insert-bytes': {
      const at = rng.nextDouble() < 0.2 ? bytes.length : rng.nextInt(0, bytes.length + 1);
      return splice(bytes, at, 0, randomBytes(rng, rng.nextInt(1, 65)));
    }
    case 'delete-bytes': {
      if (bytes.length === 0) return bytes;
      const at = rng.nextInt(0, bytes.length);
      return splice(bytes, at, Math.min(bytes.length - at, rng.nextInt(1, 65)), new Uint8Array(0));
    }
    case 'header-length-lie': {
      const out = bytes.length >= 8 ? bytes.slice() : assemble('{}', new Uint8Array(0));
      const lies = [0n, 1n, BigInt(n + 1), BigInt(Math.max(0, n - 1)), BigInt(n + 8), BigInt(Math.max(0, n - 8))];
      lies.push(BigInt(out.length), BigInt(out.length - 7), 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n);
      lies.push(100_000_000n, 100_000_001n);
      new DataView(out.buffer).setBigUint64(0, pick(rng, lies), true);
      return out;
    }
    case 'dtype-relabel':
      return editEntry(bytes, rng, (e) => relabel(e, rng));
    case 'dtype-garbage':
      return editEntry(bytes, rng, (e) => {
        e.dtype = pick(rng, ['F33', 'f32', '', 'F32 ', 'float32', 'constructor', '__proto__', 32, null, ['F32'], {}]);
      });
    case 'offsets-out-of-range':
      return editEntry(bytes, rng, (e) => {
        const [b = 0, en = 0] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [];
        const total = bytes.length - 8 - n;
        e.data_offsets = pick(rng, [
          [b, total + 1],
          [total, total + 4],
          [b, en + HUGE],
          [HUGE, HUGE + 4],
          [total + 1, total + 1],
        ]);
      });
    case 'offsets-overlap':
      return editEntry(bytes, rng, (e, h) => {
        const other = h[pick(rng, tensorNames(h))] as Entry;
        const [b, en] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [0, 0];
        const mode = rng.nextInt(0, 3);
        if (mode === 0 && other !== e) [e.data_offsets, other.data_offsets] = [other.data_offsets, e.data_offsets];
        else if (mode === 1) e.data_offsets = other.data_offsets;
        else e.data_offsets = [Math.max(0, (b ?? 0) - 4), Math.max(0, (en ?? 0) - 4)];
      });
    case 'offsets-malformed':
      return editEntry(bytes, rng, (e) => {
        const [b, en] = Array.isArray(e.data_offsets) ? (e.data_offsets as number[]) : [0, 0];
        const bad = [
          [-4, en],
          [b, -1],
          [en, b],
          [(b ?? 0) + 0.5, (en ?? 0) + 0.5],
          [b, new Raw('1e400')],
          [new Raw('NaN'), en],
          [b, new Raw('Infinity')],
          [String(b), String(en)],
          [b, en, en],
          [b],
          'nope',
          null,
        ];
        if (rng.nextDouble() < 0.1) delete e.data_offsets;
        else e.data_offsets = pick(rng, bad);
      });
    case 'shape-nonfinite':
      return editEntry(bytes, rng, (e) => {
        const shape = Array.isArray(e.shape) && e.shape.length > 0 ? [...(e.shape as unknown[])] : [1];
        const bad: unknown[] = [new Raw('NaN'), new Raw('Infinity'), new Raw('-Infinity'), new Raw('1e400')];
        bad.push(new Raw('-0'));
        bad.push(-1, 1.5, '2', null, 2 ** 53, true, new Raw('1e15'));
        shape[rng.nextInt(0, shape.length)] = pick(rng, bad);
        e.shape = shape;
      });
    case 'shape-reshape':
      return editEntry(bytes, rng, (e) => {
        const shape = Array.isArray(e.shape) ? (e.shape as number[]) : [];
        const count = shape.reduce((a, b) => a * b, 1);
        const options = [[count], [1, count, 1], [...shape].reverse(), [count + 1], [], [0], [0, 2 ** 53 - 1]];
        options.push([...shape, 0], [...shape, 1], shape.slice(1));
        e.shape = rng.nextDouble() < 0.03 ? new Array<number>(20_000).fill(1) : pick(rng, options);
      });
    case 'duplicate-key': {
      const f = parseFile(bytes);
      const names = f ? tensorNames(f.header) : [];
      if (!f || names.length === 0) return flipBits(bytes, rng);
      const text = stringify(f.header);
      const name = pick(rng, names);
      const entry = JSON.stringify(f.header[name]);
      const key = JSON.stringify(name);
      const which = rng.nextInt(0, 4);
      let out: string;
      if (which === 0)
        out = `{${key}:${entry},${text.slice(1)}`; // the same tensor twice
      else if (which === 1) out = `{${key}:${JSON.stringify(f.header[pick(rng, names)])},${text.slice(1)}`;
      else if (which === 2) out = text.replace(`${key}:{`, `${key}:{"dtype":"I32",`);
      else out = `{"__metadata__":{"a":"b"},${text.slice(1)}`;
      return assemble(out, f.data);
    }
    case 'entry-edit': {
      const f = parseFile(bytes);
      const names = f ? tensorNames(f.header) : [];
      if (!f || names.length === 0) return flipBits(bytes, rng);
      const name = pick(rng, names);
      const h = f.header;
      const mode = rng.nextInt(0, 6);
      if (mode === 0) {
        h[`${name}.renamed`] = h[name];
        delete h[name];
      } else if (mode === 1) delete h[name];
      else if (mode === 2) h['extra'] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
      else if (mode === 3) h['extra'] = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
      else if (mode === 4) h[name] = pick(rng, [7, 'F32', [1, 2], null, true]);
      else (h[name] as Entry)[pick(rng, ['extra', 'dtype ', '__proto__', 'constructor'])] = 1;
      return assemble(stringify(h), f.data);
    }
    case 'metadata-mutation': {
      const f = parseFile(bytes);
      if (!f) return flipBits(bytes, rng);
      const h = f.header;
      h['__metadata__'] = pick(rng, [
        7,
        'meta',
        [],
        null,
        { step: 10 },
        { nested: { a: 'b' } },
        { long: 'x'.repeat(100_000) },
        { '': '', __proto__x: 'y', 'π ✓': '\u0000' },
        { format: 'altar', 'altar.config': '{not json' },
      ]);
      return assemble(stringify(h), f.data);
    }
    case 'json-syntax': {
      const f = parseFile(bytes);
      if (!f) return flipBits(bytes, rng);
      const text = stringify(f.header);
      const mode = rng.nextInt(0, 8);
      const at = rng.nextInt(1, text.length);
      if (mode === 0) return assemble(text.slice(0, at) + text.slice(at + 1), f.data);
      if (mode === 1)
        return assemble(text.slice(0, at) + pick(rng, ['{', '}', '"', ',', '\\', ':', '[']) + text.slice(at), f.data);
      if (mode === 2) return assemble(`{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)},${text.slice(1)}`, f.data);
      if (mode === 3) return assemble(`{${' '.repeat(80_000)}${text.slice(1)}`, f.data);
      if (mode === 4)
        return assemble(
          text.replace(/"([a-z])/, (_m, c: string) => `"\\u00${c.charCodeAt(0).toString(16)}`),
          f.data,
        );
      if (mode === 5) return assemble(Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]), f.data);
      if (mode === 6) return assemble(`${text}\u0000`, f.data);
      return assemble(' '.repeat(rng.nextInt(1, 4096)), f.data);
    }
    case 'stacked': {
      let out = bytes;
      for (let k = rng.nextInt(2, 5); k > 0; k--) {
        out = mutateSafely(SAFETENSORS_MUTATIONS[rng.nextInt(0, SAFETENSORS_MUTATIONS.length - 1)]!, out, rng);
      }
      return out;
    }
  }
}

/**
 * Apply one mutation of kind `kind` (default: drawn uniformly from the 18) to a safetensors file; `bytes`
 * is not modified.
 *
 * @example
 * ```ts
 * const rng = new Rng(1);
 * const { kind, bytes: mutant } = mutateSafetensors(checkpointBytes, rng);
 * ```
 */
export function mutateSafetensors(
  bytes: Uint8Array,
  rng: Rng,
  kind: SafetensorsMutation = SAFETENSORS_MUTATIONS[rng.nextInt(0, SAFETENSORS_MUTATIONS.length)]!,
): { kind: SafetensorsMutation; bytes: Uint8Array } {
  // work on a plain Uint8Array: a Node Buffer's slice() is a view, and flipping it would edit the caller's file
  const own = Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes);
  return { kind, bytes: mutateSafely(kind, own, rng) };
}

/** A mutation that cannot apply (JSON.stringify of a deeply nested header can overflow the stack) flips bits instead. */
function mutateSafely(kind: SafetensorsMutation, bytes: Uint8Array, rng: Rng): Uint8Array {
  try {
    return mutateOnce(kind, bytes, rng);
  } catch {
    return flipBits(bytes, rng);
  }
}
