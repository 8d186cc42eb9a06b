/** `altar export DIR --to pytorch OUT`: flag parsing and printing; the work is export/export-run.ts. */
import { AltarError } from '@altar/backend';
import { choiceFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../io.js';
import { runExport } from '../export/export-run.js';
import { PYTORCH_EXPORT_TYPES } from '../export/pytorch.js';

const TARGETS = ['pytorch'] as const;

export const exportCommand: Command = {
  name: 'export',
  summary: 'export a checkpoint to PyTorch: a standalone model.py and model.safetensors',
  help: `altar export DIR --to pytorch OUT [--best] [--raw] [--overwrite] [--json]

Writes the checkpoint in DIR (a run directory from altar train/demo, or one step-* directory) to OUT:
  model.py           a standalone PyTorch module (torch >= 1.13, 2.x) for the checkpoint's architecture,
                     nanoGPT / Mamba style, its hyper-parameters baked into a config dataclass;
                     load_model() builds it and loads the weights
  model.safetensors  the weights under the module's parameter names (Linear weights transposed to torch's layout)
  README.md          how to load it, continuing training with torchrun / FSDP, what is not exported
  tokenizer.json     copied from the checkpoint when it has one (runs on a text corpus)
Families: ${PYTORCH_EXPORT_TYPES.join(', ')} (class GPT, DiT, SsmLM, MLPDenoiser, UNet).
Not exported: the optimizer state (altar's AdamW moments; see the README written to OUT for why).
Uses the EMA weights when the checkpoint has them (--raw: the raw weights); --best: the best checkpoint.
OUT must be absent or empty unless --overwrite.

JSON: {"checkpoint","step","weights","modelType","className","params","files"}
Exit codes: 0 ok, 1 runtime error (corrupt checkpoint), 2 usage error (missing DIR, unknown --to, OUT not empty).

Examples:
  altar export runs/ar --to pytorch export/ar
  python3 -c "import sys; sys.path.insert(0, 'export/ar'); from model import load_model; print(load_model())"`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(
      argv,
      {
        to: { type: 'string' },
        best: { type: 'boolean' },
        raw: { type: 'boolean' },
        overwrite: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (values.to === undefined) throw new UsageError(`--to: required (one of ${TARGETS.join(', ')})`);
    choiceFlag('to', values.to, TARGETS, 'pytorch');
    if (positionals.length !== 2)
      throw new UsageError(
        `expected a checkpoint directory and an output directory, got ${
          positionals.length === 0 ? 'none' : positionals.map((p) => `'${p}'`).join(' ')
        }`,
      );
    const [dir, out] = positionals as [string, string];
    let r;
    try {
      r = await runExport({
        dir,
        out,
        which: values.best ? 'best' : 'latest',
        weights: values.raw ? 'raw' : 'ema',
        overwrite: values.overwrite === true,
      });
    } catch (e) {
      if (e instanceof AltarError && e.code === 'BAD_MODEL') throw new UsageError(e.message);
      throw e;
    }
    if (values.json) {
      io.out(JSON.stringify(r) + '\n');
    } else {
      io.out(
        `exported ${r.modelType} (${r.params} parameters, step ${r.step}, ${r.weights} weights) from ${r.checkpoint}\n` +
          r.files.map((f) => `  ${f}\n`).join('') +
          `load: import sys; sys.path.insert(0, '${out}'); from model import load_model; model = load_model()\n`,
      );
    }
    return 0;
  },
};
