/**
 * `altar export DIR --to pytorch OUT` without the terminal: read the checkpoint DIR resolves to, pick its EMA
 * (default) or raw weights, generate the PyTorch files and write them to OUT.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AltarError, ConfigError, decodeSafetensors, initBackend } from '@altar/backend';
import { validateModelConfig, type ModelConfig } from '@altar/models';
import { CHECKPOINT_FILES } from '@altar/train';
import { loadCheckpoint } from '@altar/train/node';
import { UsageError } from '../io.js';
import { ensureDir, refuseSpecialFs } from '../run/run-dir.js';
import { exportPytorch } from './pytorch.js';
import { exportReadme } from './readme.js';

/**
 * What to export and where.
 *
 * @example
 * ```ts
 * const opts: ExportOptions = { dir: 'runs/ar', out: 'export/ar', which: 'latest', weights: 'ema', overwrite: false };
 * ```
 */
export interface ExportOptions {
  /** A run directory or one step-* checkpoint directory. */
  dir: string;
  /** The output directory (created; must be absent or empty unless `overwrite`). */
  out: string;
  which: 'latest' | 'best';
  weights: 'ema' | 'raw';
  overwrite: boolean;
}

/**
 * What was written.
 *
 * @example
 * ```ts
 * const r: ExportResult = await runExport(opts);
 * r.files; // ['export/ar/model.py', 'export/ar/model.safetensors', 'export/ar/README.md']
 * ```
 */
export interface ExportResult {
  checkpoint: string;
  step: number;
  weights: 'ema' | 'raw';
  modelType: ModelConfig['type'];
  className: string;
  params: number;
  files: string[];
}

/** The tokenizer file a text run's checkpoint carries (apps/trainer's run/corpus.ts writes it). */
const TOKENIZER_FILE = 'tokenizer.json';

function checkOut(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UsageError(`${out}: exists and is not a directory`);
  if (!overwrite && readdirSync(out).length > 0)
    throw new UsageError(`${out}: exists and is not empty (pass --overwrite to replace model.py, model.safetensors)`);
}

/** The model config: the weights file's `altar.config` entry, else rebuilt from the run config (older runs). */
async function modelConfigOf(meta: Record<string, string>, opts: ExportOptions, label: string): Promise<ModelConfig> {
  const raw = meta['altar.config'];
  if (raw !== undefined) {
    try {
      return validateModelConfig(JSON.parse(raw));
    } catch (e) {
      if (e instanceof ConfigError || e instanceof SyntaxError)
        throw new AltarError('BAD_CHECKPOINT', `${label}: the recorded model config is invalid (${e.message})`);
      throw e;
    }
  }
  await initBackend('cpu');
  const { loadRun } = await import('../run/checkpoint-runtime.js');
  const run = await loadRun(opts.dir, { which: opts.which, weights: opts.weights });
  const config = run.runtime.model.config;
  run.runtime.dispose();
  return config;
}

/**
 * Export the checkpoint `opts.dir` resolves to as `model.py` + `model.safetensors` (+ a README, and the checkpoint's
 * tokenizer.json when it has one) in `opts.out`.
 * A missing checkpoint or a non-empty OUT is a UsageError (exit 2); a corrupt checkpoint an AltarError (exit 1).
 *
 * @example
 * ```ts
 * await runExport({ dir: 'runs/ar', out: 'export/ar', which: 'latest', weights: 'ema', overwrite: false });
 * ```
 */
export async function runExport(opts: ExportOptions): Promise<ExportResult> {
  let ck;
  try {
    ck = loadCheckpoint(opts.dir, opts.which);
  } catch (e) {
    if (e instanceof AltarError && e.code === 'NOT_FOUND') throw new UsageError(e.message);
    throw e;
  }
  checkOut(opts.out, opts.overwrite);
  const useEma = opts.weights === 'ema' && ck.files[CHECKPOINT_FILES.ema] !== undefined;
  const name = useEma ? CHECKPOINT_FILES.ema : CHECKPOINT_FILES.model;
  const bytes = ck.files[name];
  if (!bytes) throw new AltarError('BAD_CHECKPOINT', `${ck.dir}: missing ${name}`);
  const label = join(ck.dir, name);
  let file;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new AltarError('BAD_CHECKPOINT', `${label}: ${(e as Error).message}`);
  }
  const config = await modelConfigOf(file.metadata, opts, label);
  const weights = useEma ? 'ema' : 'raw';
  const exp = exportPytorch(config, file.tensors, {
    'altar.step': String(ck.state.step),
    'altar.weights': weights,
  });
  const params = Object.values(file.tensors).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  refuseSpecialFs(opts.out, 'OUT');
  ensureDir(opts.out);
  const files = [join(opts.out, 'model.py'), join(opts.out, 'model.safetensors'), join(opts.out, 'README.md')];
  writeFileSync(files[0] as string, exp.modelPy);
  writeFileSync(files[1] as string, exp.weights);
  writeFileSync(files[2] as string, exportReadme(config, exp.className, { step: ck.state.step, weights, params }));
  // A text run's vocabulary (written by altar train beside the weights): the model is useless without it.
  const tokenizer = ck.files[TOKENIZER_FILE];
  if (tokenizer) {
    files.push(join(opts.out, TOKENIZER_FILE));
    writeFileSync(join(opts.out, TOKENIZER_FILE), tokenizer);
  }
  return {
    checkpoint: ck.dir,
    step: ck.state.step,
    weights,
    modelType: config.type,
    className: exp.className,
    params,
    files,
  };
}
