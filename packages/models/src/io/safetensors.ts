/**
 * The safetensors codec lives in @altar/backend (so @altar/train can write checkpoints without
 * depending on the model zoo); @altar/models re-exports it so existing imports keep working.
 */
export {
  DTYPE_SIZES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  bytesOf,
  decodeSafetensors,
  encodeSafetensors,
  floatToHalf,
  safetensorsToTensors,
  tensorsToSafetensors,
  toHostArray,
  type SafeDtype,
  type SafeTensor,
  type SafetensorsFile,
} from '@altar/backend';
