/** View 3: the reverse process step by step (AR: one token per step; masked diffusion: T reveal steps). */
import { h, explainCard, viewLayout, clear, field, select, stat, fmtBytes, fmtInt, fmtMs } from '../ui/dom.js';
import { tokenRow } from '../ui/tokens.js';
import { drawImage, drawPoints } from '../charts/canvas.js';
import { FAMILY_OPTS, isExact } from './train.js';
import type { SampleResult, SourceInfo } from '../protocol.js';
import { SAMPLER_NAMES, SAMPLERS_BY_FAMILY, samplerFor, type AppState } from '../state.js';

const SAMPLER_LABELS: Record<string, string> = {
  cached: 'cached',
  uncached: 'uncached (a call every step)',
  ancestral: 'ancestral',
  ddim: 'DDIM, η = 0',
  ddpm: 'DDPM, ancestral',
  'ode-euler': 'PF-ODE, Euler',
  'ode-heun': 'PF-ODE, Heun',
  sde: 'reverse SDE',
};
import type { Ctx, View } from './view.js';

/** NFE, weight bytes (the lecture's NFE × P × 4 B) and wall time of a run; `rate` names what cost.tokensPerSec counts. */
function costStats(r: SampleResult, nfeNote: string, rate?: string): HTMLElement[] {
  return [
    stat('NFE', fmtInt(r.cost.nfe), 'sample-nfe', nfeNote),
    stat('Weights loaded', fmtBytes(r.cost.weightBytesLoaded), 'sample-bytes', `NFE × ${fmtInt(r.paramCount)} × 4 B`),
    stat('Wall time', fmtMs(r.cost.wallMs), 'sample-wall', rate && `${fmtInt(r.cost.tokensPerSec)} ${rate}`),
  ];
}

export class SampleView implements View {
  private root!: HTMLElement;
  private controls!: HTMLElement;
  private out!: HTMLElement;
  private result: SampleResult | null = null;
  private info: SourceInfo | null = null;
  private frame = 0;
  private timer = 0;
  private modelNote = '';
  private running = false;
  /** Image family: show the model's x̂0 at each step instead of z_t. */
  private showX0 = false;

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    this.controls = h('div.card.controls');
    this.out = h('div.card.stage');
    root.append(
      viewLayout(
        [
          this.controls,
          explainCard(
            'Reverse process',
            h(
              'p',
              {},
              "AR writes left to right: n forward passes, one new token each. Masked diffusion starts from all-[MASK] and, going from t = k/T to s = (k−1)/T, reveals each masked token with probability (t − s)/t, drawing it from the model's p(x₀ | z_t).",
            ),
            h(
              'p',
              {},
              "A step that reveals nothing leaves z unchanged, so its model output is reused: diffusion's NFE is at most min(T, n).",
            ),
            h(
              'p',
              {},
              'Gaussian diffusion (points, images) starts from pure noise z₁ ~ N(0, I) and takes T deterministic DDIM steps: each predicts the clean data x̂₀ and moves z to the next, less noisy time.',
            ),
          ),
        ],
        h('section.main-col', {}, this.out),
      ),
    );
    this.update(this.ctx.getState());
    void this.ctx.tokenInfo().then((i) => {
      this.info = i;
      this.render();
    });
  }

  private ctrlKey = '';

  update(s: AppState): void {
    const key = `${s.family}|${s.T}|${s.seed}|${s.sampler}`;
    if (key === this.ctrlKey) return;
    this.ctrlKey = key;
    clear(this.controls);
    const T = h('input', {
      type: 'range',
      min: 1,
      max: 64,
      step: 1,
      value: s.T,
      'data-testid': 'T-slider',
      disabled: isExact(s.family),
    });
    const Tl = h('span.t-value', {}, String(s.T));
    T.addEventListener('input', () => {
      Tl.textContent = T.value;
    });
    T.addEventListener('change', () => this.ctx.setState({ T: Number(T.value) }));
    const seed = h('input', { type: 'number', min: 0, value: s.seed, 'data-testid': 'seed' });
    seed.addEventListener('change', () =>
      this.ctx.setState({ seed: Math.max(0, Math.floor(Number(seed.value) || 0)) }),
    );
    this.controls.append(
      h('h2', {}, 'Watch sampling'),
      field(
        'Model',
        select(FAMILY_OPTS, s.family, (v) => this.ctx.setState({ family: v }), 'family-select'),
      ),
      field(
        'Sampler',
        select(
          SAMPLERS_BY_FAMILY[s.family].map(
            (n, i) => [n, `${SAMPLER_LABELS[n] ?? n}${i === 0 ? ' (default)' : ''}`] as const,
          ),
          samplerFor(s.family, s.sampler),
          (v) => this.ctx.setState({ sampler: SAMPLER_NAMES.find((n) => n === v) ?? 'auto' }),
          'sampler-select',
        ),
      ),
      field(
        'Diffusion steps T',
        h('div.slider-row', {}, T, Tl),
        isExact(s.family)
          ? 'AR and SSM always take n = 32 steps'
          : s.family === 'd3pm'
            ? 'ancestral D3PM sampler (T ≤ 32: skips steps)'
            : s.family === 'gaussian' || s.family === 'gaussian-image'
              ? 'EMA weights, VP cosine schedule (Heun: 2 model calls per step)'
              : 'ancestral sampler with caching, α_t = 1 − t',
      ),
      field('Seed', seed),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'sample-run', onclick: () => void this.run() }, '▶ Sample'),
      ),
      h(
        'p.muted.small',
        {},
        'Uses the model trained in the Train view (or a fresh, untrained one if there is none: then expect noise).',
      ),
    );
  }

  private frameCount(): number {
    const r = this.result;
    return r ? (r.points ? r.points.frames.length : r.images ? r.images.frames.length : r.frames.length) : 0;
  }

  private async run(): Promise<void> {
    const s = this.ctx.getState();
    clearInterval(this.timer);
    // The previous run leaves the stage at once: no stale output while the new one is computed.
    this.result = null;
    this.running = true;
    this.render();
    this.out.classList.add('loading');
    try {
      const models = await this.ctx.client.call('models', {});
      const m = models.find((x) => x.family === s.family);
      this.modelNote = m ? `${m.origin}, step ${m.step}` : 'untrained (train it first in the Train view)';
      this.result = await this.ctx.client.call('sample', {
        family: s.family,
        T: s.T,
        seed: s.seed,
        batch: s.family === 'gaussian' ? 600 : s.family === 'gaussian-image' ? 16 : 8,
        size: s.size,
        sampler: samplerFor(s.family, s.sampler),
      });
      this.frame = 0;
      const frames = this.frameCount();
      const dt = Math.max(30, Math.min(250, 2400 / frames));
      this.timer = window.setInterval(() => {
        if (!this.result || this.frame >= this.frameCount() - 1) {
          clearInterval(this.timer);
          return;
        }
        this.frame++;
        this.render();
      }, dt);
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    } finally {
      this.running = false;
      this.out.classList.remove('loading');
    }
    this.render();
  }

  private render(): void {
    clear(this.out);
    const r = this.result;
    const info = this.info;
    if (!r || (!info && !r.points && !r.images)) {
      this.out.append(
        h(
          'div.placeholder.tall',
          {},
          this.running
            ? 'Sampling… (the frames play back when the run is done)'
            : 'Press Sample to run the reverse process.',
        ),
      );
      return;
    }
    if (r.points) {
      this.renderPoints(r, r.points);
      return;
    }
    if (r.images) {
      this.renderImages(r, r.images);
      return;
    }
    if (!info) return;
    const f = r.frames[this.frame] ?? [];
    const prev = this.frame > 0 ? (r.frames[this.frame - 1] ?? []) : [];
    const scrub = h('input', {
      type: 'range',
      min: 0,
      max: r.frames.length - 1,
      value: this.frame,
      'data-testid': 'sample-step',
      'aria-label': 'step',
    });
    scrub.addEventListener('input', () => {
      clearInterval(this.timer);
      this.frame = Number(scrub.value);
      this.render();
    });
    const done = this.frame === r.frames.length - 1;
    this.out.append(
      h(
        'div.stage-head',
        {},
        h(
          'h3',
          {},
          isExact(r.family)
            ? `${r.sampler}: token ${this.frame + 1} of ${r.frames.length}`
            : done
              ? `${r.sampler}: final sample after T = ${r.steps} steps`
              : `${r.sampler}: input of model call ${this.frame + 1} of ${r.frames.length - 1}`,
        ),
        h('span.pill', {}, this.modelNote),
      ),
      h('div.slider-row.wide', {}, scrub),
      h(
        'div.seqs',
        { 'data-testid': 'sample-output', 'data-done': String(done) },
        f.map((seq, b) => tokenRow(seq, info, { fresh: seq.map((v, i) => v >= 0 && (prev[b]?.[i] ?? -1) < 0) })),
      ),
      h(
        'div.stats',
        {},
        ...costStats(r, isExact(r.family) ? 'n sequential steps' : `T = ${r.steps} steps`, 'tokens/s'),
        stat(
          'NLL under the source',
          r.nllBits.toFixed(2),
          'sample-nll',
          `bits/token (source entropy ${info.entropyBits?.toFixed(2)})`,
        ),
      ),
    );
  }

  /** The frame slider of the continuous families (dragging it stops the animation); done = on the last frame. */
  private scrubber(F: number): { scrub: HTMLInputElement; done: boolean } {
    const scrub = h('input', {
      type: 'range',
      min: 0,
      max: F - 1,
      value: this.frame,
      'data-testid': 'sample-step',
      'aria-label': 'step',
    });
    scrub.addEventListener('input', () => {
      clearInterval(this.timer);
      this.frame = Number(scrub.value);
      this.render();
    });
    return { scrub, done: this.frame === F - 1 };
  }

  /** Gaussian family: the point cloud flowing from N(0, I) onto the mixture, one frame per model call. */
  private renderPoints(r: SampleResult, p: NonNullable<SampleResult['points']>): void {
    const F = p.frames.length;
    const { scrub, done } = this.scrubber(F);
    const canvas = h('canvas.points', { width: 520, height: 520 });
    drawPoints(canvas, p.frames[this.frame] ?? [], { means: p.means, range: 2.4, color: 'rgba(124, 58, 237, 0.55)' });
    this.out.append(
      h(
        'div.stage-head',
        {},
        h(
          'h3',
          {},
          done
            ? `${r.sampler}: final samples after T = ${r.steps} steps`
            : `${r.sampler}: z_t before model call ${this.frame + 1} of ${F - 1}`,
        ),
        h('span.pill', {}, this.modelNote),
      ),
      h('div.slider-row.wide', {}, scrub),
      h(
        'div.canvas-wrap',
        {
          'data-testid': 'sample-output',
          'data-done': String(done),
          'data-points': String((p.frames[F - 1]?.length ?? 0) / 2),
        },
        canvas,
      ),
      h(
        'div.stats',
        {},
        ...costStats(r, `T = ${r.steps} steps`),
        stat(
          'NLL under the source',
          r.nllBits.toFixed(2),
          'sample-nll',
          `bits/dim (source entropy ${p.entropyBits.toFixed(2)})`,
        ),
      ),
    );
  }

  /** Image family: a batch of 16 images emerging from noise, one frame per model call. */
  private renderImages(r: SampleResult, im: NonNullable<SampleResult['images']>): void {
    const F = im.frames.length;
    const { scrub, done } = this.scrubber(F);
    const P = im.size * im.size * im.channels;
    const frame = (this.showX0 ? im.x0Frames : im.frames)[this.frame] ?? [];
    const toggle = h('input', { type: 'checkbox', 'data-testid': 'sample-x0', checked: this.showX0 });
    toggle.addEventListener('change', () => {
      this.showX0 = toggle.checked;
      this.render();
    });
    const grid = h('div.image-grid.samples');
    for (let b = 0; b < im.batch; b++) {
      const c = h('canvas.img', { width: im.size, height: im.size });
      drawImage(c, frame.slice(b * P, b * P + P), im.size);
      grid.append(c);
    }
    this.out.append(
      h(
        'div.stage-head',
        {},
        h(
          'h3',
          {},
          done
            ? `${r.sampler}: final images after T = ${r.steps} steps`
            : this.showX0
              ? `${r.sampler}: the model's x̂₀ at call ${this.frame + 1} of ${F - 1}`
              : `${r.sampler}: z_t before model call ${this.frame + 1} of ${F - 1}`,
        ),
        h('span.pill', {}, this.modelNote),
      ),
      h('div.slider-row.wide', {}, scrub),
      h(
        'label.check',
        {},
        toggle,
        h(
          'span',
          {},
          this.showX0
            ? " showing the model's guess of the clean images, x̂₀(z_t), at each step"
            : " show the model's guess of the clean images, x̂₀(z_t), instead of the noisy z_t",
        ),
      ),
      h(
        'div',
        {
          'data-testid': 'sample-output',
          'data-done': String(done),
          'data-images': String(im.batch),
          'data-view': this.showX0 ? 'x0' : 'z',
        },
        grid,
      ),
      h(
        'div.stats',
        {},
        ...costStats(r, `T = ${r.steps} steps`, 'images/s'),
        stat(
          'Model NELBO',
          im.boundBits === null ? '—' : im.boundBits.toFixed(2),
          'sample-nll',
          'bits/dim on fresh data (shapes have no known density)',
        ),
      ),
    );
  }

  unmount(): void {
    clearInterval(this.timer);
    clear(this.root);
  }
}
