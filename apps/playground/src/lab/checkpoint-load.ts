/** Models from checkpoint files: the family, runtime and data source an imported checkpoint (checkpoint-io.ts) builds. */
import { ConfigError } from '@altar/backend';
import { loadModel } from '@altar/models';
import type { Family } from '../state.js';
import type { ImportedCheckpoint } from './checkpoint-io.js';
import { familyOfModel, loadedContinuousRuntime, mixtureScale } from './families.js';
import type { FamilyRuntime } from './runtime.js';
import type { Slot } from './slot.js';
import type { Sources } from './sources.js';
import { buildTokenRuntime } from './token-runtime.js';

export interface LoadedRuntime {
  family: Family;
  runtime: FamilyRuntime;
  source: Slot['source'];
}

/** The runtime for a checkpoint of either kind; the model is disposed when building its runtime fails. */
export function runtimeFromCheckpoint(ck: ImportedCheckpoint, bytes: Uint8Array, src: Sources): LoadedRuntime {
  if (ck.kind === 'continuous') return continuousRuntime(ck, bytes, src);
  const model = loadModel(
    ck.modelConfig !== undefined ? { config: ck.modelConfig, weights: bytes } : { weights: bytes },
  );
  let family: Family;
  let runtime: FamilyRuntime;
  try {
    family = familyOfModel(model, ck.run?.family ?? ck.meta['altar.family']);
    runtime = buildTokenRuntime(family, model, src.hmm);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { family, runtime, source: 'hmm' };
}

/**
 * A Gaussian-family checkpoint: a U-Net on the playground's 16×16 grey shapes, or an MLP on one of its
 * 2-D mixtures. `altar train` models see the data as it is; playground models record the scale they
 * divide it by ('altar.dataScale').
 */
function continuousRuntime(
  ck: Extract<ImportedCheckpoint, { kind: 'continuous' }>,
  bytes: Uint8Array,
  src: Sources,
): LoadedRuntime {
  const { meta, source, process: kind } = ck;
  // The scale the model divides the data by: a playground export records it; an `altar train` run says data.gmm.standardise.
  const standardise = source !== 'shapes' && 'gmm' in ck.run.data && ck.run.data.gmm.standardise;
  const scale =
    meta['altar.dataScale'] !== undefined
      ? Number(meta['altar.dataScale'])
      : standardise
        ? mixtureScale(src.gmm(source))
        : 1;
  if (!(scale > 0))
    throw new ConfigError(
      'model.safetensors.metadata.altar.dataScale',
      `expected a positive number, got '${meta['altar.dataScale']}'`,
    );
  const modelCfg = ck.modelConfig;
  const model = loadModel(modelCfg !== undefined ? { config: modelCfg, weights: bytes } : { weights: bytes });
  const family = source === 'shapes' ? 'gaussian-image' : 'gaussian';
  let runtime: FamilyRuntime;
  try {
    runtime = loadedContinuousRuntime(model, source, kind, source === 'shapes' ? null : src.gmm(source), scale);
  } catch (e) {
    model.dispose();
    throw new ConfigError('config.json.model', (e as Error).message);
  }
  return { family, runtime, source };
}
