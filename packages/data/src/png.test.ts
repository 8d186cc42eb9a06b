import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PngFolderSource, decodePng, encodePng, loadPngFolder, toChannels } from './node.js';

// An independent PNG writer for the tests: applies the forward scanline filters (PNG spec §9.2) with
// a chosen filter per row, chunks with CRCs from node:zlib's crc32, optional PLTE/tRNS.
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td));
  return Buffer.concat([len, td, crc]);
}

function writePng(
  w: number,
  h: number,
  colorType: number,
  bpp: number,
  px: Uint8Array,
  filters: number[],
  extra: Buffer[] = [],
): Uint8Array {
  const st = w * bpp;
  const raw = new Uint8Array(h * (st + 1));
  for (let y = 0; y < h; y++) {
    const f = filters[y % filters.length]!;
    raw[y * (st + 1)] = f;
    for (let i = 0; i < st; i++) {
      const x = px[y * st + i]!;
      const a = i >= bpp ? px[y * st + i - bpp]! : 0;
      const b = y > 0 ? px[(y - 1) * st + i]! : 0;
      const c = i >= bpp && y > 0 ? px[(y - 1) * st + i - bpp]! : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      raw[y * (st + 1) + 1 + i] = (x - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const idat = zlib.deflateSync(raw);
  // Split IDAT in two chunks to exercise concatenation.
  const cut = Math.floor(idat.length / 2);
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', ihdr),
      ...extra,
      chunk('IDAT', idat.subarray(0, cut)),
      chunk('IDAT', idat.subarray(cut)),
      chunk('IEND', new Uint8Array(0)),
    ]),
  );
}

const W = 7;
const H = 5;
const pixels = (bpp: number) =>
  Uint8Array.from({ length: W * H * bpp }, (_, i) => {
    const x = Math.floor(i / bpp) % W;
    const y = Math.floor(i / bpp / W);
    const c = i % bpp;
    return (x * 37 + y * 91 + c * 50 + x * y * 13) % 256;
  });

describe('decodePng', () => {
  it.each([
    [0, 1],
    [2, 3],
    [4, 2],
    [6, 4],
  ])('color type %i decodes every filter type exactly', (colorType, bpp) => {
    const px = pixels(bpp);
    for (const filters of [[0], [1], [2], [3], [4], [4, 3, 2, 1, 0]]) {
      const img = decodePng(writePng(W, H, colorType, bpp, px, filters));
      expect(img.width).toBe(W);
      expect(img.height).toBe(H);
      expect(img.channels).toBe(bpp);
      expect(Array.from(img.data)).toEqual(Array.from(px));
    }
  });

  it('decodes palette images (with and without tRNS)', () => {
    const pal = [255, 0, 0, 0, 128, 255, 10, 20, 30];
    const idx = Uint8Array.from({ length: W * H }, (_, i) => i % 3);
    const plain = decodePng(writePng(W, H, 3, 1, idx, [1, 4], [chunk('PLTE', Uint8Array.from(pal))]));
    expect(plain.channels).toBe(3);
    expect(Array.from(plain.data.subarray(0, 9))).toEqual(pal);
    const withAlpha = decodePng(
      writePng(W, H, 3, 1, idx, [0], [chunk('PLTE', Uint8Array.from(pal)), chunk('tRNS', Uint8Array.from([7, 200]))]),
    );
    expect(withAlpha.channels).toBe(4);
    expect(Array.from(withAlpha.data.subarray(0, 12))).toEqual([255, 0, 0, 7, 0, 128, 255, 200, 10, 20, 30, 255]);
  });

  it('encodePng round-trips and writes CRCs that node:zlib agrees with', () => {
    for (const C of [1, 2, 3, 4] as const) {
      const px = pixels(C);
      const png = encodePng(W, H, C, px);
      const img = decodePng(png);
      expect(Array.from(img.data)).toEqual(Array.from(px));
      // IHDR CRC: bytes 12..29 are type+data, 29..33 the CRC.
      expect(Buffer.from(png).readUInt32BE(29)).toBe(zlib.crc32(Buffer.from(png.subarray(12, 29))));
    }
  });

  it('rejects corrupt, truncated and unsupported files with the file label', () => {
    const good = encodePng(W, H, 1, pixels(1));
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(/decodePng\(x\.png\): not a PNG/);
    const bad = good.slice();
    bad[40]! ^= 0xff;
    expect(() => decodePng(bad)).toThrow(/CRC mismatch/);
    expect(() => decodePng(good.subarray(0, good.length - 12))).toThrow(/missing IEND/);
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(2, 0);
    ihdr.writeUInt32BE(2, 4);
    ihdr[8] = 16;
    const sixteen = new Uint8Array(
      Buffer.concat([Buffer.from(good.subarray(0, 8)), chunk('IHDR', ihdr), chunk('IEND', new Uint8Array(0))]),
    );
    expect(() => decodePng(sixteen)).toThrow(/bit depth 16/);
  });

  it('toChannels: luma (BT.601) and alpha over black', () => {
    const img = { width: 1, height: 1, channels: 4 as const, data: Uint8Array.from([200, 100, 50, 128]) };
    expect(Array.from(toChannels(img, 3))).toEqual([
      Math.round((200 * 128) / 255),
      Math.round((100 * 128) / 255),
      Math.round((50 * 128) / 255),
    ]);
    expect(toChannels(img, 1)[0]).toBe(Math.round(((0.299 * 200 + 0.587 * 100 + 0.114 * 50) * 128) / 255));
  });
});

describe('PNG folders', () => {
  let dir = '';
  beforeAll(async () => {
    await useBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'altar-png-'));
    for (let i = 0; i < 3; i++) {
      const px = Uint8Array.from({ length: 4 * 4 * 3 }, (_, j) => (j * 11 + i * 60) % 256);
      writeFileSync(join(dir, `img${i}.png`), encodePng(4, 4, 3, px));
    }
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads all files (sorted) as bytes and [-1, 1] floats', () => {
    const all = loadPngFolder(dir, { channels: 3 });
    expect(all.shape).toEqual([3, 4, 4, 3]);
    expect(all.files.map((f) => f.slice(-8))).toEqual(['img0.png', 'img1.png', 'img2.png']);
    expect(all.bytes[48]).toBe(60); // image 1, first byte
    expect(all.floats[48]).toBeCloseTo(60 / 127.5 - 1, 6);
    const gray = loadPngFolder(dir, { channels: 1 });
    expect(gray.shape).toEqual([3, 4, 4, 1]);
  });

  it('samples batches lazily as tensors without leaks, and names bad folders', async () => {
    const src = new PngFolderSource(dir, { channels: 3 });
    expect(src.dim).toBe(48);
    await expectNoLeaks(() => {
      const t = src.sampleTensor(5, new Rng(1));
      expect(t.shape).toEqual([5, 4, 4, 3]);
      const v = t.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      t.dispose();
    });
    expect(() => new PngFolderSource(join(dir, 'nope'))).toThrow(/cannot read/);
    const empty = mkdtempSync(join(tmpdir(), 'altar-png-empty-'));
    expect(() => new PngFolderSource(empty)).toThrow(/no \.png files/);
    rmSync(empty, { recursive: true });
    writeFileSync(join(dir, 'img3.png'), encodePng(5, 5, 1, new Uint8Array(25)));
    const src2 = new PngFolderSource(dir);
    expect(() => src2.readBytes(3)).toThrow(/img3\.png is 5x5, expected 4x4/);
    rmSync(join(dir, 'img3.png'));
    void tf;
  });
});
