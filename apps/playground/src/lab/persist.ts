/**
 * Trained models survive a reload: the worker keeps each family's latest checkpoint (the same
 * config.json + model.safetensors pair as "Export checkpoint") in this browser's IndexedDB, writes it
 * when training pauses, after a warm-up, every SAVE_EVERY_MS while training runs and when a checkpoint
 * is loaded, and deletes it on Reset. Optimiser state is not kept: training after a reload starts a
 * fresh Adam state from the saved weights. Where IndexedDB is absent (Node tests, some private modes)
 * every call is a no-op that reports so.
 */
import type { Family } from '../state.js';

export interface StoredModel {
  family: Family;
  config: string;
  safetensors: Uint8Array;
  step: number;
  savedAt: number;
}

/** How often a running training loop writes its checkpoint. */
export const SAVE_EVERY_MS = 15_000;

const DB = 'altar-playground';
const STORE = 'models';

export class ModelStore {
  private db: Promise<IDBDatabase | null> | null = null;

  /** Whether this context can persist at all. */
  static available(): boolean {
    return typeof indexedDB !== 'undefined';
  }

  private open(): Promise<IDBDatabase | null> {
    if (!ModelStore.available()) return Promise.resolve(null);
    this.db ??= new Promise((resolve) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'family' });
      };
      req.onsuccess = () => resolve(req.result);
      // A blocked or failing database (private mode, quota) disables persistence rather than the page.
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    });
    return this.db;
  }

  private async tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
    const db = await this.open();
    if (!db) return null;
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(new Error(`IndexedDB ${mode}: ${t.error?.message ?? 'failed'}`));
      t.onabort = () => reject(new Error(`IndexedDB ${mode}: aborted (${t.error?.message ?? 'quota?'})`));
    });
  }

  async save(m: StoredModel): Promise<boolean> {
    return (await this.tx('readwrite', (s) => s.put(m))) !== null;
  }

  async remove(family: Family): Promise<void> {
    await this.tx('readwrite', (s) => s.delete(family));
  }

  async all(): Promise<StoredModel[]> {
    return ((await this.tx('readonly', (s) => s.getAll())) as StoredModel[] | null) ?? [];
  }
}
