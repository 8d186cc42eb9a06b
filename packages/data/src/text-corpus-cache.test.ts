import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenCacheWriter, cachePaths, openTokenFile } from './text-corpus-cache.js';
import { openTextCorpus } from './node.js';

const root = mkdtempSync(join(tmpdir(), 'altar-cache-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('token cache files', () => {
  it('Uint16 for V ≤ 65,536 and Uint32 above, little-endian, read back whole and by positional reads', () => {
    for (const [V, width] of [
      [65_536, 2],
      [70_000, 4],
    ] as const) {
      const paths = cachePaths(root, `h${V}`, 'test');
      const ids = Int32Array.from({ length: 5000 }, (_, i) => (i * 7919) % V);
      ids[0] = V - 1;
      const w = new TokenCacheWriter(paths, V);
      expect(w.bytesPerToken).toBe(width);
      w.append(ids.subarray(0, 1234));
      w.append(ids.subarray(1234));
      w.commit({ totalTokens: ids.length } as never);
      expect(statSync(paths.tokens).size).toBe(ids.length * width);
      for (const inMemoryBytes of [1 << 20, 0]) {
        const store = openTokenFile(paths.tokens, ids.length, width, 'test', inMemoryBytes);
        const out = new Int32Array(300);
        store.read(4700, out);
        expect(Array.from(out)).toEqual(Array.from(ids.subarray(4700)));
        const first = new Int32Array(1);
        store.read(0, first);
        expect(first[0]).toBe(V - 1);
        store.close();
        expect(() => store.read(0, first)).toThrow(/closed/);
      }
    }
  });

  it('abort removes the temporary files; nothing is left under the final names', () => {
    const paths = cachePaths(root, 'aborted', 'byte');
    const w = new TokenCacheWriter(paths, 256);
    w.append([1, 2, 3]);
    expect(readdirSync(root).some((f) => f.startsWith('aborted-byte.tokens.tmp-'))).toBe(true);
    w.abort();
    expect(readdirSync(root).filter((f) => f.startsWith('aborted'))).toEqual([]);
  });

  it('a damaged cache (token file cut short) is rebuilt, not trusted', async () => {
    const path = join(root, 'c.txt');
    writeFileSync(path, 'some text to cache\n'.repeat(50));
    const cacheDir = join(root, 'cache');
    let calls = 0;
    const a = await openTextCorpus({ path, cacheDir, onProgress: () => calls++ });
    const tokens = readdirSync(cacheDir).find((f) => f.endsWith('.tokens'))!;
    truncateSync(join(cacheDir, tokens), 100);
    const b = await openTextCorpus({ path, cacheDir, onProgress: () => calls++ });
    expect(calls).toBe(2);
    expect(b.splitTokens('train') + b.splitTokens('val')).toBe(950);
    expect(statSync(join(cacheDir, tokens)).size).toBe(1900);
    a.close();
    b.close();
  });
});
