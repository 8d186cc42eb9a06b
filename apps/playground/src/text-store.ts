/**
 * The visitor's own text for the Text view, kept in this browser's IndexedDB (database
 * 'altar-playground-text', one record) so it survives reloads; at most MAX_TEXT_BYTES of UTF-8, checked
 * before anything is stored, with a message that names the size and the limit. Where IndexedDB is absent
 * or refuses (some private modes) the text still works for the visit, and save() says it was not kept.
 */
import { openObjectStore, storeRequest } from './idb.js';

/** The most text the playground takes: tokens of 8 MB of text fit comfortably in a tab's memory. */
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;

export interface StoredText {
  name: string;
  text: string;
  /** UTF-8 bytes. */
  bytes: number;
  savedAt: number;
}

const DB = 'altar-playground-text';
const STORE = 'texts';
const KEY = 'mine';

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function tooLarge(name: string, bytes: number): string {
  return (
    `${name} is ${mb(bytes)} (${bytes.toLocaleString('en-US')} bytes): the limit is ${mb(MAX_TEXT_BYTES)} ` +
    `(${MAX_TEXT_BYTES.toLocaleString('en-US')} bytes). Use a shorter excerpt.`
  );
}

/** The UTF-8 size of `text`, or an error naming its size and the limit (and an empty text). */
export function checkText(text: string, name = 'your text'): number {
  if (text.length === 0) throw new Error(`${name} is empty: paste or drop some text`);
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_TEXT_BYTES) throw new Error(tooLarge(name, bytes));
  return bytes;
}

/** A dropped or chosen file as text: refused before reading when too large, and when it is not UTF-8. */
export async function readTextFile(file: Blob & { name?: string }): Promise<string> {
  const name = `"${file.name ?? 'the file'}"`;
  if (file.size > MAX_TEXT_BYTES) throw new Error(tooLarge(name, file.size));
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${name} is not UTF-8 text`);
  }
  checkText(text, name);
  return text;
}

export class TextStore {
  private db: Promise<IDBDatabase | null> | null = null;

  constructor(private readonly factory: IDBFactory | undefined = globalThis.indexedDB) {}

  private open(): Promise<IDBDatabase | null> {
    const f = this.factory;
    if (!f) return Promise.resolve(null);
    this.db ??= openObjectStore(f, DB, STORE);
    return this.db;
  }

  private tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
    return storeRequest(this.open(), STORE, mode, fn);
  }

  /** Checks the size (throws past MAX_TEXT_BYTES), then stores; false when this browser keeps nothing. */
  async save(name: string, text: string): Promise<boolean> {
    const bytes = checkText(text, name ? `"${name}"` : 'your text');
    const rec: StoredText = { name: name || 'my-text', text, bytes, savedAt: Date.now() };
    return (await this.tx('readwrite', (s) => s.put(rec, KEY))) !== null;
  }

  async load(): Promise<StoredText | null> {
    const r = (await this.tx('readonly', (s) => s.get(KEY))) as StoredText | undefined | null;
    return r && typeof r.text === 'string' ? r : null;
  }

  async remove(): Promise<void> {
    await this.tx('readwrite', (s) => s.delete(KEY));
  }
}
