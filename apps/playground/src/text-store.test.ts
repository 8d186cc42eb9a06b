/** The Text view's store of the visitor's own text: IndexedDB round trips (fake-indexeddb) and the size limit. */
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { MAX_TEXT_BYTES, TextStore, checkText, readTextFile } from './text-store.js';

describe('TextStore', () => {
  it('keeps one text across store instances (a reload) and forgets it on remove', async () => {
    const idb = new IDBFactory();
    const text = 'To be, or not to be: that is the question.\nÆsop — naïve café 😀\n';
    expect(await new TextStore(idb).save('hamlet.txt', text)).toBe(true);
    const back = await new TextStore(idb).load();
    expect(back?.text).toBe(text);
    expect(back?.name).toBe('hamlet.txt');
    expect(back?.bytes).toBe(Buffer.byteLength(text, 'utf8')); // UTF-8 bytes, not UTF-16 units
    await new TextStore(idb).save('other', 'abc');
    expect((await new TextStore(idb).load())?.text).toBe('abc'); // one record: the latest text
    await new TextStore(idb).remove();
    expect(await new TextStore(idb).load()).toBeNull();
  });

  it('refuses text past the limit, naming its size and the limit, and stores nothing', async () => {
    const idb = new IDBFactory();
    const store = new TextStore(idb);
    await store.save('small', 'kept');
    // 3-byte characters: under the limit in UTF-16 units, over it in UTF-8 bytes.
    const big = '€'.repeat(Math.floor(MAX_TEXT_BYTES / 3) + 1);
    expect(big.length).toBeLessThan(MAX_TEXT_BYTES);
    await expect(store.save('big.txt', big)).rejects.toThrow(
      /"big\.txt" is 8\.0 MB \(8,388,609 bytes\): the limit is 8\.0 MB \(8,388,608 bytes\)/,
    );
    expect((await store.load())?.text).toBe('kept');
    expect(checkText('x'.repeat(MAX_TEXT_BYTES))).toBe(MAX_TEXT_BYTES); // exactly the limit is fine
    expect(() => checkText('')).toThrow(/empty/);
  });

  it('without IndexedDB the text is not kept, and save says so', async () => {
    const store = new TextStore(undefined);
    expect(await store.save('a', 'text')).toBe(false);
    expect(await store.load()).toBeNull();
  });

  it('reads files: too large before reading, not UTF-8, or the text', async () => {
    const named = (b: Blob, name: string) => Object.assign(b, { name });
    await expect(readTextFile(named(new Blob([new Uint8Array(MAX_TEXT_BYTES + 1)]), 'huge.txt'))).rejects.toThrow(
      /"huge\.txt" is 8\.0 MB .* the limit is 8\.0 MB/,
    );
    await expect(readTextFile(named(new Blob([new Uint8Array([0x61, 0xff, 0x62])]), 'bin.dat'))).rejects.toThrow(
      /"bin\.dat" is not UTF-8 text/,
    );
    expect(await readTextFile(named(new Blob(['héllo']), 'ok.txt'))).toBe('héllo');
  });
});
