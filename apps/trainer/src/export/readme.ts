/**
 * The README.md written beside an export: how to load it, what is not exported and why, and how to
 * continue training with torchrun / FSDP.
 */
import type { ModelConfig } from '@altar/models';

const CALL: Record<string, string> = {
  GPT: 'logits = model(tokens)  # (B, N) int64 -> (B, N, vocab_size); altar prepends BOS = vocab_size - 1',
  SsmLM: 'logits = model(tokens)  # (B, N) int64 -> (B, N, vocab_size); altar prepends BOS = vocab_size - 1',
  DiT: 'x0_logits = model(z_t, t)  # z_t (B, N) int64 with [MASK] = vocab_size, t (B,) in [0, 1]',
  MLPDenoiser: 'pred = model(z_t, t)  # z_t (B, dim), t (B,) in [0, 1] -> the prediction (eps, x0 or v)',
  UNet: 'pred = model(z_t, t)  # z_t (B, C, S, S) NCHW (altar: NHWC), t (B,) in [0, 1] -> the prediction',
};

/**
 * The README text of an export directory.
 *
 * @example
 * ```ts
 * writeFileSync('out/README.md', exportReadme(config, 'GPT', { step: 600, weights: 'ema', params: 1234 }));
 * ```
 */
export function exportReadme(
  c: ModelConfig,
  className: string,
  info: { step: number; weights: 'ema' | 'raw'; params: number },
): string {
  return `# ${className} exported from altar

\`${c.type}\`, ${info.params} parameters, step ${info.step} (${info.weights === 'ema' ? 'EMA' : 'raw'} weights).
\`model.py\` is standalone PyTorch (>= 1.13 and 2.x); \`model.safetensors\` holds the weights under its
state_dict names (the \`safetensors\` package is used when installed, else a small built-in reader).

\`\`\`python
from model import load_model
model = load_model()  # strict: every name and shape must match
${CALL[className] ?? ''}
\`\`\`

## Not exported: the optimizer state

Only the weights are exported. The checkpoint's optimizer.safetensors holds altar's AdamW moments as
\`m.<name>\` / \`v.<name>\` under altar's parameter names and layouts (Linear weights as (in, out)), with
the step count t (bias correction) in its metadata. A torch optimizer's state is keyed by the position of
each parameter in the optimizer's param groups, which your training script decides, and under FSDP by
flattened, sharded parameters, so no file written here could be loaded as is; the LR schedule's position
and the data and RNG streams are altar's too. Restart the optimizer (a short LR warm-up lets fresh moments
settle), or port the moments by hand with the same renames and transposes as the weights
(\`exp_avg\`, \`exp_avg_sq\`, \`step\` = t) before wrapping the model.

## Continue training with torchrun / FSDP

\`\`\`python
# train.py — run with: torchrun --nproc_per_node=8 train.py
import torch, torch.distributed as dist
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from model import load_model

dist.init_process_group("nccl")
rank = dist.get_rank()
torch.cuda.set_device(rank % torch.cuda.device_count())
model = FSDP(load_model(device="cuda").train())  # or DistributedDataParallel for models that fit one GPU
opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.0)
# ... your data loader and altar's loss for this family (AR / SSM: next-token cross-entropy over the V data logits)
\`\`\`
`;
}
