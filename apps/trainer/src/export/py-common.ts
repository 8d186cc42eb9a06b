/**
 * Python building blocks shared by every generated `model.py`: the file header, the config dataclass,
 * the dependency-free safetensors reader and the small layers whose math must match altar's exactly
 * (RMSNorm, GELU-tanh MLPs, the sinusoidal time embedding, adaLN `modulate`).
 */

/**
 * One field of a generated config dataclass: its Python name, its value (baked in) and why.
 *
 * @example
 * ```ts
 * const f: PyField = { name: 'n_layer', value: 4, note: 'transformer blocks' };
 * ```
 */
export interface PyField {
  name: string;
  /** A number, boolean, string or null, or a raw Python expression with its type (e.g. a tuple). */
  value: number | boolean | string | null | { expr: string; type: string };
  note: string;
}

function pyValue(v: PyField['value']): string {
  if (v === null) return 'None';
  if (typeof v === 'object') return v.expr;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return JSON.stringify(v);
  if (!Number.isFinite(v)) throw new Error(`pyValue: not a finite number: ${v}`);
  return String(v);
}

function pyType(v: PyField['value']): string {
  if (v === null) return 'Optional[int]';
  if (typeof v === 'object') return v.type;
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'str';
  return Number.isInteger(v) ? 'int' : 'float';
}

/**
 * A float field value (a Python float even when it is a whole number, e.g. dropout 0 → 0.0).
 *
 * @example
 * ```ts
 * const f: PyField = { name: 'dropout', value: pyFloat(0), note: 'residual dropout' }; // dropout: float = 0.0
 * ```
 */
export function pyFloat(v: number): { expr: string; type: string } {
  return { expr: Number.isInteger(v) ? `${v}.0` : String(v), type: 'float' };
}

/**
 * A `@dataclass` with every hyper-parameter baked in as its default, one comment per field.
 *
 * @example
 * ```ts
 * pyConfigClass('GPTConfig', 'The checkpoint's hyper-parameters.', [{ name: 'n_layer', value: 2, note: 'blocks' }]);
 * ```
 */
export function pyConfigClass(name: string, doc: string, fields: PyField[]): string {
  const w = Math.max(...fields.map((f) => `${f.name}: ${pyType(f.value)} = ${pyValue(f.value)}`.length));
  const lines = fields.map((f) => {
    const decl = `${f.name}: ${pyType(f.value)} = ${pyValue(f.value)}`;
    return `    ${decl.padEnd(w)}  # ${f.note}`;
  });
  return [`@dataclass`, `class ${name}:`, `    """${doc}"""`, '', ...lines].join('\n');
}

/**
 * The module docstring and imports of a generated `model.py`.
 *
 * @example
 * ```ts
 * pyHeader('GPT', 'a causal transformer', '{"type":"ar-transformer"}', 'logits = model(tokens)');
 * ```
 */
export function pyHeader(cls: string, what: string, altarConfig: string, usage: string): string {
  return `"""${cls}: ${what}, exported by \`altar export --to pytorch\`.

Standalone PyTorch (>= 1.13, 2.x) code: no altar, no other package. The weights are in
model.safetensors next to this file, under this module's parameter names (state_dict keys).

    from model import load_model
    model = load_model()  # reads ./model.safetensors; load_model(path, device="cuda") also works
${usage
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}

Numerics follow altar's TensorFlow.js implementation (float32); the export test matches logits to 1e-4.
altar model config: ${altarConfig}
"""
import json
import math
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F`;
}

/** Reads safetensors (F32) without the `safetensors` package; prefers the package when installed. */
export const PY_SAFETENSORS = `def load_safetensors(path):
    """Tensors by name from a .safetensors file (uses the safetensors package when installed)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = bytearray(data[8 + n + start : 8 + n + end])
        out[name] = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]).reshape(info["shape"]).clone()
    return out`;

/** `load_model(path, device)`: builds the module from the baked-in config and loads the weights strictly. */
export function pyLoadModel(cls: string, configCls: string): string {
  return `def load_model(path=None, device="cpu"):
    """${cls}(${configCls}()) with the exported weights (strict: every name and shape must match)."""
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.safetensors")
    model = ${cls}(${configCls}())
    model.load_state_dict(load_safetensors(path), strict=True)
    return model.to(device).eval()`;
}

/** RMSNorm (torch < 2.4 has none); eps inside the square root as altar's. */
export const PY_RMSNORM = `class RMSNorm(nn.Module):
    """RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight`;

/**
 * The Python expression building a block's norm of the given kind.
 *
 * @example
 * ```ts
 * pyNorm('rmsnorm', 'config.n_embd'); // 'RMSNorm(config.n_embd)'
 * ```
 */
export function pyNorm(kind: 'layernorm' | 'rmsnorm', dim: string): string {
  return kind === 'rmsnorm' ? `RMSNorm(${dim})` : `nn.LayerNorm(${dim}, eps=1e-5)`;
}

/** The GELU MLP (GPT-2) and the SwiGLU MLP (LLaMA), both with biases as altar's. */
export const PY_MLP = `class MLP(nn.Module):
    """Position-wise MLP with GELU, tanh approximation (GPT-2)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.c_fc = nn.Linear(dim, hidden)
        self.c_proj = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))`;

/** SwiGLU (Shazeer 2020): w2(silu(w1 x) * w3 x), biases included. */
export const PY_SWIGLU = `class SwiGLU(nn.Module):
    """Gated MLP (Shazeer 2020, LLaMA): w2(silu(w1 x) * w3 x), with biases."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden)
        self.w3 = nn.Linear(dim, hidden)
        self.w2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))`;

/** DiT's TimestepEmbedder with altar's sinusoid: [cos, sin] of 1000·t·10000^(-i/half). */
export const PY_TIME = `def modulate(x, shift, scale):
    """adaLN (DiT): x * (1 + scale) + shift, shift/scale (B, D) broadcast over the sequence."""
    if x.dim() == 3:
        shift, scale = shift.unsqueeze(1), scale.unsqueeze(1)
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> (B, dim): sinusoidal features of 1000 t, then Linear -> SiLU -> Linear (DiT)."""

    def __init__(self, freq_dim, dim):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    @staticmethod
    def timestep_embedding(t, dim, scale=1000.0):
        half = dim // 2
        i = torch.arange(half, dtype=torch.float64)
        freqs = torch.exp(-math.log(10000.0) * i / half).to(device=t.device, dtype=torch.float32)
        args = (t.float() * scale)[:, None] * freqs[None]  # (B, half)
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = F.pad(emb, (0, 1))
        return emb

    def forward(self, t):
        return self.mlp(self.timestep_embedding(t, self.freq_dim))`;
