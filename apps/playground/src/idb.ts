/**
 * The two IndexedDB steps the playground's stores share: open a database with one object store (a blocked or
 * failing database — private mode, quota — resolves to null, which disables persistence rather than the page),
 * and run one request in a transaction.
 */

export function openObjectStore(
  factory: IDBFactory,
  db: string,
  store: string,
  keyPath?: string,
): Promise<IDBDatabase | null> {
  return new Promise((resolve) => {
    const req = factory.open(db, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(store))
        req.result.createObjectStore(store, keyPath ? { keyPath } : undefined);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => resolve(null);
    req.onblocked = () => resolve(null);
  });
}

export async function storeRequest<T>(
  db: Promise<IDBDatabase | null>,
  store: string,
  mode: IDBTransactionMode,
  fn: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T | null> {
  const d = await db;
  if (!d) return null;
  return new Promise((resolve, reject) => {
    const t = d.transaction(store, mode);
    const req = fn(t.objectStore(store));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(new Error(`IndexedDB ${mode}: ${t.error?.message ?? 'failed'}`));
    t.onabort = () => reject(new Error(`IndexedDB ${mode}: aborted (${t.error?.message ?? 'quota?'})`));
  });
}
