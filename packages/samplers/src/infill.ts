/**
 * Conditioning (infilling) for the discrete diffusion samplers: which positions are given and which are
 * generated. Every diffusion sampler accepts `init` (B × N int32): a data token in [0, V) at a position is
 * given and appears unchanged in the output; {@link FREE_POSITION} (−1), or the process's mask id where it
 * has one, marks a position to generate.
 */
import { AltarError } from '@altar/backend';

/**
 * The `init` value that marks a position to generate, accepted by every diffusion sampler (the mask id
 * is accepted too where the process has one; a uniform D3PM process has none, so −1 is the way there).
 *
 * @example
 * ```ts
 * const init = Int32Array.from([5, FREE_POSITION, FREE_POSITION, 7]); // keep 5 and 7, fill the middle
 * const { samples } = await sampleMasked(model, proc, { batch: 1, seqLen: 4, steps: 64, rng: new Rng(0), init });
 * ```
 */
export const FREE_POSITION = -1;

/** Resolved conditioning: the starting tokens (free positions set to `fill`) and the 0/1 free map. */
export interface ResolvedInit {
  /** B × N tokens: given tokens where `free` is 0, `fill` where it is 1. */
  z: Int32Array;
  /** B × N: 1 where the sampler generates, 0 where the token is given. Null when nothing is given. */
  free: Uint8Array | null;
}

/**
 * Validate `init` (length B × N, every entry a token in [0, V), −1 or `maskId`) and build the start:
 * free positions get `fill`. Without `init`, every position is free and filled with `fill`.
 */
export function resolveInit(
  op: string,
  o: { batch: number; seqLen: number; init?: Int32Array },
  vocabSize: number,
  maskId: number,
  fill: number,
): ResolvedInit {
  const n = o.batch * o.seqLen;
  if (!o.init) return { z: new Int32Array(n).fill(fill), free: null };
  const init = o.init;
  if (!(init instanceof Int32Array))
    throw new AltarError('BAD_ARG', `${op}: init must be an Int32Array (B × N), got ${typeof init}`);
  if (init.length !== n)
    throw new AltarError('BAD_ARG', `${op}: init has ${init.length} tokens, expected batch × seqLen = ${n}`);
  const z = new Int32Array(n);
  const free = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const x = init[j]!;
    if (x === FREE_POSITION || (maskId >= 0 && x === maskId)) {
      free[j] = 1;
      z[j] = fill;
    } else if (Number.isInteger(x) && x >= 0 && x < vocabSize) {
      z[j] = x;
    } else {
      const b = Math.floor(j / o.seqLen);
      const i = j % o.seqLen;
      const mask = maskId >= 0 ? `, the mask id ${maskId}` : '';
      throw new AltarError(
        'BAD_TOKEN',
        `${op}: init[${b}][${i}] = ${x} is neither a token in [0, ${vocabSize})${mask} nor ${FREE_POSITION} (generate)`,
      );
    }
  }
  return { z, free };
}
