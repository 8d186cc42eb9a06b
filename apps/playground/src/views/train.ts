/** View 2: live training in the compute worker, loss in bits per token against the source's entropy. */
import { h, explainCard, viewLayout, append, clear, field, select, stat, fmtInt } from '../ui/dom.js';
import { chart, legend } from '../charts/chart.js';
import { ema, forgetHistory, historyOf, trailingMean, type TrainHistory } from '../store.js';
import { FAMILY_TRAIN_DEFAULTS, isContinuous, pointSourceOf, type AppState, type Family, type Size } from '../state.js';
import type { Ctx, View } from './view.js';

export const FAMILY_OPTS = [
  ['ar', 'AR transformer (exact NLL)'],
  ['masked-diffusion', 'Masked diffusion (NELBO)'],
  ['ssm', 'Selective SSM / Mamba-style (exact NLL)'],
  ['d3pm', 'D3PM, uniform noise (NELBO)'],
  ['gaussian', 'Gaussian diffusion, 2-D points (MLP)'],
  ['gaussian-image', 'Gaussian diffusion, 16×16 images (U-Net)'],
] as const;
export const POINT_OPTS = [
  ['rings', 'two rings (24 Gaussians)'],
  ['grid', '5×5 grid'],
  ['moons', 'two moons'],
] as const;

export const FAMILY_COLORS: Record<string, string> = {
  ar: '#4f46e5',
  'masked-diffusion': '#db2777',
  ssm: '#0891b2',
  d3pm: '#d97706',
  gaussian: '#7c3aed',
  'gaussian-image': '#059669',
};
export function isExact(f: string): boolean {
  return f === 'ar' || f === 'ssm';
}
export const SIZE_OPTS = [
  ['tiny', 'tiny: width 32, 2 layers'],
  ['small', 'small: width 64, 2 layers'],
] as const;
const SIZE_OPTS_BY_FAMILY: Partial<Record<Family, ReadonlyArray<readonly [Size, string]>>> = {
  gaussian: [
    // GAUSSIAN_WIDTH · dModel wide, GAUSSIAN_LAYERS blocks (lab/families.ts; not imported: it brings tfjs).
    ['tiny', 'tiny: MLP 64 wide × 2 blocks'],
    ['small', 'small: MLP 128 wide × 2 blocks'],
  ],
  'gaussian-image': [
    ['tiny', 'tiny: U-Net 8 → 16 channels (25k)'],
    ['small', 'small: U-Net 16 → 32 channels (98k)'],
  ],
};
const UNIT_LABEL: Record<TrainHistory['unit'], string> = { token: 'tokens/s', point: 'points/s', pixel: 'pixels/s' };

/** A family change also loads that family's starting lr and batch (FAMILY_TRAIN_DEFAULTS). */
export function pickFamily(f: Family): Partial<AppState> {
  return { family: f, ...FAMILY_TRAIN_DEFAULTS[f] };
}

export class TrainView implements View {
  private root!: HTMLElement;
  private controls!: HTMLElement;
  private stats!: HTMLElement;
  private chartBox!: HTMLElement;
  private off: (() => void) | null = null;
  private raf = 0;
  private paramCount = 0;
  private marginalBits: number | null = null;
  private exportUrls: string[] = [];
  private readonly exportBox = h('div.export-links', { 'data-testid': 'export-links' });

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    this.controls = h('div.card.controls');
    this.stats = h('div.stats');
    this.chartBox = h('div.chart-box');
    root.append(
      viewLayout(
        [
          this.controls,
          explainCard(
            'What the numbers mean',
            h(
              'p',
              {},
              'AR and the SSM report the exact negative log-likelihood −log₂ p(x_i | x_<i). Masked diffusion and D3PM report a one-sample estimate of their NELBO, an upper bound on −log₂ p(x)/n: noisier, and never below the truth on average.',
            ),
            h(
              'p',
              {},
              "Both are bits per token: the dashed line is the source's true entropy rate, the floor no model can beat. The grey line is the per-position entropy: what a model that ignores context would get.",
            ),
            h(
              'p',
              {},
              "Gaussian diffusion trains on the v-prediction error (Salimans & Ho 2022) and, every few steps, evaluates its continuous-time NELBO (Kingma et al. 2021) in bits per dimension on fresh data (times drawn uniformly in log-SNR, which keeps the one-sample estimate quiet): for points an upper bound, on average, on the mixture's differential entropy; for images the bits of each 8-bit pixel.",
            ),
          ),
        ],
        h('section.main-col', {}, h('div.card', {}, this.stats, this.chartBox)),
      ),
    );
    this.buildControls(this.ctx.getState());
    this.off = this.ctx.client.on((e) => {
      if (e.type === 'train') this.schedule();
    });
    void this.ctx.tokenInfo().then((i) => {
      this.marginalBits = i.marginalBits;
      this.schedule();
    });
    void this.ctx.client.call('models', {}).then((ms) => {
      const m = ms.find((x) => x.family === this.ctx.getState().family);
      if (m) this.paramCount = m.paramCount;
      this.schedule();
    });
    this.schedule();
  }

  private buildControls(s: AppState): void {
    this.ctrlKey = `${s.family}|${s.size}|${s.lr}|${s.batch}|${s.seed}|${s.source}`;
    clear(this.controls);
    const lr = h('input', { type: 'number', step: 0.0005, min: 0.00001, max: 0.1, value: s.lr, 'data-testid': 'lr' });
    lr.addEventListener('change', () => this.ctx.setState({ lr: Number(lr.value) || 0.01 }));
    const batch = h('input', { type: 'number', min: 1, max: 256, value: s.batch, 'data-testid': 'batch' });
    batch.addEventListener('change', () =>
      this.ctx.setState({ batch: Math.max(1, Math.floor(Number(batch.value) || 32)) }),
    );
    const seed = h('input', { type: 'number', min: 0, value: s.seed, 'data-testid': 'seed' });
    seed.addEventListener('change', () =>
      this.ctx.setState({ seed: Math.max(0, Math.floor(Number(seed.value) || 0)) }),
    );
    const start = h('button.primary', { 'data-testid': 'train-start', onclick: () => void this.start() }, '▶ Start');
    const pause = h('button', { 'data-testid': 'train-pause', onclick: () => void this.pause() }, '❚❚ Pause');
    const reset = h('button.ghost', { 'data-testid': 'train-reset', onclick: () => void this.reset() }, '↺ Reset');
    const exp = h(
      'button.ghost',
      { 'data-testid': 'train-export', onclick: () => void this.exportCkpt() },
      '⤓ Export checkpoint',
    );
    append(this.controls, [
      h('h2', {}, 'Train live'),
      field(
        'Family',
        select(FAMILY_OPTS, s.family, (v) => this.ctx.setState(pickFamily(v)), 'family-select'),
      ),
      s.family === 'gaussian'
        ? field(
            'Data',
            select(POINT_OPTS, pointSourceOf(s.source), (v) => this.ctx.setState({ source: v }), 'points-select'),
          )
        : null,
      field(
        'Size',
        select(
          SIZE_OPTS_BY_FAMILY[s.family] ?? SIZE_OPTS,
          s.size,
          (v) => this.ctx.setState({ size: v }),
          'size-select',
        ),
      ),
      h('div.row2', {}, field('Learning rate', lr), field('Batch', batch)),
      field('Seed', seed),
      h('div.buttons', {}, start, pause, reset),
      h('div.buttons', {}, exp),
      this.exportBox,
      h(
        'p.muted.small',
        {},
        `${s.family === 'gaussian' ? `Source: the 2-D mixture '${pointSourceOf(s.source)}'.` : s.family === 'gaussian-image' ? 'Source: procedural 16×16 shapes and digits.' : 'Source: HMM tokens, n = 32.'} Training runs in a Web Worker; the page stays responsive. Trained models are kept in this browser and come back after a reload.`,
      ),
    ]);
  }

  private async start(): Promise<void> {
    const s = this.ctx.getState();
    try {
      const sum = await this.ctx.client.call('trainStart', {
        family: s.family,
        size: s.size,
        source: s.source,
        lr: s.lr,
        batch: s.batch,
        seed: s.seed,
      });
      this.paramCount = sum.paramCount;
      historyOf(s.family).running = true;
      this.schedule();
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    }
  }

  /** The worker answers once the step in flight is done and the model is saved: until then, 'pausing…'. */
  private pausing = false;

  private async pause(): Promise<void> {
    const s = this.ctx.getState();
    this.pausing = historyOf(s.family).running;
    this.schedule();
    try {
      await this.ctx.client.call('trainPause', { family: s.family });
    } finally {
      this.pausing = false;
    }
    historyOf(s.family).running = false;
    this.schedule();
  }

  private async reset(): Promise<void> {
    const s = this.ctx.getState();
    await this.ctx.client.call('trainReset', { family: s.family });
    forgetHistory(s.family);
    this.schedule();
  }

  private async exportCkpt(): Promise<void> {
    const s = this.ctx.getState();
    try {
      const r = await this.ctx.client.call('exportCheckpoint', { family: s.family });
      for (const u of this.exportUrls) URL.revokeObjectURL(u);
      this.exportUrls = [];
      clear(this.exportBox);
      const links = (
        [
          ['config.json', r.config, 'application/json'],
          ['model.safetensors', r.safetensors, 'application/octet-stream'],
        ] as const
      ).map(([name, data, type]) => {
        const url = URL.createObjectURL(new Blob([data as BlobPart], { type }));
        this.exportUrls.push(url);
        return h(
          'a.download',
          { href: url, download: name, 'data-testid': `export-${name.split('.')[1]}` },
          `⤓ ${name}`,
        );
      });
      this.exportBox.append(h('span.muted.small', {}, `${s.family} checkpoint ready:`), ...links);
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    }
  }

  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.render();
    });
  }

  private render(): void {
    const s = this.ctx.getState();
    const hist = historyOf(s.family);
    const cont = isContinuous(s.family);
    const unit = cont ? 'per dim (v-MSE)' : 'bits/token';
    const last = hist.bits.length ? hist.bits[hist.bits.length - 1]! : NaN;
    const sm = ema(hist.bits, 0.8);
    const smLast = sm.length ? sm[sm.length - 1]! : NaN;
    // Each evaluation is unbiased but noisy; shown smoothed as the mean of the last 4 evaluations (a
    // trailing window, not an EMA, so the untrained model's first value leaves the curve within 4 points).
    const bsm = trailingMean(hist.boundBits, 4);
    const boundLast = bsm.length ? bsm[bsm.length - 1]! : NaN;
    clear(this.stats);
    append(this.stats, [
      stat(
        'Status',
        this.pausing ? 'pausing…' : hist.running ? 'training…' : hist.steps.length ? 'paused' : 'idle',
        'train-status',
      ),
      stat('Step', fmtInt(hist.steps.length ? hist.steps[hist.steps.length - 1]! : 0), 'train-step'),
      stat(
        isExact(s.family) ? 'Loss (NLL)' : cont ? 'Loss (v-MSE)' : 'Loss (NELBO)',
        Number.isFinite(smLast) ? `${smLast.toFixed(3)}` : '—',
        'loss-value',
        `${unit}, smoothed`,
      ),
      cont
        ? stat(
            'NELBO',
            Number.isFinite(boundLast) ? boundLast.toFixed(2) : '—',
            'bound-value',
            `bits/dim, mean of the last 4; ± ${hist.boundStdErr.toFixed(2)} each`,
          )
        : null,
      s.family === 'gaussian-image'
        ? null
        : stat(
            'Source entropy',
            hist.entropyBits !== null ? hist.entropyBits.toFixed(3) : '—',
            'entropy-value',
            cont ? 'bits/dim (differential)' : unit,
          ),
      stat('Speed', hist.tokensPerSec ? `${fmtInt(hist.tokensPerSec)}` : '—', 'train-speed', UNIT_LABEL[hist.unit]),
      stat('Parameters', this.paramCount ? fmtInt(this.paramCount) : '—', 'param-count'),
    ]);
    const lv = this.stats.querySelector<HTMLElement>('[data-testid="loss-value"]');
    if (lv && hist.bits.length) {
      const tail = hist.bits.slice(-3);
      lv.dataset['first'] = String(hist.bits[0]);
      lv.dataset['last'] = String(last);
      lv.dataset['last3'] = String(tail.reduce((a, b) => a + b, 0) / tail.length);
      lv.dataset['step'] = String(hist.steps[hist.steps.length - 1]);
    }
    clear(this.chartBox);
    const pts = hist.steps.map((st, i) => [st, hist.bits[i]!] as [number, number]);
    const smPts = hist.steps.map((st, i) => [st, sm[i]!] as [number, number]);
    const color = FAMILY_COLORS[s.family] ?? '#4f46e5';
    if (pts.length === 0) {
      this.chartBox.append(h('div.placeholder.tall', {}, 'Press Start: the loss curve appears here, step by step.'));
      return;
    }
    const series = [
      { label: 'raw', color, points: pts, opacity: 0.25, width: 1.2 },
      { label: 'smoothed', color, points: smPts, width: 2.5 },
    ];
    if (cont) {
      this.chartBox.append(
        chart({
          width: 760,
          height: 220,
          xLabel: 'training step',
          yLabel: 'v-MSE per dimension',
          xMin: 0,
          yMin: 0,
          yMax: Math.max(...hist.bits.slice(0, 5), 0.1) * 1.1,
          series,
          testid: 'loss-chart',
        }),
        legend([
          { label: 'training loss per step', color: `${color}55` },
          { label: 'smoothed (EMA 0.8)', color },
        ]),
      );
      const bpts = hist.boundSteps.map((st, i) => [st, hist.boundBits[i]!] as [number, number]);
      const bsmPts = hist.boundSteps.map((st, i) => [st, bsm[i]!] as [number, number]);
      if (bpts.length === 0) return;
      const hl =
        hist.entropyBits !== null
          ? [{ y: hist.entropyBits, label: `source entropy ${hist.entropyBits.toFixed(2)}`, color: '#0d9488' }]
          : [];
      const later = bsm.slice(Math.min(2, bsm.length - 1));
      const lo = Math.min(hist.entropyBits ?? Infinity, ...hist.boundBits);
      this.chartBox.append(
        chart({
          width: 760,
          height: 220,
          xLabel: 'training step',
          yLabel: 'NELBO, bits per dim',
          xMin: 0,
          yMin: lo - 0.1 * Math.abs(lo) - 0.2,
          yMax: Math.max(...later) + 0.3,
          series: [
            { label: 'NELBO', color: '#0f172a', points: bpts, opacity: 0.3, width: 1.2 },
            { label: 'smoothed', color: '#0f172a', points: bsmPts, width: 2.5 },
          ],
          hlines: hl,
          testid: 'bound-chart',
        }),
        legend([
          {
            label: `each evaluation (${hist.unit === 'pixel' ? 64 : 4096} fresh ${hist.unit === 'pixel' ? 'images' : 'points'})`,
            color: '#0f172a55',
          },
          {
            label:
              hist.unit === 'pixel'
                ? 'NELBO, mean of the last 4 (bits per 8-bit pixel)'
                : 'NELBO, mean of the last 4 (bits/dim)',
            color: '#0f172a',
          },
          ...(hist.entropyBits !== null
            ? [{ label: 'source entropy (bits/dim)', color: '#0d9488', dashed: true }]
            : []),
        ]),
      );
      return;
    }
    const hlines = [];
    if (hist.entropyBits !== null)
      hlines.push({ y: hist.entropyBits, label: `source entropy ${hist.entropyBits.toFixed(2)}`, color: '#0d9488' });
    if (this.marginalBits !== null)
      hlines.push({
        y: this.marginalBits,
        label: `no-context baseline ${this.marginalBits.toFixed(2)}`,
        color: '#94a3b8',
      });
    this.chartBox.append(
      chart({
        width: 760,
        height: 340,
        xLabel: 'training step',
        yLabel: 'bits per token',
        xMin: 0,
        yMin: Math.min(hist.entropyBits ?? 99, ...sm) - 0.3,
        yMax: Math.min(Math.max(...hist.bits.slice(0, 3), 5.4) + 0.2, (hist.entropyBits ?? 0) + 8),
        series,
        hlines,
        testid: 'loss-chart',
      }),
      legend([
        { label: 'loss per step', color: `${color}55` },
        { label: 'smoothed (EMA 0.8)', color },
        { label: 'source entropy rate', color: '#0d9488', dashed: true },
        { label: 'per-position entropy', color: '#94a3b8', dashed: true },
      ]),
    );
  }

  private ctrlKey = '';

  update(s: AppState): void {
    const key = `${s.family}|${s.size}|${s.lr}|${s.batch}|${s.seed}|${s.source}`;
    if (key !== this.ctrlKey) this.buildControls(s);
    this.schedule();
  }

  unmount(): void {
    this.off?.();
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    clear(this.root);
  }
}
