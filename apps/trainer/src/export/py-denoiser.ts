/**
 * `model.py` for altar's MLP denoiser (vectors, e.g. the 2-D Gaussian mixtures): adaLN-conditioned residual
 * MLP blocks, optional random Fourier input features (the fixed matrix travels as a buffer).
 */
import type { MlpDenoiserConfig } from '@altar/models';
import { PY_SAFETENSORS, PY_TIME, pyConfigClass, pyHeader, pyLoadModel } from './py-common.js';

/**
 * The full `model.py` text for an MLP denoiser checkpoint (class `MLPDenoiser`).
 *
 * @example
 * ```ts
 * const py = mlpDenoiserModelPy(model.config as MlpDenoiserConfig);
 * ```
 */
export function mlpDenoiserModelPy(c: MlpDenoiserConfig): string {
  const m = c.fourierFeatures;
  const fields = [
    { name: 'dim', value: c.dim, note: 'data dimension d' },
    { name: 'hidden', value: c.hidden, note: 'width H of the residual stream' },
    { name: 'n_layer', value: c.nLayers, note: 'residual blocks (H -> 2H -> H)' },
    { name: 'fourier_features', value: m, note: 'random Fourier features m of the input (0: x itself)' },
    { name: 'prediction', value: c.prediction, note: "what the output is: 'eps', 'x0' or 'v' = alpha eps - sigma x0" },
  ];
  const usage = 'pred = model(z, t)          # z (B, dim) float, t (B,) in [0, 1] -> prediction (B, dim)';
  const parts = [
    pyHeader('MLPDenoiser', `a time-conditioned MLP denoiser predicting ${c.prediction}`, JSON.stringify(c), usage),
    pyConfigClass('MLPDenoiserConfig', 'Hyper-parameters of the exported checkpoint (defaults = its values).', fields),
    PY_SAFETENSORS,
    PY_TIME,
    `class ResidualBlock(nn.Module):
    """h += fc2(gelu(fc1(modulate(norm(h), shift, scale)))), (shift, scale) = Linear(SiLU(c)) (adaLN)."""

    def __init__(self, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, eps=1e-6, elementwise_affine=False)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.fc1 = nn.Linear(hidden, 2 * hidden)
        self.fc2 = nn.Linear(2 * hidden, hidden)

    def forward(self, h, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return h + self.fc2(F.gelu(self.fc1(modulate(self.norm(h), shift, scale)), approximate="tanh"))`,
    `class MLPDenoiser(nn.Module):
    """(z_t, t) -> the ${c.prediction} prediction; gamma(x) = [x, sin(x B), cos(x B)] with B = 2 pi B' fixed."""

    def __init__(self, config=None):
        super().__init__()
        config = config or MLPDenoiserConfig()
        self.config = config
        m = config.fourier_features
        if m > 0:
            self.register_buffer("fourier_freqs", torch.zeros(config.dim, m))  # 2 pi B, fixed (not trained)
        self.inp = nn.Linear(config.dim + 2 * m, config.hidden)
        self.t_embedder = TimestepEmbedder(max(16, config.hidden), config.hidden)
        self.blocks = nn.ModuleList([ResidualBlock(config.hidden) for _ in range(config.n_layer)])
        self.norm = nn.LayerNorm(config.hidden, eps=1e-6, elementwise_affine=False)
        self.out = nn.Linear(config.hidden, config.dim)

    def forward(self, z, t):
        B = z.shape[0]
        t = t.reshape(B) if torch.is_tensor(t) else torch.full((B,), float(t), device=z.device)
        c = self.t_embedder(t)  # (B, H)
        if self.config.fourier_features > 0:
            proj = z @ self.fourier_freqs
            z = torch.cat([z, torch.sin(proj), torch.cos(proj)], dim=-1)
        h = self.inp(z)
        for block in self.blocks:
            h = block(h, c)
        return self.out(self.norm(h))`,
    pyLoadModel('MLPDenoiser', 'MLPDenoiserConfig'),
  ];
  return parts.join('\n\n\n') + '\n';
}
