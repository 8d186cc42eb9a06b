import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, useBackend } from '../testing/index.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, bytesOf, MAX_HEADER_BYTES } from './safetensors.js';
import { floatToHalf, safetensorsToTensors, tensorsToSafetensors, toHostArray } from './safetensors-tensors.js';

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** Build a file from a header string and raw data, with an explicit (possibly lying) length prefix. */
function rawFile(header: string, data: number[], lengthPrefix = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lengthPrefix), true);
  out.set(ascii(header), 8);
  out.set(data, 8 + header.length);
  return out;
}

describe('safetensors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('writes the exact bytes the reference format prescribes for a small known tensor', async () => {
    await expectNoLeaks(async () => {
      const t = tf.tensor1d([1, 2]);
      const bytes = await tensorsToSafetensors({ a: t });
      t.dispose();
      const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes → padded to 56 with spaces
      const expected = [
        56,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        ...ascii(header),
        0x20,
        0x20,
        0x00,
        0x00,
        0x80,
        0x3f,
        0x00,
        0x00,
        0x00,
        0x40,
      ];
      expect(Array.from(bytes)).toEqual(expected);
    });
  });

  it('round-trips bit-exactly (F32 incl. NaN/−0/denormals, I32, BOOL) with metadata', async () => {
    await expectNoLeaks(async () => {
      const f = new Float32Array([0, -0, 1.5, -3.25e-38, 1e-45, Infinity, -Infinity, NaN, 3.4028235e38, Math.PI]);
      const w = tf.tensor2d(f, [2, 5]);
      const i = tf.tensor1d([-2147483648, 0, 2147483647, 7], 'int32');
      const b = tf.tensor1d([true, false, true], 'bool');
      const r = tf.tidy(() => new Rng(1).normal([3, 4, 5]));
      const bytes = await tensorsToSafetensors({ 'w.weight': w, idx: i, flag: b, r }, { format: 'altar', note: 'π ✓' });
      const back = safetensorsToTensors(bytes);
      expect(back.metadata).toEqual({ format: 'altar', note: 'π ✓' });
      const same = async (x: tf.Tensor, y: tf.Tensor) => {
        expect(y.shape).toEqual(x.shape);
        expect(y.dtype).toBe(x.dtype);
        const [a, c] = await Promise.all([x.data(), y.data()]);
        const bitsA = x.dtype === 'float32' ? new Uint32Array(Float32Array.from(a as Float32Array).buffer) : a;
        const bitsC = y.dtype === 'float32' ? new Uint32Array(Float32Array.from(c as Float32Array).buffer) : c;
        expect(Array.from(bitsC)).toEqual(Array.from(bitsA));
      };
      await same(w, back.tensors['w.weight'] as tf.Tensor);
      await same(i, back.tensors['idx'] as tf.Tensor);
      await same(b, back.tensors['flag'] as tf.Tensor);
      await same(r, back.tensors['r'] as tf.Tensor);
      // re-encoding the decoded file gives the same bytes
      const again = encodeSafetensors(decodeSafetensors(bytes).tensors, decodeSafetensors(bytes).metadata);
      expect(Array.from(again)).toEqual(Array.from(bytes));
      // every data offset is inside the file and the header is 8-byte aligned
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      tf.dispose([w, i, b, r, ...Object.values(back.tensors)]);
    });
  });

  it('F16 and BF16 decode to the right floats; float→half rounds to nearest even', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    const h = encodeSafetensors({
      h: { dtype: 'F16', shape: [3], data: bytesOf(new Uint16Array([0x3c00, 0xc000, 0x0001])) },
    });
    expect(Array.from(toHostArray(decodeSafetensors(h).tensors['h']!).values)).toEqual([1, -2, 2 ** -24]);
    const bf = encodeSafetensors({
      b: { dtype: 'BF16', shape: [2], data: bytesOf(new Uint16Array([0x3f80, 0xc040])) },
    });
    expect(Array.from(toHostArray(decodeSafetensors(bf).tensors['b']!).values)).toEqual([1, -3]);
  });

  const entry = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];
  const bad: Array<[string, () => Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', () => new Uint8Array(5), /shorter than the 8-byte/],
    ['header length past the end', () => rawFile(entry, eight, 500), /runs past the end/],
    [
      'header length 2^62 (no huge allocation)',
      () => rawFile(entry, eight, 2 ** 62),
      /exceeds the 100000000-byte limit/,
    ],
    ['header not JSON', () => rawFile('{"a":', []), /not valid JSON/],
    ['header not an object', () => rawFile('[1,2]', []), /must start with '\{'/],
    ['unknown dtype', () => rawFile(entry.replace('F32', 'F33'), eight), /unknown dtype 'F33'/],
    ['offsets out of range', () => rawFile(entry.replace('[0,8]', '[0,16]'), eight), /out of range/],
    ['reversed offsets', () => rawFile(entry.replace('[0,8]', '[8,0]'), eight), /reversed/],
    ['shape/size mismatch', () => rawFile(entry.replace('[2]', '[3]'), eight), /expected 12/],
    ['negative shape', () => rawFile(entry.replace('[2]', '[-2]'), eight), /non-negative integers/],
    [
      'overlapping tensors',
      () =>
        rawFile(
          '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          eight,
        ),
      /overlap/,
    ],
    ['hole in the buffer', () => rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight), /hole/],
    [
      'trailing bytes not covered',
      () => rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', eight),
      /cover 4/,
    ],
    ['non-string metadata', () => rawFile('{"__metadata__":{"k":1}}', []), /must be a string/],
  ];
  it.each(bad)('rejects a malformed file: %s', (_name, make, msg) => {
    const f = make();
    let err: unknown;
    try {
      decodeSafetensors(f);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toMatch(msg);
    expect(MAX_HEADER_BYTES).toBe(100_000_000);
  });

  /** Best of three timings of `fn` in ms (one try can be stalled by a GC pause or a busy neighbour). */
  const bestMs = (fn: () => void): number => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      fn();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const outcome = (f: Uint8Array): string => {
    try {
      return `parsed ${Object.keys(decodeSafetensors(f).tensors).length}`;
    } catch (e) {
      return e instanceof SafetensorsError ? 'rejected' : `crashed: ${String(e)}`;
    }
  };

  it('parses the header in linear time: runs of 80,000 spaces take milliseconds, not seconds', () => {
    // a run of spaces that is not at the very end made `/ +$/` backtrack quadratically (2.3 s before the fix)
    const inside = rawFile(`{${' '.repeat(80_000)}}`, []);
    const beforeGarbage = rawFile(`{${' '.repeat(80_000)}x`, []);
    const padded = rawFile(entry + ' '.repeat(80_000), eight);
    expect(outcome(inside)).toBe('parsed 0');
    expect(outcome(beforeGarbage)).toBe('rejected');
    expect(outcome(padded)).toBe('parsed 1');
    for (const f of [inside, beforeGarbage, padded]) expect(bestMs(() => outcome(f))).toBeLessThan(50);
  });

  it('a 100 MB header of padding (the size cap) is parsed or rejected in under 1 s', () => {
    const n = MAX_HEADER_BYTES;
    const f = new Uint8Array(8 + n);
    new DataView(f.buffer).setBigUint64(0, BigInt(n), true);
    f.fill(0x20, 8);
    f[8] = 0x7b; // '{' + 99,999,998 spaces + '}': valid JSON, no tensors
    f[8 + n - 1] = 0x7d;
    expect(outcome(f)).toBe('parsed 0');
    expect(bestMs(() => outcome(f))).toBeLessThan(1000);
    f[8 + n - 1] = 0x78; // '{' + spaces + 'x': invalid
    expect(outcome(f)).toBe('rejected');
    expect(bestMs(() => outcome(f))).toBeLessThan(1000);
    f.fill(0x20, 8); // '{}' + trailing padding
    f[8] = 0x7b;
    f[9] = 0x7d;
    expect(outcome(f)).toBe('parsed 0');
    expect(bestMs(() => outcome(f))).toBeLessThan(1000);
  });

  it('rejects a duplicate key (two readers could keep different entries)', () => {
    const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    const cases: Array<[string, RegExp]> = [
      [`{"a":${e},"a":${e}}`, /key 'a' twice \(in the header\)/],
      [`{"a":${e},"\\u0061":${e}}`, /key 'a' twice/],
      ['{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}', /key 'dtype' twice \(in entry 'a'\)/],
      [`{"__metadata__":{"k":"1","k":"2"},"a":${e}}`, /key 'k' twice \(in entry '__metadata__'\)/],
    ];
    for (const [header, msg] of cases) {
      expect(() => decodeSafetensors(rawFile(header, [0, 0, 128, 63]))).toThrow(msg);
    }
    // the same characters inside strings and arrays are not keys
    const ok = '{"__metadata__":{"k":"\\"a\\":1,\\"a\\":2"},"a\\\\":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(Object.keys(decodeSafetensors(rawFile(ok, [0, 0, 128, 63])).tensors)).toEqual(['a\\']);
  });

  it('a header nested 100,000 deep or with a 1,000,000-entry shape is rejected without a stack overflow', () => {
    const deep = rawFile(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, []);
    expect(() => decodeSafetensors(deep)).toThrow(SafetensorsError);
    const wide = rawFile(`{"a":{"dtype":"F32","shape":[${new Array(1e6).fill(1)}],"data_offsets":[0,8]}}`, eight);
    expect(() => decodeSafetensors(wide)).toThrow(/an array of 1000000 item\(s\)/);
  });

  it('a value that does not fit int32 is a SafetensorsError naming the tensor, and no tensor is left behind', async () => {
    await expectNoLeaks(() => {
      // 'a' (F32) decodes first; 'b' (U32 4294967295) used to throw after 'a' became a tensor, leaking it
      const f = encodeSafetensors({
        a: { dtype: 'F32', shape: [2], data: bytesOf(Float32Array.from([1, 2])) },
        b: { dtype: 'U32', shape: [2], data: bytesOf(Int32Array.from([5, -1])) },
        c: { dtype: 'I64', shape: [1], data: bytesOf(new Float64Array(1)) },
      });
      expect(() => safetensorsToTensors(f)).toThrow(
        /tensor 'b': U32 value 4294967295 does not fit int32 \(element 1\)/,
      );
      const big = encodeSafetensors({
        z: { dtype: 'F32', shape: [1], data: bytesOf(Float32Array.from([1])) },
        i: { dtype: 'I64', shape: [1], data: new Uint8Array(BigInt64Array.from([-(2n ** 31n) - 1n]).buffer) },
      });
      expect(() => safetensorsToTensors(big)).toThrow(/tensor 'i': I64 value -2147483649 does not fit int32/);
    }, 'rejected int32 overflow');
  });

  it('tensor data are independent copies, also when the file is a Node Buffer (whose slice() is a view)', () => {
    const file = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: bytesOf(Float32Array.from([1, 2])) } });
    const buf = Buffer.from(file); // as readFileSync returns it
    const a = decodeSafetensors(buf).tensors['a']!;
    buf.fill(0);
    expect(Object.getPrototypeOf(a.data)).toBe(Uint8Array.prototype);
    expect(Array.from(new Float32Array(a.data.buffer))).toEqual([1, 2]);
  });

  it('BOOL: any non-zero byte decodes to true (1)', async () => {
    await expectNoLeaks(async () => {
      const f = encodeSafetensors({ b: { dtype: 'BOOL', shape: [4], data: Uint8Array.from([0, 1, 7, 255]) } });
      const { tensors } = safetensorsToTensors(f);
      expect(Array.from(await tensors['b']!.data())).toEqual([0, 1, 1, 1]);
      tf.dispose(Object.values(tensors));
    });
  });

  it('the writer refuses inconsistent input', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } })).toThrow(
      /expected 12/,
    );
    expect(() => encodeSafetensors({ a: { dtype: 'X' as never, shape: [1], data: new Uint8Array(4) } })).toThrow(
      /unknown dtype/,
    );
  });
});
