/**
 * Configs saved before the schema (run directories' config.json and state.json, playground exports and
 * the models browsers kept) held keys that had no effect then and are errors now. Each rule below removes
 * one such key only in a shape that today's writers never produce, so a current config passes unchanged —
 * except the defaulted HMM section of a text config, which every validated config carries.
 */
import { parseRunConfig, type RunConfig } from './schema.js';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function section(o: Record<string, unknown>, key: string): Record<string, unknown> | null {
  const v = o[key];
  if (!isObj(v)) return null;
  const copy = { ...v };
  o[key] = copy;
  return copy;
}

/**
 * A copy of `raw` without the keys older writers added that never took effect.
 *
 * @example
 * ```ts
 * dropInertSavedKeys({ family: 'ar', diffusion: {} }); // { family: 'ar' }: the key never took effect
 * ```
 */
export function dropInertSavedKeys(raw: unknown): unknown {
  if (!isObj(raw)) return raw;
  const c: Record<string, unknown> = { ...raw };
  const family = c['family'];
  const data = section(c, 'data');
  const diffusion = section(c, 'diffusion');
  const ev = section(c, 'eval');
  const train = section(c, 'train');
  const tokens = family === 'ar' || family === 'ssm' || family === 'masked-diffusion' || family === 'd3pm';
  if (data && tokens) {
    delete data['gmm']; // every section used to be written for every family
    delete data['images'];
    // A validated text config still holds the defaulted HMM section (the schema fills it for every token
    // config); saved, it would read as an HMM section next to a text corpus. It never takes effect there.
    if (data['source'] === 'text') delete data['hmm'];
  }
  if (data && family === 'gaussian') {
    delete data['hmm'];
    if (data['source'] === 'images') delete data['gmm'];
    else delete data['images'];
  }
  if (family === 'ar' || family === 'ssm') {
    delete c['diffusion']; // { process: 'none', … }
    if (ev) delete ev['sampleSteps'];
  }
  if (diffusion && family === 'masked-diffusion') delete diffusion['T']; // continuous time: T was ignored
  if (diffusion && family === 'gaussian' && 'schedule' in diffusion) {
    // The Gaussian recipe read only `process` then: its schedule and T had no effect (continuous time).
    delete diffusion['schedule'];
    delete diffusion['T'];
  }
  if (train && typeof train['lr'] === 'number' && train['lr'] <= 0) delete train['lr']; // playground exports of loaded models
  return c;
}

/**
 * Validate a config read back from a checkpoint, a run directory or a playground export.
 *
 * @example
 * ```ts
 * const config = parseSavedRunConfig(JSON.parse(readFileSync('run/config.json', 'utf8')));
 * ```
 */
export function parseSavedRunConfig(raw: unknown): RunConfig {
  return parseRunConfig(dropInertSavedKeys(raw));
}
