/**
 * Node-only checkpoint and metrics files (`@altar/train/node`). A checkpoint directory `root` holds
 *   step-00000100/{state.json, model.safetensors, ema.safetensors, optimizer.safetensors}
 *   latest.json   {"step", "dir"}            (replaced atomically after each save)
 *   best.json     {"step", "dir", "metric", "value"}
 * A save writes every file into a fresh `.tmp-*` directory (each file fsynced, state.json last),
 * fsyncs it, renames it to `step-N`, then swaps `latest.json` by temp file + rename. A crash at any
 * point leaves the previous checkpoint and pointer intact; leftover `.tmp-*` directories are ignored
 * and removed by the next save. Only the last `keepLast` step directories and the best are kept.
 *
 * @module @altar/train/node
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AltarError } from '@altar/backend';
import { formatMetricsLine, type MetricsRecord } from './metrics.js';
import { CHECKPOINT_FILES, parseCheckpointState, type Checkpoint, type CheckpointState } from './checkpoint.js';

/**
 * How files are written; tests inject a failing one to prove atomicity.
 *
 * @example
 * ```ts
 * // A file system that fails on the third write, to test that a crash leaves the last checkpoint intact:
 * let n = 0;
 * const flaky: CheckpointFs = { writeFileSync: (file, data) => { if (++n === 3) throw new Error('disk full'); writeFileSync(file, data); } };
 * saveCheckpoint('run', ckpt, { fs: flaky });
 * ```
 */
export interface CheckpointFs {
  writeFileSync(file: string, data: Uint8Array): void;
}

function fsyncWrite(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const defaultFs: CheckpointFs = { writeFileSync: fsyncWrite };

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}

/**
 * Write `data` to `file` atomically: temp file in the same directory, fsync, rename.
 *
 * @example
 * ```ts
 * writeFileAtomic('run/config.json', JSON.stringify(config)); // readers see the old file or the new one, never half
 * ```
 */
export function writeFileAtomic(file: string, data: Uint8Array | string, io: CheckpointFs = defaultFs): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  try {
    io.writeFileSync(tmp, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/**
 * The name of a step directory: `step-` and the step zero-padded to 8 digits, so names sort by step.
 *
 * @example
 * ```ts
 * stepDirName(100); // 'step-00000100'
 * ```
 */
export const stepDirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

/**
 * Options of {@link saveCheckpoint}: how many step directories to keep, whether this one is the best, and the file
 * system to write through.
 *
 * @example
 * ```ts
 * saveCheckpoint('run', await trainer.snapshot(config), { keepLast: 2, isBest: evalLoss < bestLoss });
 * ```
 */
export interface SaveOptions {
  /** Step directories to keep (the best is kept in addition). Default 3. */
  keepLast?: number;
  /** Mark this checkpoint as the best so far. */
  isBest?: boolean;
  fs?: CheckpointFs;
}

/**
 * Save a checkpoint under `root` atomically; returns the step directory.
 *
 * @example
 * ```ts
 * const dir = saveCheckpoint('run', await trainer.snapshot({ task: 'y=3x' })); // 'run/step-00000200'
 * ```
 */
export function saveCheckpoint(root: string, ckpt: Checkpoint, opts: SaveOptions = {}): string {
  const io = opts.fs ?? defaultFs;
  if (!fs.existsSync(root)) fs.mkdirSync(root, { recursive: true });
  for (const e of fs.readdirSync(root))
    if (e.startsWith('.tmp-')) fs.rmSync(path.join(root, e), { recursive: true, force: true });
  const name = stepDirName(ckpt.state.step);
  const tmp = path.join(root, `.tmp-${name}-${process.pid}`);
  const state = ckpt.files[CHECKPOINT_FILES.state];
  if (!state) throw new AltarError('BAD_CHECKPOINT', 'checkpoint has no state.json');
  fs.mkdirSync(tmp);
  try {
    // state.json last: a step directory without it is incomplete by definition.
    const names = Object.keys(ckpt.files).filter((n) => n !== CHECKPOINT_FILES.state);
    for (const n of names) io.writeFileSync(path.join(tmp, n), ckpt.files[n]!);
    io.writeFileSync(path.join(tmp, CHECKPOINT_FILES.state), state);
    fsyncDir(tmp);
  } catch (e) {
    // disk full, read-only remount…: leave no half-written directory behind (the last checkpoint stays as it was)
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const final = path.join(root, name);
  if (fs.existsSync(final)) {
    const old = path.join(root, `.tmp-old-${name}-${process.pid}`);
    fs.renameSync(final, old);
    fs.renameSync(tmp, final);
    fs.rmSync(old, { recursive: true, force: true });
  } else fs.renameSync(tmp, final);
  fsyncDir(root);
  writeFileAtomic(path.join(root, 'latest.json'), JSON.stringify({ step: ckpt.state.step, dir: name }) + '\n', io);
  if (opts.isBest && ckpt.state.best) {
    writeFileAtomic(
      path.join(root, 'best.json'),
      JSON.stringify({
        step: ckpt.state.step,
        dir: name,
        metric: ckpt.state.best.metric,
        value: ckpt.state.best.value,
      }) + '\n',
      io,
    );
  }
  pruneCheckpoints(root, opts.keepLast ?? 3);
  return final;
}

function readPointer(root: string, file: string): string | null {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as { dir?: unknown };
    return typeof p.dir === 'string' && /^step-\d+$/.test(p.dir) ? p.dir : null;
  } catch {
    return null;
  }
}

/**
 * Complete step directories under root, oldest first.
 *
 * @example
 * ```ts
 * listCheckpoints('run'); // [{ step: 100, dir: 'run/step-00000100' }, { step: 200, dir: 'run/step-00000200' }]
 * ```
 */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((e) => /^step-\d+$/.test(e) && fs.existsSync(path.join(root, e, CHECKPOINT_FILES.state)))
    .map((e) => ({ step: Number(e.slice(5)), dir: path.join(root, e) }))
    .sort((a, b) => a.step - b.step);
}

/** False when the checkpoint's state.json records a non-finite loss or weights (older checkpoints count as healthy). */
function isHealthy(dir: string): boolean {
  try {
    const h = (JSON.parse(fs.readFileSync(path.join(dir, CHECKPOINT_FILES.state), 'utf8')) as CheckpointState).health;
    return h === undefined || (h.lossFinite !== false && h.weightsFinite !== false);
  } catch {
    return false;
  }
}

/**
 * Delete all but the last `keepLast` step directories, never the best, the latest, nor the newest checkpoint whose
 * loss and weights were finite (so a run that diverged under `nonFinite: 'skip'` keeps a good one to go back to).
 *
 * @example
 * ```ts
 * pruneCheckpoints('run', 1); // keep only the newest step directory (and the best, and the newest finite one)
 * ```
 */
export function pruneCheckpoints(root: string, keepLast: number): void {
  const all = listCheckpoints(root);
  const keep = new Set(all.slice(Math.max(0, all.length - Math.max(1, keepLast))).map((c) => c.dir));
  for (const p of [readPointer(root, 'best.json'), readPointer(root, 'latest.json')])
    if (p) keep.add(path.join(root, p));
  const newestHealthy = [...all].reverse().find((c) => isHealthy(c.dir));
  if (newestHealthy) keep.add(newestHealthy.dir);
  for (const c of all) if (!keep.has(c.dir)) fs.rmSync(c.dir, { recursive: true, force: true });
}

/**
 * Find the checkpoint directory for `p`: a step directory itself, or a run directory whose
 * latest.json (or, failing that, newest complete step-*) names one; `which: 'best'` prefers best.json.
 *
 * @example
 * ```ts
 * resolveCheckpointDir('run');         // the directory latest.json names
 * resolveCheckpointDir('run', 'best'); // the best one, if marked
 * resolveCheckpointDir('run/step-00000100'); // itself
 * ```
 */
export function resolveCheckpointDir(p: string, which: 'latest' | 'best' = 'latest'): string {
  if (!fs.existsSync(p)) throw new AltarError('NOT_FOUND', `${p}: no such checkpoint directory`);
  if (fs.existsSync(path.join(p, CHECKPOINT_FILES.state))) return p;
  const candidates = which === 'best' ? ['best.json', 'latest.json'] : ['latest.json'];
  for (const f of candidates) {
    const d = readPointer(p, f);
    if (d && fs.existsSync(path.join(p, d, CHECKPOINT_FILES.state))) return path.join(p, d);
  }
  const all = listCheckpoints(p);
  if (all.length === 0)
    throw new AltarError('NOT_FOUND', `${p}: no checkpoint here (no state.json, latest.json or step-* directory)`);
  return all[all.length - 1]!.dir;
}

/**
 * Load the files of the checkpoint that `p` resolves to.
 *
 * @example
 * ```ts
 * const { state, files } = loadCheckpoint('run');
 * trainer.restore(files); // continue from state.step, bit-exact
 * ```
 */
export function loadCheckpoint(p: string, which: 'latest' | 'best' = 'latest'): Checkpoint & { dir: string } {
  const dir = resolveCheckpointDir(p, which);
  const files: Record<string, Uint8Array> = {};
  for (const n of fs.readdirSync(dir)) {
    if (n.startsWith('.')) continue;
    files[n] = new Uint8Array(fs.readFileSync(path.join(dir, n)));
  }
  const stateBytes = files[CHECKPOINT_FILES.state];
  if (!stateBytes) throw new AltarError('BAD_CHECKPOINT', `${dir}: missing ${CHECKPOINT_FILES.state}`);
  const state: CheckpointState = parseCheckpointState(
    new TextDecoder().decode(stateBytes),
    path.join(dir, CHECKPOINT_FILES.state),
  );
  return { dir, state, files };
}

/**
 * Appends metrics records to a JSONL file (one JSON object per line).
 *
 * @example
 * ```ts
 * const metrics = new MetricsWriter('run/metrics.jsonl', { truncate: true });
 * const trainer = new Trainer({ ...options, onMetrics: (r) => metrics.write(r) });
 * ```
 */
export class MetricsWriter {
  readonly file: string;
  /**
   * `truncate`: start the file empty. `keepThrough: step`: on resume, drop the records after `step` (what a killed
   * run wrote past its last checkpoint), so the file holds each step once.
   */
  constructor(file: string, opts: { truncate?: boolean; keepThrough?: number } = {}) {
    this.file = file;
    if (!fs.existsSync(path.dirname(file))) fs.mkdirSync(path.dirname(file), { recursive: true });
    if (opts.truncate) fs.writeFileSync(file, '');
    else if (opts.keepThrough !== undefined && fs.existsSync(file)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      const kept = lines.filter((l) => {
        if (l.trim() === '') return false;
        try {
          const step: unknown = (JSON.parse(l) as { step?: unknown }).step;
          return typeof step !== 'number' || step <= opts.keepThrough!;
        } catch {
          return false; // a line cut short by the kill
        }
      });
      const text = kept.map((l) => l + '\n').join('');
      if (kept.length !== lines.filter((l) => l.trim() !== '').length) writeFileAtomic(file, text);
    }
  }
  write(r: MetricsRecord): void {
    fs.appendFileSync(this.file, formatMetricsLine(r) + '\n');
  }
}
