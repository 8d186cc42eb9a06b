/**
 * Trained models survive a reload: the worker keeps each family's latest checkpoint (the same
 * config.json + model.safetensors pair as "Export checkpoint") in this browser's IndexedDB, writes it
 * when training pauses, after a warm-up, every SAVE_EVERY_MS while training runs and when a checkpoint
 * is loaded, and deletes it on Reset. Optimiser state is not kept: training after a reload starts a
 * fresh Adam state from the saved weights. Where IndexedDB is absent (Node tests, some private modes)
 * every call is a no-op that reports so.
 */
import type { Family } from '../state.js';
import { openObjectStore, storeRequest } from '../idb.js';

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
    this.db ??= openObjectStore(indexedDB, DB, STORE, 'family');
    return this.db;
  }

  private tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T | null> {
    return storeRequest(this.open(), STORE, mode, fn);
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
