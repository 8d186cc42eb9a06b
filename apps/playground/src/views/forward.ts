/** View 1: the forward process q(z_t | x), scrubbed from t = 0 (data) to t = 1 (noise). */
import { h, clear, field, select, viewLayout } from '../ui/dom.js';
import { tokenRow } from '../ui/tokens.js';
import { chart } from '../charts/chart.js';
import { drawPoints, drawImage } from '../charts/canvas.js';
import type { ForwardData } from '../protocol.js';
import { isTokenSource, type AppState, type ProcessName } from '../state.js';
import type { Ctx, View } from './view.js';

const SOURCE_OPTS = [
  ['hmm', 'HMM tokens (known entropy)'],
  ['rings', '2-D mixture: two rings'],
  ['grid', '2-D mixture: 5×5 grid'],
  ['moons', '2-D mixture: two moons'],
  ['shapes', 'Procedural 16×16 images'],
] as const;

/** Linear interpolation of a schedule sampled at t = 0, 1/100, …, 1 (from @altar/noise, via the worker). */
function at(grid: number[], t: number): number {
  const x = Math.min(1, Math.max(0, t)) * (grid.length - 1);
  const i = Math.min(grid.length - 2, Math.floor(x));
  return grid[i]! + (x - i) * (grid[i + 1]! - grid[i]!);
}
const curve = (grid: number[]): Array<[number, number]> => grid.map((v, i) => [i / (grid.length - 1), v]);

export class ForwardView implements View {
  private root!: HTMLElement;
  private data: ForwardData | null = null;
  private key = '';
  private stage!: HTMLElement;
  private side!: HTMLElement;
  private slider!: HTMLInputElement;
  private tLabel!: HTMLElement;
  private controls!: HTMLElement;

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    this.controls = h('div.card.controls');
    this.stage = h('div.card.stage', { 'data-testid': 'forward-output' });
    this.side = h('div.card.explain');
    root.append(viewLayout([this.controls, this.side], h('section.main-col', {}, this.stage)));
    this.update(this.ctx.getState());
  }

  private buildControls(s: AppState): void {
    clear(this.controls);
    const tokens = isTokenSource(s.source);
    const procOpts: Array<readonly [ProcessName, string]> = tokens
      ? [
          ['mask', 'Absorbing: replace by [MASK]'],
          ['uniform', 'Uniform: replace by a random token'],
        ]
      : [['gauss', 'Gaussian (VP, cosine schedule)']];
    this.slider = h('input', {
      type: 'range',
      min: 0,
      max: 1,
      step: 0.01,
      value: s.t,
      'data-testid': 't-slider',
      'aria-label': 'time t',
    });
    this.slider.addEventListener('input', () => this.ctx.setState({ t: Number(this.slider.value) }));
    this.tLabel = h('span.t-value', { 'data-testid': 't-value' }, s.t.toFixed(2));
    const seed = h('input', { type: 'number', min: 0, value: s.seed, 'data-testid': 'seed' });
    seed.addEventListener('change', () =>
      this.ctx.setState({ seed: Math.max(0, Math.floor(Number(seed.value) || 0)) }),
    );
    this.controls.append(
      h('h2', {}, 'Forward process'),
      field(
        'Source',
        select(
          SOURCE_OPTS,
          s.source,
          (v) => {
            const src = v;
            const process: ProcessName = isTokenSource(src) ? (s.process === 'gauss' ? 'mask' : s.process) : 'gauss';
            this.ctx.setState({ source: src, process });
          },
          'source-select',
        ),
      ),
      field(
        'Noise process',
        select(procOpts, s.process, (v) => this.ctx.setState({ process: v }), 'process-select'),
      ),
      field('Time t', h('div.slider-row', {}, this.slider, this.tLabel), '0 = data, 1 = pure noise'),
      field('Seed', seed),
    );
  }

  update(s: AppState): void {
    const key = `${s.source}|${s.process}|${s.seed}`;
    const ctrlKey = `${s.source}|${s.process}|${s.seed}`;
    if (this.controls.dataset['key'] !== ctrlKey) {
      this.buildControls(s);
      this.controls.dataset['key'] = ctrlKey;
    } else if (Number(this.slider.value) !== s.t) {
      this.slider.value = String(s.t);
    }
    this.tLabel.textContent = s.t.toFixed(2);
    if (key !== this.key) {
      this.key = key;
      this.data = null;
      this.stage.classList.add('loading');
      void this.ctx.client.call('forward', { source: s.source, process: s.process, seed: s.seed }).then(
        (d) => {
          if (this.key !== key) return;
          this.data = d;
          this.stage.classList.remove('loading');
          this.render(this.ctx.getState());
        },
        (e: Error) => this.ctx.toast(e.message, 'error'),
      );
    }
    this.render(s);
  }

  private render(s: AppState): void {
    const d = this.data;
    clear(this.stage);
    clear(this.side);
    const t = s.t;
    if (!d) {
      this.stage.append(h('div.placeholder', {}, 'Sampling the source…'));
      return;
    }
    if (d.kind === 'tokens') {
      const mask = s.process === 'mask';
      const alpha = at(d.schedule.alpha, t);
      let noisy = 0;
      let total = 0;
      const rows = d.x.map((x, r) => {
        const u = d.u[r]!;
        const z = x.map((v, i) => (u[i]! >= alpha ? (mask ? -1 : d.repl[r]![i]!) : v));
        const changed = x.map((v, i) => u[i]! >= alpha && (mask || z[i] !== v));
        for (const c of changed) {
          total++;
          if (c) noisy++;
        }
        return h('div.seq-pair', {}, tokenRow(z, d.info, { changed: mask ? [] : changed }));
      });
      this.stage.append(
        h(
          'div.stage-head',
          {},
          h('h3', {}, `z_t at t = ${t.toFixed(2)}`),
          h('span.pill', {}, `${((100 * noisy) / Math.max(1, total)).toFixed(0)}% ${mask ? 'masked' : 'replaced'}`),
        ),
        h('div.seqs', {}, rows),
        h('h3.sub', {}, 'Clean data x (t = 0) of the first two rows'),
        h(
          'div.seqs.faded',
          {},
          d.x.slice(0, 2).map((x) => tokenRow(x, d.info)),
        ),
      );
      this.side.append(
        h('h3', {}, mask ? 'Absorbing (masking) process' : 'Uniform process'),
        h(
          'p',
          {},
          mask
            ? 'Each token is independently replaced by [MASK] with probability 1 − α_t. With the linear schedule α_t = 1 − t, a fraction t of the sequence is masked; t = 1 is all-mask.'
            : 'Each token is independently resampled uniformly from the vocabulary with probability 1 − α_t = t; at t = 1 the sequence is uniform noise.',
        ),
        h(
          'p.eq',
          {},
          mask ? 'q(z_t,i | x_i) = α_t·δ(x_i) + (1 − α_t)·δ(MASK)' : 'q(z_t,i | x_i) = α_t·δ(x_i) + (1 − α_t)/V',
        ),
        h(
          'p.muted',
          {},
          `Source: ${d.info.vocabSize} tokens, n = ${d.info.seqLen}, entropy rate ${d.info.entropyBits?.toFixed(2)} bits/token, per-position entropy ${d.info.marginalBits?.toFixed(2)} bits. Colour = the hidden state that emitted the token.`,
        ),
        chart({
          width: 300,
          height: 170,
          xLabel: 't',
          yLabel: 'α_t',
          xMin: 0,
          xMax: 1,
          yMin: 0,
          yMax: 1,
          series: [
            { label: 'α', color: '#4f46e5', points: curve(d.schedule.alpha) },
            { label: 'now', color: '#e11d48', mode: 'dots', points: [[t, alpha]], width: 5 },
          ],
        }),
        h('p.muted.small', {}, `Schedule: @altar/noise ${d.schedule.name}.`),
      );
      return;
    }
    const a = at(d.schedule.alpha, t);
    const sg = at(d.schedule.sigma ?? d.schedule.alpha.map((v) => Math.sqrt(1 - v * v)), t);
    if (d.kind === 'points') {
      const n = d.x.length / 2;
      const z = new Float32Array(2 * n);
      for (let i = 0; i < 2 * n; i++) z[i] = a * d.x[i]! + sg * d.eps[i]!;
      const canvas = h('canvas.points', { width: 520, height: 520, 'data-testid': 'forward-canvas' });
      drawPoints(canvas, z, { means: d.info.means ?? [], range: 2.4, under: d.x });
      this.stage.append(
        h(
          'div.stage-head',
          {},
          h('h3', {}, `z_t at t = ${t.toFixed(2)}`),
          h('span.pill', {}, `α = ${a.toFixed(2)}, σ = ${sg.toFixed(2)}`),
        ),
        h('div.canvas-wrap', {}, canvas),
      );
    } else {
      const grid = h('div.image-grid');
      d.x.forEach((img, k) => {
        const z = img.map((v, i) => a * v + sg * d.eps[k]![i]!);
        const c = h('canvas.img', { width: d.size, height: d.size });
        drawImage(c, z, d.size);
        grid.append(c);
      });
      const clean = h('div.image-grid.clean');
      for (const img of d.x) {
        const c = h('canvas.img', { width: d.size, height: d.size });
        drawImage(c, img, d.size);
        clean.append(c);
      }
      this.stage.append(
        h(
          'div.stage-head',
          {},
          h('h3', {}, `z_t at t = ${t.toFixed(2)}`),
          h('span.pill', {}, `α = ${a.toFixed(2)}, σ = ${sg.toFixed(2)}`),
        ),
        grid,
        h('h3.sub', {}, 'Clean data x (t = 0)'),
        clean,
      );
    }
    this.side.append(
      h('h3', {}, 'Gaussian (variance-preserving) process'),
      h(
        'p',
        {},
        'Data is shrunk towards 0 and Brownian noise is added: the signal-to-noise ratio α²/σ² falls from ∞ at t = 0 to 0 at t = 1.',
      ),
      h('p.eq', {}, 'z_t = α_t·x + σ_t·ε,  α_t = cos(πt/2), σ_t = sin(πt/2)'),
      d.kind === 'points'
        ? h(
            'p.muted',
            {},
            `Source: ${d.info.means?.length} Gaussians, differential entropy ${d.info.entropyBits?.toFixed(2)} bits/dim. Rings mark the mixture means; grey dots are the clean data.`,
          )
        : h('p.muted', {}, 'Procedural shapes from @altar/data; pixels in [−1, 1].'),
      h('p.muted.small', {}, `Schedule: @altar/noise ${d.schedule.name}.`),
      chart({
        width: 300,
        height: 170,
        xLabel: 't',
        yLabel: 'α_t, σ_t',
        xMin: 0,
        xMax: 1,
        yMin: 0,
        yMax: 1,
        series: [
          { label: 'α', color: '#4f46e5', points: curve(d.schedule.alpha) },
          { label: 'σ', color: '#0d9488', points: curve(d.schedule.sigma ?? []) },
          {
            label: 'now',
            color: '#e11d48',
            mode: 'dots',
            points: [
              [t, a],
              [t, sg],
            ],
            width: 5,
          },
        ],
      }),
    );
  }

  unmount(): void {
    clear(this.root);
  }
}
