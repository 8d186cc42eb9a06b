/**
 * `model.py` for altar's continuous denoisers: the MLP denoiser (vectors, e.g. the 2-D Gaussian mixtures:
 * adaLN-conditioned residual MLP blocks, optional random Fourier input features, the fixed matrix travelling as
 * a buffer) and the U-Net (images; NCHW in torch, pixel_(un)shuffle resampling).
 */
import type { MlpDenoiserConfig, UNetConfig } from '@altar/models';
import { type PyField, PY_SAFETENSORS, PY_TIME, pyConfigClass, pyHeader, pyLoadModel } from './py-common.js';

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
  const fields: PyField[] = [
    { name: 'dim', value: c.dim, note: 'data dimension d' },
    { name: 'hidden', value: c.hidden, note: 'width H of the residual stream' },
    { name: 'n_layer', value: c.nLayers, note: 'residual blocks (H -> 2H -> H)' },
    { name: 'fourier_features', value: m, note: 'random Fourier features m of the input (0: x itself)' },
    { name: 'prediction', value: c.prediction, note: "what the output is: 'eps', 'x0' or 'v' = alpha eps - sigma x0" },
  ];
  const usage = 'pred = model(z, t)  # z (B, dim) float, t (B,) in [0, 1] -> prediction (B, dim)';
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

/**
 * The full `model.py` text for a U-Net checkpoint (class `UNet`, NCHW in torch).
 *
 * @example
 * ```ts
 * const py = unetModelPy(model.config as UNetConfig);
 * ```
 */
export function unetModelPy(c: UNetConfig): string {
  const fields: PyField[] = [
    { name: 'image_size', value: c.imageSize, note: 'square images of this side' },
    { name: 'channels', value: c.channels, note: '1 (grey) or 3 (RGB)' },
    { name: 'base_channels', value: c.baseChannels, note: 'width of the first level' },
    {
      name: 'channel_mults',
      value: { expr: `(${c.channelMults.join(', ')},)`, type: 'tuple' },
      note: 'width multiplier per level',
    },
    { name: 'prediction', value: c.prediction, note: "what the output is: 'eps', 'x0' or 'v' = alpha eps - sigma x0" },
  ];
  const usage = 'pred = model(z, t)  # z (B, C, S, S) float (NCHW; altar is NHWC), t (B,) in [0, 1] -> (B, C, S, S)';
  const parts = [
    pyHeader('UNet', `a time-conditioned U-Net denoiser predicting ${c.prediction}`, JSON.stringify(c), usage),
    pyConfigClass('UNetConfig', 'Hyper-parameters of the exported checkpoint (defaults = its values).', fields),
    PY_SAFETENSORS,
    PY_TIME,
    `class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (altar normalises NHWC's last axis)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ResBlock(nn.Module):
    """h = conv1(silu(norm1(x))) + t_proj(temb); h = conv2(silu(norm2(h))); return skip(x) + h."""

    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1 = LayerNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t_proj = nn.Linear(tdim, cout)
        self.norm2 = LayerNorm2d(cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.t_proj(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Level(nn.Module):
    """One resolution: a ResBlock, then (down path) pixel_unshuffle + 1x1 conv to the next width,
    or (up path) 1x1 conv + pixel_shuffle to the previous width."""

    def __init__(self, block, pool=None, unpool=None):
        super().__init__()
        self.block = block
        if pool is not None:
            self.pool = pool
        if unpool is not None:
            self.unpool = unpool`,
    `class UNet(nn.Module):
    """(z_t, t) -> the ${c.prediction} prediction; skips concatenated on the up path (Ronneberger et al. 2015)."""

    def __init__(self, config=None):
        super().__init__()
        config = config or UNetConfig()
        self.config = config
        ch = [m * config.base_channels for m in config.channel_mults]
        tdim = 4 * config.base_channels
        n = len(ch)
        self.t_embedder = TimestepEmbedder(config.base_channels, tdim)
        self.conv_in = nn.Conv2d(config.channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList()  # level i: ResBlock at width ch[i], then down to ch[i + 1]
        for i in range(n):
            pool = nn.Conv2d(4 * ch[i], ch[i + 1], 1) if i < n - 1 else None
            self.down.append(Level(ResBlock(ch[i], ch[i], tdim), pool=pool))
        self.mid = ResBlock(ch[-1], ch[-1], tdim)
        self.up = nn.ModuleList()  # level i: ResBlock on [h, skip_i], then up to ch[i - 1]; run from the last level
        for i in range(n):
            unpool = nn.Conv2d(ch[i], 4 * ch[i - 1], 1) if i > 0 else None
            self.up.append(Level(ResBlock(2 * ch[i], ch[i], tdim), unpool=unpool))
        self.norm_out = LayerNorm2d(ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], config.channels, 3, padding=1)

    def forward(self, z, t):
        B = z.shape[0]
        t = t.reshape(B) if torch.is_tensor(t) else torch.full((B,), float(t), device=z.device)
        temb = F.silu(self.t_embedder(t))  # (B, tdim)
        h = self.conv_in(z)
        skips = []
        for level in self.down:
            h = level.block(h, temb)
            skips.append(h)
            if hasattr(level, "pool"):
                h = level.pool(F.pixel_unshuffle(h, 2))  # halve the resolution
        h = self.mid(h, temb)
        for level in reversed(self.up):
            h = level.block(torch.cat([h, skips.pop()], dim=1), temb)
            if hasattr(level, "unpool"):
                h = F.pixel_shuffle(level.unpool(h), 2)  # double the resolution
        return self.conv_out(F.silu(self.norm_out(h)))`,
    pyLoadModel('UNet', 'UNetConfig'),
  ];
  return parts.join('\n\n\n') + '\n';
}
