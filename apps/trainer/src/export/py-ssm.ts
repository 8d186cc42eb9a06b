/**
 * `model.py` for altar's state-space LM: selective (Mamba) mixers named as mamba_ssm's `mamba_simple.Mamba`
 * (in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj), or S4D mixers with an FFT convolution (S4D §3).
 */
import type { SsmLmConfig } from '@altar/models';
import {
  type PyField,
  PY_MLP,
  PY_RMSNORM,
  PY_SAFETENSORS,
  pyConfigClass,
  pyFloat,
  pyHeader,
  pyLoadModel,
  pyNorm,
} from './py-common.js';

const PY_MAMBA = `LOG_DECAY_MIN = -10.0  # altar floors log(A_bar) per step at -10 (the state is already forgotten there)


def selective_scan(x, dt, A, Bm, Cm, D):
    """Mamba's recurrence, one step at a time (mamba_ssm's selective_scan_ref):
    h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t,  y_t = C_t . h_t + D x_t.
    x, dt (B, L, E); A (E, N); Bm, Cm (B, L, N) -> (B, L, E).
    For speed on GPUs swap in mamba_ssm.ops.selective_scan_interface.selective_scan_fn (same parameters;
    it has no LOG_DECAY_MIN floor, which only matters for decays below e^-10 per step)."""
    Bsz, L, E = x.shape
    log_decay = torch.clamp(dt.unsqueeze(-1) * A, min=LOG_DECAY_MIN)  # log A_bar (B, L, E, N)
    dA = torch.exp(log_decay)
    dBx = (dt * x).unsqueeze(-1) * Bm.unsqueeze(2)  # B_bar x (B, L, E, N)
    h = x.new_zeros(Bsz, E, A.shape[1])
    ys = []
    for t in range(L):
        h = dA[:, t] * h + dBx[:, t]
        ys.append((h * Cm[:, t].unsqueeze(1)).sum(-1))  # (B, E)
    return torch.stack(ys, dim=1) + x * D


class Mamba(nn.Module):
    """Selective SSM block (Gu & Dao 2023, Alg. 2 / mamba_simple.Mamba):
    (x, z) = in_proj(u); x = silu(causal depthwise conv(x)); dt, B, C from x; y = scan(x) * silu(z); out_proj(y)."""

    def __init__(self, d_model, d_state, expand, d_conv, dt_rank):
        super().__init__()
        d_inner = expand * d_model
        self.d_state, self.dt_rank = d_state, dt_rank
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, u):
        L = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (B, L, E) each
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :L].transpose(1, 2))  # causal: keep the first L outputs
        dt, Bm, Cm = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(self.dt_proj(dt))  # (B, L, E)
        A = -torch.exp(self.A_log)  # (E, N), real diagonal
        y = selective_scan(x, dt, A, Bm, Cm, self.D)
        return self.out_proj(y * F.silu(z))`;

const PY_S4D = `class S4DKernel(nn.Module):
    """S4D (Gu et al. 2022) convolution kernel K_l = 2 Re(C B_bar A_bar^l), ZOH with B = 1, complex diagonal
    A = -exp(log_A_real) + i A_imag per channel; conjugate pairs implicit (the factor 2 Re)."""

    def __init__(self, d_model, d_state):
        super().__init__()
        self.log_dt = nn.Parameter(torch.zeros(d_model, 1))
        self.log_A_real = nn.Parameter(torch.full((d_model, d_state), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(d_state, dtype=torch.float32).repeat(d_model, 1))
        self.C_re = nn.Parameter(torch.zeros(d_model, d_state))
        self.C_im = nn.Parameter(torch.zeros(d_model, d_state))

    def forward(self, L):
        dt = torch.exp(self.log_dt)  # (D, 1)
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)  # (D, N)
        dtA = dt * A
        CB = torch.complex(self.C_re, self.C_im) * (torch.exp(dtA) - 1.0) / A  # C B_bar (D, N)
        powers = torch.exp(dtA.unsqueeze(-1) * torch.arange(L, device=A.device, dtype=torch.float32))  # (D, N, L)
        return 2 * (CB.unsqueeze(-1) * powers).sum(1).real  # (D, L)


class S4DMixer(nn.Module):
    """y = out_proj(gelu(K * u + D u)): per-channel S4D convolution (via FFT), then channel mixing."""

    def __init__(self, d_model, d_state):
        super().__init__()
        self.kernel = S4DKernel(d_model, d_state)
        self.D = nn.Parameter(torch.ones(d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, u):
        L = u.shape[1]
        k = self.kernel(L)  # (D, L)
        k_f = torch.fft.rfft(k, n=2 * L)
        u_f = torch.fft.rfft(u.transpose(1, 2), n=2 * L)  # (B, D, L + 1)
        y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L].transpose(1, 2)  # causal convolution (B, L, D)
        y = y + u * self.D
        return self.out_proj(F.gelu(y, approximate="tanh"))`;

/**
 * The full `model.py` text for an SSM LM checkpoint (class `SsmLM`, selective or S4D mixers).
 *
 * @example
 * ```ts
 * const py = ssmModelPy(model.config as SsmLmConfig);
 * ```
 */
export function ssmModelPy(c: SsmLmConfig): string {
  const selective = c.mixer === 'selective';
  const fields: PyField[] = [
    {
      name: 'vocab_size',
      value: c.vocabSize,
      note: 'tokens, incl. the BOS id altar prepends (V + 1 for a V-token source)',
    },
    { name: 'n_layer', value: c.nLayers, note: 'residual blocks' },
    { name: 'd_model', value: c.dModel, note: 'model width' },
    {
      name: 'd_state',
      value: c.dState,
      note: selective ? 'SSM state size N per channel' : 'complex modes per channel',
    },
  ];
  if (selective) {
    fields.push(
      { name: 'expand', value: c.expand, note: 'inner width = expand x d_model' },
      { name: 'd_conv', value: c.convKernel, note: 'causal depthwise conv width' },
      {
        name: 'dt_rank',
        value: Math.max(1, Math.ceil(c.dModel / 16)),
        note: 'rank of the dt projection, ceil(d_model / 16)',
      },
    );
  }
  fields.push(
    { name: 'mlp_hidden', value: c.mlpRatio * c.dModel, note: 'MLP after each mixer (0: none, as Mamba)' },
    { name: 'dropout', value: pyFloat(c.dropout), note: 'residual dropout (training only)' },
  );
  const mixer = selective
    ? 'Mamba(config.d_model, config.d_state, config.expand, config.d_conv, config.dt_rank)'
    : 'S4DMixer(config.d_model, config.d_state)';
  const usage = 'logits = model(tokens)  # tokens (B, N) int64 -> next-token logits (B, N, vocab_size)';
  const parts = [
    pyHeader(
      'SsmLM',
      `a state-space language model (${selective ? 'selective / Mamba' : 'S4D'} mixers)`,
      JSON.stringify(c),
      usage,
    ),
    pyConfigClass('SsmConfig', 'Hyper-parameters of the exported checkpoint (defaults = its values).', fields),
    PY_SAFETENSORS,
    ...(c.norm === 'rmsnorm' ? [PY_RMSNORM] : []),
    ...(c.mlpRatio > 0 ? [PY_MLP] : []),
    selective ? PY_MAMBA : PY_S4D,
    `class Block(nn.Module):
    """x += mixer(norm(x))${c.mlpRatio > 0 ? '; x += mlp(norm2(x))' : ''}."""

    def __init__(self, config):
        super().__init__()
        self.norm = ${pyNorm(c.norm, 'config.d_model')}
        self.mixer = ${mixer}${
          c.mlpRatio > 0
            ? `
        self.norm2 = ${pyNorm(c.norm, 'config.d_model')}
        self.mlp = MLP(config.d_model, config.mlp_hidden)`
            : ''
        }
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x):
        x = x + self.drop(self.mixer(self.norm(x)))${
          c.mlpRatio > 0 ? '\n        x = x + self.drop(self.mlp(self.norm2(x)))' : ''
        }
        return x`,
    `class SsmLM(nn.Module):
    """Embedding, residual SSM blocks, final norm, output head tied to the embedding."""

    def __init__(self, config=None):
        super().__init__()
        config = config or SsmConfig()
        self.config = config
        self.backbone = nn.ModuleDict(
            dict(
                embedding=nn.Embedding(config.vocab_size, config.d_model),
                layers=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                norm_f=${pyNorm(c.norm, 'config.d_model')},
            )
        )

    def forward(self, idx):
        x = self.backbone.embedding(idx)  # (B, N, D)
        for layer in self.backbone.layers:
            x = layer(x)
        x = self.backbone.norm_f(x)
        return F.linear(x, self.backbone.embedding.weight)  # (B, N, vocab_size)`,
    pyLoadModel('SsmLM', 'SsmConfig'),
  ];
  return parts.join('\n\n\n') + '\n';
}
