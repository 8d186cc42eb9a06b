/** What changed between the run config a checkpoint was trained with and the one a `--resume` run uses. */

/**
 * One changed key: its dotted path and the values before (in the checkpoint) and after (now), as written.
 *
 * @example
 * ```ts
 * const d: ConfigChange = { key: 'train.lr', before: '0.01', after: '0.02' };
 * ```
 */
export interface ConfigChange {
  key: string;
  before: string;
  after: string;
}

function leaves(v: unknown, prefix: string, out: Map<string, unknown>): void {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out.set(prefix, v);
}

const show = (v: unknown): string =>
  v === undefined
    ? '(unset)'
    : typeof v === 'string'
      ? `'${v}'`
      : typeof v === 'number'
        ? String(v)
        : JSON.stringify(v);

/**
 * Every key whose value differs between the saved run config and the current one (the config's `name` is ignored),
 * sorted by key; empty when the saved config is not an object.
 *
 * @example
 * ```ts
 * configChanges({ train: { lr: 0.01, steps: 100 } }, { train: { lr: 0.02, steps: 100 } });
 * // [{ key: 'train.lr', before: '0.01', after: '0.02' }]
 * ```
 */
export function configChanges(saved: unknown, now: unknown): ConfigChange[] {
  if (typeof saved !== 'object' || saved === null) return [];
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  leaves(saved, '', a);
  leaves(now, '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => k !== 'name').sort();
  return keys
    .filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)))
    .map((k) => ({ key: k, before: show(a.get(k)), after: show(b.get(k)) }));
}
