/**
 * The run directory of `altar train --out DIR`: refused on pseudo file systems (/proc, /sys, /dev), created one
 * component at a time (Node 20's recursive mkdir spins forever under /proc), and refused when it already holds a
 * run unless the user says --resume (continue it) or --overwrite (clear it first).
 */
import { lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, statfsSync } from 'node:fs';
import { dirname, join, parse, resolve, sep } from 'node:path';
import { AltarError } from '@altar/backend';
import { UsageError } from '../io.js';

/** Mount points whose contents are the kernel's, not files: nothing can be trained into them. */
const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];
/** /dev/shm is an ordinary tmpfs (shared memory) and stays allowed. */
const ALLOWED_UNDER_SPECIAL = ['/dev/shm'];
/** statfs magic numbers of pseudo file systems (linux/magic.h): proc, sysfs, devpts, debugfs, tracefs, cgroup, cgroup2, securityfs, pstore, bpf, configfs. */
const PSEUDO_FS_TYPES = new Set([
  0x9fa0, 0x62656572, 0x1cd1, 0x64626720, 0x74726163, 0x27e0eb, 0x63677270, 0x73636673, 0x6165676c, 0xcafe4a11,
  0x62656570,
]);

const under = (p: string, root: string) => p === root || p.startsWith(root + '/');

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The nearest ancestor of `p` (or `p` itself) that exists. */
function nearestExisting(p: string): string {
  let cur = resolve(p);
  while (!exists(cur)) {
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

/**
 * Refuse a path on a pseudo file system (procfs, sysfs, devices, cgroup…): by where its nearest existing ancestor
 * really is (symlinks resolved) and, where the platform has statfs, by that file system's type.
 *
 * @example
 * ```ts
 * refuseSpecialFs('runs/ar', '--out');          // fine
 * refuseSpecialFs('/proc/altar-run', '--out');  // UsageError: --out /proc/altar-run: /proc is a kernel pseudo file system …
 * ```
 */
export function refuseSpecialFs(p: string, flag: string): void {
  const base = nearestExisting(p);
  let real = base;
  try {
    real = realpathSync(base);
  } catch {
    // unreadable ancestor: the prefix check below still applies to the path as written
  }
  const full = resolve(real, resolve(p).slice(base.length).replace(/^\/+/, ''));
  const root = SPECIAL_ROOTS.find((r) => under(full, r) && !ALLOWED_UNDER_SPECIAL.some((a) => under(full, a)));
  let pseudo = root !== undefined;
  if (!pseudo && typeof statfsSync === 'function') {
    try {
      pseudo = PSEUDO_FS_TYPES.has(Number(statfsSync(real).type));
    } catch {
      // no statfs here: the prefix check is all we have
    }
  }
  if (pseudo)
    throw new UsageError(
      `${flag} ${p}: ${root ?? real} is a kernel pseudo file system (proc/sys/dev), not a disk; choose a directory on a real file system`,
    );
}

/**
 * Create directory `p` and its missing parents one component at a time (never `mkdirSync(…, { recursive })`), so
 * that a path under a pseudo file system fails at once instead of spinning; an existing non-directory on the way is
 * an error naming it.
 *
 * @example
 * ```ts
 * ensureDir('runs/ar/samples'); // creates runs, runs/ar, runs/ar/samples as needed
 * ```
 */
export function ensureDir(p: string): void {
  const abs = resolve(p);
  const { root } = parse(abs);
  let cur = root;
  for (const part of abs.slice(root.length).split(sep).filter(Boolean)) {
    cur = join(cur, part);
    let isDir: boolean | null = null;
    try {
      isDir = statSync(cur).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (isDir === false)
      throw new AltarError('BAD_PATH', `cannot create ${abs}: ${cur} exists and is a file, not a directory`);
    if (isDir === null) {
      try {
        mkdirSync(cur);
      } catch (e) {
        // another process may have created it in between
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(cur).isDirectory()) throw e;
      }
    }
  }
}

/** Entries a run directory holds (what `--overwrite` may delete): anything else makes it refuse. */
const RUN_ENTRY =
  /^(config\.json|metrics\.jsonl|latest\.json|best\.json|samples|step-\d+|\.tmp-.*|\..*\.tmp-.*|[\w.-]+\.svg)$/;

/**
 * Prepare `--out DIR` for training: refuse a pseudo file system, create the directory, and refuse a non-empty one
 * unless `resume` (continue the run there) or `overwrite` (delete the previous run's files first; refused when the
 * directory holds anything a run does not write, so a mistyped --out cannot wipe unrelated files).
 *
 * @example
 * ```ts
 * prepareRunDir('runs/ar', { overwrite: true }); // an empty runs/ar, whatever run was there before
 * ```
 */
export function prepareRunDir(out: string, o: { resume?: boolean; overwrite?: boolean } = {}): void {
  refuseSpecialFs(out, '--out');
  ensureDir(out);
  const entries = readdirSync(out);
  if (entries.length === 0 || o.resume) return;
  if (!o.overwrite)
    throw new UsageError(
      `--out ${out}: the directory is not empty (${entries.length} entries, e.g. '${entries.sort()[0]}'); ` +
        `pass --resume ${out} to continue that run, --overwrite to replace it, or choose another directory`,
    );
  const foreign = entries.find((e) => !RUN_ENTRY.test(e));
  if (foreign !== undefined)
    throw new UsageError(
      `--overwrite: ${out} holds '${foreign}', which altar train does not write; refusing to clear it (remove it yourself or choose another directory)`,
    );
  for (const e of entries) rmSync(join(out, e), { recursive: true, force: true });
}
