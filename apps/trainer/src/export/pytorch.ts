/**
 * Export an altar model to PyTorch: a standalone `model.py` generated from the model config (its
 * hyper-parameters baked into a config dataclass) and `model.safetensors` under that module's names.
 * Pure functions over bytes here; the checkpoint reading and file writing are in ./export-run.ts.
 */
import { AltarError, decodeSafetensors, encodeSafetensors, type SafeTensor } from '@altar/backend';
import { validateModelConfig, type ModelConfig } from '@altar/models';
import { ditModelPy, gptModelPy } from './py-transformer.js';
import { ssmModelPy } from './py-ssm.js';
import { mlpDenoiserModelPy, unetModelPy } from './py-denoiser.js';
import { toTorchTensors } from './weights.js';

/**
 * The families `altar export --to pytorch` writes: every model type of @altar/models.
 *
 * @example
 * ```ts
 * PYTORCH_EXPORT_TYPES.includes(config.type);
 * ```
 */
export const PYTORCH_EXPORT_TYPES = [
  'ar-transformer',
  'diffusion-transformer',
  'ssm-lm',
  'mlp-denoiser',
  'unet',
] as const;

/**
 * The two files of an export, in memory: `model.py` text and `model.safetensors` bytes.
 *
 * @example
 * ```ts
 * const { modelPy, weights } = exportPytorch(config, tensors);
 * ```
 */
export interface PytorchExport {
  /** The Python module's source. */
  modelPy: string;
  /** The weights under the module's state_dict names (F32, safetensors). */
  weights: Uint8Array;
  /** The Python class `model.py` defines (GPT, DiT, SsmLM, MLPDenoiser, UNet). */
  className: string;
}

/**
 * The generated `model.py` and its class name for a model config.
 *
 * @example
 * ```ts
 * const { source, className } = pytorchModelSource({ ...config }); // className 'GPT' for an AR transformer
 * ```
 */
export function pytorchModelSource(c: ModelConfig): { source: string; className: string } {
  switch (c.type) {
    case 'ar-transformer':
      return { source: gptModelPy(c), className: 'GPT' };
    case 'diffusion-transformer':
      return { source: ditModelPy(c), className: 'DiT' };
    case 'ssm-lm':
      return { source: ssmModelPy(c), className: 'SsmLM' };
    case 'mlp-denoiser':
      return { source: mlpDenoiserModelPy(c), className: 'MLPDenoiser' };
    case 'unet':
      return { source: unetModelPy(c), className: 'UNet' };
    default:
      throw new AltarError(
        'BAD_MODEL',
        `export to pytorch: model type '${(c as { type: string }).type}' is not supported; supported: ${PYTORCH_EXPORT_TYPES.join(', ')}`,
      );
  }
}

/**
 * Export a model given its validated config and its weights (altar names, as in a checkpoint's
 * model.safetensors / ema.safetensors). `metadata` adds string entries to the safetensors header.
 *
 * @example
 * ```ts
 * const { tensors } = decodeSafetensors(readFileSync('run/step-00000600/ema.safetensors'));
 * const { modelPy, weights } = exportPytorch(config, tensors, { 'altar.step': '600' });
 * ```
 */
export function exportPytorch(
  c: ModelConfig,
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): PytorchExport {
  const { source, className } = pytorchModelSource(c);
  const torchTensors = toTorchTensors(c, tensors);
  const weights = encodeSafetensors(torchTensors, {
    format: 'pt',
    'altar.config': JSON.stringify(c),
    'altar.export': `pytorch/${className}`,
    ...metadata,
  });
  return { modelPy: source, weights, className };
}

/**
 * Export from an altar safetensors file's bytes (the config is read from the caller, or else from the file's
 * `altar.config` metadata entry, which `altar train` writes).
 *
 * @example
 * ```ts
 * const out = exportPytorchFromBytes(readFileSync('run/step-00000600/model.safetensors'));
 * ```
 */
export function exportPytorchFromBytes(
  bytes: Uint8Array,
  config?: ModelConfig,
  metadata: Record<string, string> = {},
): PytorchExport & { config: string } {
  const file = decodeSafetensors(bytes);
  let c = config;
  if (!c) {
    const raw = file.metadata['altar.config'];
    if (raw === undefined)
      throw new AltarError('BAD_CHECKPOINT', 'export: the weights file records no model config (altar.config)');
    c = validateModelConfig(JSON.parse(raw));
  }
  return { ...exportPytorch(c, file.tensors, metadata), config: JSON.stringify(c) };
}
