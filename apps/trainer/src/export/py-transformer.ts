/**
 * `model.py` for altar's transformers, nanoGPT style: the causal LM (`GPT`: full, sliding-window or linear
 * attention; rotary or learned positions; LayerNorm or RMSNorm; GELU or SwiGLU) and the time-conditioned
 * bidirectional denoiser (`DiT`: adaLN-Zero, or learned constant modulation without time conditioning).
 */
import type { ArTransformerConfig, DiffusionTransformerConfig } from '@altar/models';
import {
  type PyField,
  PY_MLP,
  PY_RMSNORM,
  PY_SAFETENSORS,
  PY_SWIGLU,
  PY_TIME,
  pyConfigClass,
  pyFloat,
  pyHeader,
  pyLoadModel,
  pyNorm,
} from './py-common.js';

const PY_ROPE = `def rope_tables(n, head_dim, device, base=10000.0):
    """cos/sin (n, head_dim/2) for positions 0..n-1, angle p * base^(-2i/head_dim) (RoFormer), in float64."""
    i = torch.arange(head_dim // 2, dtype=torch.float64)
    inv_freq = base ** (-2.0 * i / head_dim)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv_freq[None]
    return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x, cos, sin):
    """Rotate-half layout: the pair (x_i, x_{i+dh/2}) is rotated by its angle. x (B, H, N, dh)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)`;

const PY_SOFTMAX_ATTN = `def softmax_attention(q, k, v, mask):
    """softmax(q k^T / sqrt(dh)) v over (B, H, N, dh); mask (N, N) bool, True where query i sees key j."""
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0: fused flash / memory-efficient kernels
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, H, N, N)
    if mask is not None:
        att = att.masked_fill(~mask, float("-inf"))
    return F.softmax(att, dim=-1) @ v`;

const PY_CAUSAL_MASK = `def causal_mask(n, window, device):
    """(n, n) bool: key j visible from query i when j <= i (and j > i - window for sliding attention)."""
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    ok = j <= i
    if window is not None:
        ok = ok & (j > i - window)
    return ok`;

const PY_LINEAR_ATTN = `def linear_attention(q, k, v, chunk, eps=1e-6):
    """Causal linear attention (Katharopoulos et al. 2020), phi(x) = elu(x) + 1:
    y_i = phi(q_i)^T S_i / (phi(q_i)^T z_i + eps), S_i = sum_{j<=i} phi(k_j) v_j^T, z_i = sum_{j<=i} phi(k_j).
    Chunked: quadratic inside chunks of \`chunk\` positions, the state carried across chunks. (B, H, N, dh)."""
    B, H, N, dh = q.shape
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    c = min(chunk, N)
    nc = -(-N // c)
    pad = nc * c - N
    if pad:
        fq, fk, v = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v))
    fq, fk, vc = (t.reshape(B, H, nc, c, dh) for t in (fq, fk, v))  # (B, H, nc, C, dh)
    tri = torch.ones(c, c, device=q.device, dtype=q.dtype).tril()
    a = (fq @ fk.transpose(-2, -1)) * tri  # (B, H, nc, C, C)
    kv = fk.transpose(-2, -1) @ vc  # (B, H, nc, dh, dh)
    ks = fk.sum(3, keepdim=True)  # (B, H, nc, 1, dh)
    s_prev = torch.cat([torch.zeros_like(kv[:, :, :1]), kv.cumsum(2)[:, :, :-1]], dim=2)  # state before each chunk
    z_prev = torch.cat([torch.zeros_like(ks[:, :, :1]), ks.cumsum(2)[:, :, :-1]], dim=2)
    num = a @ vc + fq @ s_prev
    den = a.sum(-1, keepdim=True) + (fq * z_prev).sum(-1, keepdim=True)
    y = (num / (den + eps)).reshape(B, H, nc * c, dh)
    return y[:, :, :N]`;

function attentionClass(kind: 'full' | 'sliding' | 'linear' | 'bidirectional', rope: boolean): string {
  const call =
    kind === 'linear'
      ? 'y = linear_attention(q, k, v, self.linear_chunk)'
      : kind === 'bidirectional'
        ? 'y = softmax_attention(q, k, v, None)  # bidirectional: every position sees all'
        : `y = softmax_attention(q, k, v, causal_mask(N, ${kind === 'sliding' ? 'self.window' : 'None'}, x.device))`;
  return `class SelfAttention(nn.Module):
    """Multi-head ${kind} attention${rope ? ' with rotary positions' : ''}; one fused qkv projection, no biases."""

    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=False)${
          kind === 'sliding' ? '\n        self.window = config.window' : ''
        }${kind === 'linear' ? '\n        self.linear_chunk = config.linear_chunk' : ''}

    def forward(self, x):
        B, N, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        q, k, v = (t.view(B, N, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))  # (B, H, N, dh)${
          rope
            ? `
        cos, sin = rope_tables(N, self.head_dim, x.device)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)`
            : ''
        }
        ${call}  # (B, H, N, dh)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, N, D))`;
}

function attentionHelpers(kind: 'full' | 'sliding' | 'linear' | 'bidirectional', rope: boolean): string[] {
  const out: string[] = [];
  if (rope) out.push(PY_ROPE);
  if (kind === 'linear') out.push(PY_LINEAR_ATTN);
  else out.push(PY_SOFTMAX_ATTN);
  if (kind === 'full' || kind === 'sliding') out.push(PY_CAUSAL_MASK);
  return out;
}

/**
 * The full `model.py` text for an AR transformer checkpoint (class `GPT`).
 *
 * @example
 * ```ts
 * const py = gptModelPy(model.config as ArTransformerConfig);
 * ```
 */
export function gptModelPy(c: ArTransformerConfig): string {
  const mlpCls = c.mlp === 'swiglu' ? 'SwiGLU' : 'MLP';
  const fields: PyField[] = [
    {
      name: 'vocab_size',
      value: c.vocabSize,
      note: 'tokens, incl. the BOS id altar prepends (V + 1 for a V-token source)',
    },
    { name: 'block_size', value: c.maxLen, note: 'longest sequence (size of the learned position table)' },
    { name: 'n_layer', value: c.nLayers, note: 'transformer blocks' },
    { name: 'n_head', value: c.nHeads, note: 'attention heads' },
    { name: 'n_embd', value: c.dModel, note: 'model width' },
    { name: 'mlp_hidden', value: c.mlpRatio * c.dModel, note: `MLP hidden width (${c.mlpRatio} x n_embd)` },
    { name: 'dropout', value: pyFloat(c.dropout), note: 'residual dropout (training only)' },
  ];
  if (c.attention === 'sliding') fields.push({ name: 'window', value: c.window, note: 'sliding window W' });
  if (c.attention === 'linear')
    fields.push({ name: 'linear_chunk', value: c.linearChunk, note: 'chunk of the parallel linear attention' });
  const rope = c.positions === 'rope';
  const usage = 'logits = model(tokens)  # tokens (B, N) int64 -> next-token logits (B, N, vocab_size)';
  const parts = [
    pyHeader(
      'GPT',
      `a decoder-only transformer (${c.attention} attention, ${c.positions} positions)`,
      JSON.stringify(c),
      usage,
    ),
    pyConfigClass('GPTConfig', 'Hyper-parameters of the exported checkpoint (defaults = its values).', fields),
    PY_SAFETENSORS,
    ...(c.norm === 'rmsnorm' ? [PY_RMSNORM] : []),
    c.mlp === 'swiglu' ? PY_SWIGLU : PY_MLP,
    ...attentionHelpers(c.attention, rope),
    attentionClass(c.attention, rope),
    `class Block(nn.Module):
    """Pre-norm block: x += attn(norm(x)); x += mlp(norm(x))."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = ${pyNorm(c.norm, 'config.n_embd')}
        self.attn = SelfAttention(config)
        self.ln_2 = ${pyNorm(c.norm, 'config.n_embd')}
        self.mlp = ${mlpCls}(config.n_embd, config.mlp_hidden)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln_1(x)))
        x = x + self.drop(self.mlp(self.ln_2(x)))
        return x`,
    `class GPT(nn.Module):
    """Causal LM; the output head is tied to the token embedding (logits = h wte^T)."""

    def __init__(self, config=None):
        super().__init__()
        config = config or GPTConfig()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),${
                  rope ? '' : '\n                wpe=nn.Embedding(config.block_size, config.n_embd),'
                }
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=${pyNorm(c.norm, 'config.n_embd')},
            )
        )

    def forward(self, idx):
        B, N = idx.shape
        x = self.transformer.wte(idx)  # (B, N, D)${
          rope
            ? ''
            : `
        assert N <= self.config.block_size, f"length {N} exceeds block_size {self.config.block_size}"
        x = x + self.transformer.wpe(torch.arange(N, device=idx.device))`
        }
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        return F.linear(x, self.transformer.wte.weight)  # (B, N, vocab_size)`,
    pyLoadModel('GPT', 'GPTConfig'),
  ];
  return parts.join('\n\n\n') + '\n';
}

/**
 * The full `model.py` text for a diffusion transformer checkpoint (class `DiT`).
 *
 * @example
 * ```ts
 * const py = ditModelPy(model.config as DiffusionTransformerConfig);
 * ```
 */
export function ditModelPy(c: DiffusionTransformerConfig): string {
  const mlpCls = c.mlp === 'swiglu' ? 'SwiGLU' : 'MLP';
  const tc = c.timeConditioning;
  const rope = c.positions === 'rope';
  const fields: PyField[] = [
    { name: 'vocab_size', value: c.vocabSize, note: 'V data tokens; the input also takes [MASK] = V' },
    { name: 'block_size', value: c.maxLen, note: 'longest sequence (size of the learned position table)' },
    { name: 'n_layer', value: c.nLayers, note: 'transformer blocks' },
    { name: 'n_head', value: c.nHeads, note: 'attention heads' },
    { name: 'n_embd', value: c.dModel, note: 'model width' },
    { name: 'mlp_hidden', value: c.mlpRatio * c.dModel, note: `MLP hidden width (${c.mlpRatio} x n_embd)` },
    { name: 'dropout', value: pyFloat(c.dropout), note: 'residual dropout (training only)' },
  ];
  const modulation = (k: number) =>
    tc
      ? `self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(config.n_embd, ${k} * config.n_embd))`
      : `self.adaLN_const = nn.Parameter(torch.zeros(${k} * config.n_embd))  # learned; t is ignored`;
  const mod = tc ? 'self.adaLN_modulation(c)' : 'self.adaLN_const[None]';
  const usage = tc
    ? 'logits = model(z, t)  # z (B, N) int64 in 0..V (V = [MASK]), t (B,) in [0, 1] -> x0 logits (B, N, V)'
    : 'logits = model(z, t)  # z (B, N) int64 in 0..V (V = [MASK]); t is ignored -> x0 logits (B, N, V)';
  const parts = [
    pyHeader(
      'DiT',
      `a bidirectional diffusion transformer (${tc ? 'adaLN-Zero time conditioning' : 'no time input'}, ${c.positions} positions)`,
      JSON.stringify(c),
      usage,
    ),
    pyConfigClass('DiTConfig', 'Hyper-parameters of the exported checkpoint (defaults = its values).', fields),
    PY_SAFETENSORS,
    c.mlp === 'swiglu' ? PY_SWIGLU : PY_MLP,
    PY_TIME,
    ...attentionHelpers('bidirectional', rope),
    attentionClass('bidirectional', rope),
    `class DiTBlock(nn.Module):
    """x += gate1 * attn(modulate(norm(x))); x += gate2 * mlp(modulate(norm(x))) (DiT, Peebles & Xie 2023)."""

    def __init__(self, config):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.n_embd, eps=1e-6, elementwise_affine=False)
        self.attn = SelfAttention(config)
        self.norm2 = nn.LayerNorm(config.n_embd, eps=1e-6, elementwise_affine=False)
        self.mlp = ${mlpCls}(config.n_embd, config.mlp_hidden)
        self.drop = nn.Dropout(config.dropout)
        ${modulation(6)}

    def forward(self, x, c):
        shift1, scale1, gate1, shift2, scale2, gate2 = ${mod}.chunk(6, dim=-1)  # (B, D) each
        x = x + self.drop(gate1.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift1, scale1)))
        x = x + self.drop(gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2)))
        return x`,
    `class FinalLayer(nn.Module):
    """modulate(norm(x)) before the tied output head."""

    def __init__(self, config):
        super().__init__()
        self.norm = nn.LayerNorm(config.n_embd, eps=1e-6, elementwise_affine=False)
        ${modulation(2)}

    def forward(self, x, c):
        shift, scale = ${mod}.chunk(2, dim=-1)
        return modulate(self.norm(x), shift, scale)`,
    `class DiT(nn.Module):
    """Denoiser: (z_t, t) -> logits over x0's V data tokens (head tied to the first V embedding rows)."""

    def __init__(self, config=None):
        super().__init__()
        config = config or DiTConfig()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size + 1, config.n_embd)${
          rope ? '' : '\n        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)'
        }${tc ? '\n        self.t_embedder = TimestepEmbedder(config.n_embd, config.n_embd)' : ''}
        self.blocks = nn.ModuleList([DiTBlock(config) for _ in range(config.n_layer)])
        self.final_layer = FinalLayer(config)

    def forward(self, z, t=None):
        B, N = z.shape
        x = self.tok_emb(z)  # (B, N, D)${
          rope ? '' : '\n        x = x + self.pos_emb(torch.arange(N, device=z.device))'
        }
        ${
          tc
            ? `t = t.reshape(B) if torch.is_tensor(t) else torch.full((B,), float(t), device=z.device)
        c = self.t_embedder(t)  # (B, D)`
            : 'c = None  # this checkpoint ignores t'
        }
        for block in self.blocks:
            x = block(x, c)
        x = self.final_layer(x, c)
        return F.linear(x, self.tok_emb.weight[: self.config.vocab_size])  # (B, N, V)`,
    pyLoadModel('DiT', 'DiTConfig'),
  ];
  return parts.join('\n\n\n') + '\n';
}
