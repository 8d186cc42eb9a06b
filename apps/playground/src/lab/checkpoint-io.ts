/**
 * Checkpoint I/O of the playground: the two files `altar train` writes (a run config.json and a
 * model.safetensors with the model config in its metadata), written and read through @altar/recipes'
 * run-config schema, so an export is a valid `altar eval` / `altar sample` run and an `altar train`
 * checkpoint loads here when its data is what the playground draws.
 */
import { ConfigError } from '@altar/backend';
import { decodeSafetensors } from '@altar/models';
import type { GaussianScheduleKind } from '@altar/noise';
import {
  parseRunConfig,
  parseSavedRunConfig,
  type GaussianRunConfig,
  type RunConfig,
  type TokenRunConfig,
} from '@altar/recipes';
import type { Family, PointSourceName } from '../state.js';
import type { FamilyRuntime } from './runtime.js';
import { IMAGE_SIZE } from './continuous.js';

/** What a slot trains on: 'hmm' for token families, a 2-D mixture for 'gaussian', 'shapes' for 'gaussian-image'. */
export type SlotSource = 'hmm' | PointSourceName | 'shapes';

/** The playground's token views draw from the default HMM (`new HmmSource()`). */
const DEFAULT_HMM = ((c) => (c.family === 'gaussian' ? '' : JSON.stringify(c.data.hmm)))(
  parseRunConfig({ family: 'ar' }),
);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The safetensors metadata `altar train` writes (the model config, the family, the step); the continuous
 * families add the playground's own family name and the data scale their model sees (x / scale).
 */
export function exportMetadata(family: Family, runtime: FamilyRuntime, step: number): Record<string, string> {
  const cont = runtime.continuous;
  const meta: Record<string, string> = {
    format: 'altar',
    step: String(step),
    'altar.config': JSON.stringify(runtime.model.config),
    'altar.family': cont ? 'gaussian' : family,
  };
  if (cont) {
    meta['altar.playground.family'] = family;
    meta['altar.dataScale'] = String(cont.dataScale);
  }
  return meta;
}

/** config.json of an export: the run config the recipe was built from, with this run's lr (when trained here), seed and step. */
export function exportRunConfig(rc: RunConfig, train: { lr: number; seed: number; steps: number }): string {
  const run = parseRunConfig({
    ...rc,
    train: { ...rc.train, ...(train.lr > 0 ? { lr: train.lr } : {}), seed: train.seed, steps: train.steps },
  });
  return `${JSON.stringify(run, null, 2)}\n`;
}

export type ImportedCheckpoint =
  | { kind: 'tokens'; run: TokenRunConfig | null; modelConfig: object | undefined; meta: Record<string, string> }
  | {
      kind: 'continuous';
      run: GaussianRunConfig;
      source: PointSourceName | 'shapes';
      process: GaussianScheduleKind;
      modelConfig: object | undefined;
      meta: Record<string, string>;
    };

/**
 * Read config.json + model.safetensors. config.json is a run config (validated by the shared schema;
 * configs saved by older versions have their inert keys dropped) or a bare model config (`type`, no `family`).
 * Errors name the file and the key path.
 */
export function readCheckpoint(configText: string, bytes: Uint8Array): ImportedCheckpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(configText);
  } catch (e) {
    throw new ConfigError('config.json', `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(raw)) throw new ConfigError('config.json', 'not a valid config: expected an object');
  let meta: Record<string, string>;
  try {
    meta = decodeSafetensors(bytes).metadata;
  } catch (e) {
    throw new ConfigError('model.safetensors', (e as Error).message);
  }
  if (raw['family'] === undefined && typeof raw['type'] === 'string')
    return { kind: 'tokens', run: null, modelConfig: raw, meta }; // a bare model config
  const input =
    raw['family'] === undefined && meta['altar.family'] !== undefined ? { ...raw, family: meta['altar.family'] } : raw;
  let run: RunConfig;
  try {
    run = parseSavedRunConfig(input);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new ConfigError(
        e.path ? `config.json.${e.path}` : 'config.json',
        e.message.slice(e.path ? e.path.length + 2 : 0),
      );
    throw e;
  }
  // The weights' metadata carries the full model config ('altar.config'); a run config's model with its sizes works too.
  const modelConfig = 'vocabSize' in run.model || run.family === 'gaussian' ? run.model : undefined;
  if (run.family !== 'gaussian') {
    if (JSON.stringify(run.data.hmm) !== DEFAULT_HMM)
      throw new ConfigError(
        'config.json.data.hmm',
        `the checkpoint used a non-default HMM (${JSON.stringify(run.data.hmm)}); the playground has the default one only`,
      );
    return { kind: 'tokens', run, modelConfig, meta };
  }
  let source: PointSourceName | 'shapes';
  if ('images' in run.data) {
    const { size, channels } = run.data.images;
    if (size !== IMAGE_SIZE || channels !== 1)
      throw new ConfigError(
        'config.json.data.images',
        `the playground draws ${IMAGE_SIZE}×${IMAGE_SIZE} grey shapes; this checkpoint was trained on ${size}×${size}×${channels}`,
      );
    source = 'shapes';
  } else {
    const preset = run.data.gmm.preset;
    if (preset === 'random')
      throw new ConfigError(
        'config.json.data.gmm.preset',
        `the playground has the rings, grid and moons mixtures; this checkpoint was trained on '${preset}'`,
      );
    source = preset;
  }
  return { kind: 'continuous', run, source, process: run.diffusion.process, modelConfig, meta };
}
