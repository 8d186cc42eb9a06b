import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { SHAPE_KINDS, ShapeImageSource, bytesToFloats, floatsToBytes, generateShapeImages } from './images.js';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('procedural shape images', () => {
  it('is deterministic by seed, in range, and floats = bytes / 127.5 - 1 exactly', () => {
    const a = generateShapeImages({ count: 8, size: 16, channels: 3, seed: 4 });
    const b = generateShapeImages({ count: 8, size: 16, channels: 3, seed: 4 });
    const c = generateShapeImages({ count: 8, size: 16, channels: 3, seed: 5 });
    expect(a.shape).toEqual([8, 16, 16, 3]);
    expect(Array.from(a.bytes)).toEqual(Array.from(b.bytes));
    expect(Array.from(a.bytes)).not.toEqual(Array.from(c.bytes));
    for (let i = 0; i < a.bytes.length; i++) expect(a.floats[i]).toBe(Math.fround(a.bytes[i]! / 127.5 - 1));
    expect(Array.from(floatsToBytes(a.floats))).toEqual(Array.from(a.bytes));
    expect(Math.min(...a.floats)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...a.floats)).toBeLessThanOrEqual(1);
    expect(Array.from(bytesToFloats(Uint8Array.from([0, 255])))).toEqual([-1, 1]);
  });

  it('every image has ink and every kind is drawn; labels name the kind (digits 10..19)', () => {
    const imgs = generateShapeImages({ count: 200, size: 32, channels: 1, seed: 1 });
    const seen = new Set<number>();
    for (let b = 0; b < 200; b++) {
      const px = imgs.bytes.subarray(b * 1024, (b + 1) * 1024);
      expect(px.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
      const l = imgs.labels[b]!;
      seen.add(l >= 10 ? SHAPE_KINDS.indexOf('digit') : l);
      if (l >= 10) expect(l).toBeLessThan(20);
    }
    expect(seen.size).toBe(SHAPE_KINDS.length);
  });

  it('disc area matches E[pi r^2] for r ~ S(0.18 + 0.14 U) (geometry check of the renderer)', () => {
    const S = 32;
    const n = 300;
    const imgs = generateShapeImages({ count: n, size: S, channels: 1, seed: 2, kinds: ['disc'] });
    let frac = 0;
    for (let b = 0; b < n; b++) {
      const px = imgs.bytes.subarray(b * S * S, (b + 1) * S * S);
      const colour = Math.max(...px); // interior pixels have full coverage
      frac += px.reduce((s, v) => s + v, 0) / colour / (S * S) / n;
    }
    const expected = Math.PI * (0.18 ** 2 + 0.18 * 0.14 + 0.14 ** 2 / 3); // = π E[(0.18 + 0.14 U)^2]
    expect(Math.abs(frac - expected)).toBeLessThan(0.01);
  });

  it('a seven-segment 8 has more ink than a 1', () => {
    const imgs = generateShapeImages({ count: 200, size: 32, channels: 1, seed: 3, kinds: ['digit'] });
    const ink = (d: number) => {
      let s = 0;
      let k = 0;
      for (let b = 0; b < 200; b++) {
        if (imgs.labels[b] !== 10 + d) continue;
        const px = imgs.bytes.subarray(b * 1024, (b + 1) * 1024);
        const colour = Math.max(...px);
        s += px.reduce((a, v) => a + v, 0) / colour;
        k++;
      }
      return s / k;
    };
    expect(ink(8)).toBeGreaterThan(1.8 * ink(1));
  });

  it('ShapeImageSource yields (B, H, W, C) tensors without leaks', async () => {
    const src = new ShapeImageSource({ size: 16, channels: 3 });
    expect(src.dim).toBe(768);
    await expectNoLeaks(() => {
      const t = src.sampleTensor(4, new Rng(0));
      expect(t.shape).toEqual([4, 16, 16, 3]);
      expect(t.dtype).toBe('float32');
      t.dispose();
    });
    void tf;
  });

  it('validates config', () => {
    expect(() => generateShapeImages({ count: 1, size: 4, channels: 1, seed: 0 })).toThrow(/images\.size/);
    expect(() => generateShapeImages({ count: 1, size: 16, channels: 2 as never, seed: 0 })).toThrow(
      /images\.channels/,
    );
    expect(() => generateShapeImages({ count: 1, size: 16, channels: 1, seed: 0, kinds: ['star' as never] })).toThrow(
      /images\.kinds\[0\]/,
    );
    expect(() => new ShapeImageSource({ size: 16, channels: 1, colour: 1 } as never)).toThrow(ConfigError);
  });
});
