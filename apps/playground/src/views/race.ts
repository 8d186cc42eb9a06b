/** View 4: the race — AR (n sequential steps) against masked diffusion (T parallel steps). */
import { h, explainCard, viewLayout, clear, field, stat, fmtBytes, fmtInt, fmtMs } from '../ui/dom.js';
import { tokenRow } from '../ui/tokens.js';
import { chart, legend } from '../charts/chart.js';
import type { RaceResult, SampleResult, SourceInfo, SweepPoint } from '../protocol.js';
import type { AppState } from '../state.js';
import type { Ctx, View } from './view.js';

const SWEEP_TS = [1, 2, 4, 8, 16, 32, 64];

export class RaceView implements View {
  private root!: HTMLElement;
  private controls!: HTMLElement;
  private lanes!: HTMLElement;
  private sweepBox!: HTMLElement;
  private result: RaceResult | null = null;
  private sweep: { points: SweepPoint[]; ar: SweepPoint; entropyBits: number } | null = null;
  private info: SourceInfo | null = null;
  private anim = 0;
  private status = '';
  private trainSteps = 300;
  private doSweep = true;

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    this.controls = h('div.card.controls');
    this.lanes = h('div.lanes');
    this.sweepBox = h('div.card');
    root.append(
      viewLayout(
        [
          this.controls,
          explainCard(
            'The trade-off',
            h(
              'p',
              {},
              'Every forward pass streams all weights from memory. AR needs n passes for n tokens; diffusion needs T, independent of n:',
            ),
            h('p.eq', {}, 'bytes(AR) ≈ n · P · 4 B      bytes(diffusion) ≈ T · P · 4 B'),
            h(
              'p',
              {},
              "Fewer steps cost quality: the chart plots the true NLL of the samples under the source (lower is more likely; the source's own samples sit at its entropy) against the bytes moved.",
            ),
          ),
        ],
        h('section.main-col', {}, h('div.card', {}, this.lanes), this.sweepBox),
      ),
    );
    this.update(this.ctx.getState());
    void this.ctx.tokenInfo().then((i) => {
      this.info = i;
      this.renderLanes(1, 1);
      this.renderSweep();
    });
  }

  private ctrlKey = '';

  update(s: AppState): void {
    const key = `${s.T}|${this.status}`;
    if (key === this.ctrlKey) return;
    this.ctrlKey = key;
    clear(this.controls);
    const T = h('input', { type: 'range', min: 1, max: 64, step: 1, value: s.T, 'data-testid': 'T-slider' });
    const Tl = h('span.t-value', {}, String(s.T));
    T.addEventListener('input', () => {
      Tl.textContent = T.value;
    });
    T.addEventListener('change', () => this.ctx.setState({ T: Number(T.value) }));
    const steps = h('input', {
      type: 'number',
      min: 1,
      max: 5000,
      value: this.trainSteps,
      'data-testid': 'race-train-steps',
    });
    steps.addEventListener('change', () => {
      this.trainSteps = Math.max(1, Math.floor(Number(steps.value) || 300));
    });
    const sweep = h('input', { type: 'checkbox', 'data-testid': 'race-sweep-toggle', checked: this.doSweep });
    sweep.addEventListener('change', () => {
      this.doSweep = sweep.checked;
    });
    this.controls.append(
      h('h2', {}, 'The race'),
      field('Diffusion steps T', h('div.slider-row', {}, T, Tl), 'AR always takes n = 32'),
      h('label.check', {}, sweep, 'then sweep T = 1 … 64 (quality vs cost)'),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'race-run', onclick: () => void this.run() }, '▶ Race'),
      ),
      h('hr'),
      field('Warm-up steps per model', steps),
      h(
        'div.buttons',
        {},
        h('button', { 'data-testid': 'race-train', onclick: () => void this.train() }, 'Train both'),
      ),
      h(
        'p.muted.small',
        { 'data-testid': 'race-status' },
        this.status || 'Uses the models from the Train view; "Train both" gives each a quick warm-up.',
      ),
    );
  }

  private setStatus(s: string): void {
    this.status = s;
    this.update(this.ctx.getState());
  }

  private async train(): Promise<void> {
    const s = this.ctx.getState();
    try {
      for (const family of ['ar', 'masked-diffusion'] as const) {
        this.setStatus(`training ${family === 'ar' ? 'AR' : 'diffusion'} for ${this.trainSteps} steps…`);
        await this.ctx.client.call('trainSteps', {
          family,
          size: s.size,
          source: 'hmm',
          lr: s.lr,
          batch: s.batch,
          seed: s.seed,
          steps: this.trainSteps,
        });
      }
      this.setStatus(`both models trained (+${this.trainSteps} steps each)`);
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    }
  }

  private async run(): Promise<void> {
    const s = this.ctx.getState();
    cancelAnimationFrame(this.anim);
    this.lanes.classList.add('loading');
    try {
      this.result = await this.ctx.client.call('race', { T: s.T, seed: s.seed, batch: 4, size: s.size });
      this.animate();
      if (this.doSweep)
        this.sweep = await this.ctx.client.call('sweep', { Ts: SWEEP_TS, seed: s.seed + 1, batch: 8, size: s.size });
      this.renderSweep();
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    } finally {
      this.lanes.classList.remove('loading');
    }
  }

  /** Replays both runs side by side on one clock, at their measured wall-time ratio (slower side: 3 s). */
  private animate(): void {
    const r = this.result;
    if (!r) return;
    const slow = Math.max(r.ar.cost.wallMs, r.mdm.cost.wallMs);
    const scale = 3000 / slow;
    const t0 = performance.now();
    const tick = (): void => {
      const el = (performance.now() - t0) / scale;
      const pa = Math.min(1, el / r.ar.cost.wallMs);
      const pm = Math.min(1, el / r.mdm.cost.wallMs);
      this.renderLanes(pa, pm);
      if (pa < 1 || pm < 1) this.anim = requestAnimationFrame(tick);
    };
    tick();
  }

  private lane(
    title: string,
    cls: string,
    r: SampleResult | undefined,
    progress: number,
    nfeId: string,
    formula: string,
  ): HTMLElement {
    const info = this.info;
    const el = h(`div.lane.${cls}`);
    el.append(
      h(
        'div.lane-head',
        {},
        h('h3', {}, title),
        h('div.progress', {}, h('div.bar', { style: `width:${(progress * 100).toFixed(1)}%` })),
      ),
    );
    if (!r || !info) {
      el.append(h('div.placeholder', {}, 'Press Race.'), h('div.stats.compact', {}, stat('NFE', '—', nfeId)));
      return el;
    }
    const k = Math.min(r.frames.length - 1, Math.floor(progress * r.frames.length - 1e-9));
    const frame = r.frames[Math.max(0, k)] ?? [];
    const done = progress >= 1;
    el.append(
      h(
        'div.seqs.small',
        {},
        frame.map((seq) => tokenRow(seq, info)),
      ),
      h(
        'div.stats.compact',
        {},
        stat('NFE', done ? fmtInt(r.cost.nfe) : fmtInt(Math.round(progress * r.cost.nfe)), nfeId),
        stat(
          'Weights loaded',
          fmtBytes(done ? r.cost.weightBytesLoaded : progress * r.cost.weightBytesLoaded),
          `${nfeId}-bytes`,
          formula,
        ),
        stat('Wall time', fmtMs(progress * r.cost.wallMs), `${nfeId}-wall`),
        stat('NLL under source', done ? r.nllBits.toFixed(2) : '…', `${nfeId}-nll`, 'bits/token'),
      ),
    );
    return el;
  }

  private renderLanes(pa: number, pm: number): void {
    clear(this.lanes);
    const r = this.result;
    const P = r ? fmtInt(r.ar.paramCount) : 'P';
    this.lanes.append(
      this.lane(
        `Autoregressive · n = ${r?.n ?? 32} steps`,
        'lane-ar',
        r?.ar,
        r ? pa : 0,
        'race-ar-nfe',
        r ? `${r.ar.cost.nfe} × ${P} × 4 B` : '',
      ),
      this.lane(
        `Masked diffusion · T = ${r?.T ?? this.ctx.getState().T} steps`,
        'lane-mdm',
        r?.mdm,
        r ? pm : 0,
        'race-mdm-nfe',
        r ? `${r.mdm.cost.nfe} × ${fmtInt(r.mdm.paramCount)} × 4 B` : '',
      ),
    );
    if (r)
      this.lanes.append(
        h(
          'p.muted.small.center',
          {},
          `Source entropy: ${r.entropyBits.toFixed(2)} bits/token. Replayed at the measured speed ratio.`,
        ),
      );
  }

  private renderSweep(): void {
    clear(this.sweepBox);
    this.sweepBox.append(h('h3', {}, 'Quality vs cost over T'));
    const sw = this.sweep;
    if (!sw) {
      this.sweepBox.append(h('div.placeholder', {}, 'Runs after the race: diffusion at T = 1 … 64 against AR.'));
      return;
    }
    this.sweepBox.append(
      chart({
        width: 760,
        height: 300,
        xLog: true,
        xLabel: 'weight bytes loaded per sample batch (log scale)',
        yLabel: 'NLL under source (bits/token)',
        xTickFormat: (v) => fmtBytes(v),
        series: [
          {
            label: 'diffusion',
            color: '#db2777',
            mode: 'both',
            points: sw.points.map((p) => [p.weightBytesLoaded, p.nllBits]),
            pointLabels: sw.points.map((p) => `T=${p.T}`),
          },
          {
            label: 'AR',
            color: '#4f46e5',
            mode: 'dots',
            width: 6,
            points: [[sw.ar.weightBytesLoaded, sw.ar.nllBits]],
            pointLabels: [`AR n=${sw.ar.nfe}`],
          },
        ],
        hlines: [{ y: sw.entropyBits, label: `source entropy ${sw.entropyBits.toFixed(2)}`, color: '#0d9488' }],
        testid: 'race-sweep-chart',
      }),
      legend([
        { label: 'masked diffusion (T steps)', color: '#db2777' },
        { label: 'AR (n steps)', color: '#4f46e5' },
        { label: 'source entropy', color: '#0d9488', dashed: true },
      ]),
    );
  }

  unmount(): void {
    cancelAnimationFrame(this.anim);
    clear(this.root);
  }
}
