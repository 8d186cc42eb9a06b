/** View 5: ELBO anatomy — the T per-step terms of the bound and the one-term estimator converging. */
import { h, explainCard, viewLayout, clear, field, stat } from '../ui/dom.js';
import { chart, legend } from '../charts/chart.js';
import type { ElboResult } from '../protocol.js';
import type { AppState } from '../state.js';
import type { Ctx, View } from './view.js';

export class ElboView implements View {
  private root!: HTMLElement;
  private controls!: HTMLElement;
  private out!: HTMLElement;
  private result: ElboResult | null = null;
  private note = '';

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    this.controls = h('div.card.controls');
    this.out = h('section.main-col');
    root.append(
      viewLayout(
        [
          this.controls,
          explainCard(
            'The bound, term by term',
            h(
              'p',
              {},
              'With T steps the negative ELBO of masked diffusion is a sum of T KL terms; at step t → s each still-masked token costs (t − s)/t times its cross-entropy under the model:',
            ),
            h('p.eq', {}, 'L_k = E_q [ Σ_{i masked} (t−s)/t · −log p(x_i | z_t) ]'),
            h(
              'p',
              {},
              'Training evaluates one uniformly drawn term, scaled by T: unbiased for the sum, and its running mean converges to it.',
            ),
          ),
        ],
        this.out,
      ),
    );
    this.update(this.ctx.getState());
    this.render();
  }

  private ctrlKey = '';

  update(s: AppState): void {
    if (String(s.T) === this.ctrlKey) return;
    this.ctrlKey = String(s.T);
    clear(this.controls);
    const T = h('input', { type: 'range', min: 1, max: 64, step: 1, value: s.T, 'data-testid': 'T-slider' });
    const Tl = h('span.t-value', {}, String(s.T));
    T.addEventListener('input', () => {
      Tl.textContent = T.value;
    });
    T.addEventListener('change', () => this.ctx.setState({ T: Number(T.value) }));
    this.controls.append(
      h('h2', {}, 'ELBO anatomy'),
      field('Steps T', h('div.slider-row', {}, T, Tl)),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'elbo-run', onclick: () => void this.run() }, '▶ Compute'),
      ),
      h(
        'p.muted.small',
        {},
        'Uses the masked-diffusion model from the Train view, 48 held-out sequences, 256 one-term draws.',
      ),
    );
  }

  private async run(): Promise<void> {
    const s = this.ctx.getState();
    this.out.classList.add('loading');
    try {
      const models = await this.ctx.client.call('models', {});
      const m = models.find((x) => x.family === 'masked-diffusion');
      this.note = m ? `${m.origin}, step ${m.step}` : 'untrained model: train masked diffusion first';
      this.result = await this.ctx.client.call('elbo', { T: s.T, seed: s.seed, draws: 256, size: s.size });
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    } finally {
      this.out.classList.remove('loading');
    }
    this.render();
  }

  private render(): void {
    clear(this.out);
    const r = this.result;
    if (!r) {
      this.out.append(
        h('div.card', {}, h('div.placeholder.tall', {}, 'Press Compute to evaluate every term of the bound.')),
      );
      return;
    }
    const running: Array<[number, number]> = [];
    let acc = 0;
    r.estimates.forEach((v, i) => {
      acc += v;
      running.push([i + 1, acc / (i + 1)]);
    });
    const mean = acc / r.estimates.length;
    const sd = Math.sqrt(r.estimates.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, r.estimates.length - 1));
    this.out.append(
      h(
        'div.card',
        { 'data-testid': 'elbo-output' },
        h('div.stage-head', {}, h('h3', {}, `Per-step terms L_k, T = ${r.T}`), h('span.pill', {}, this.note)),
        h(
          'div.stats',
          {},
          stat('Σ L_k (NELBO)', r.total.toFixed(3), 'elbo-total', 'bits/token'),
          stat('Source entropy', r.entropyBits.toFixed(3), undefined, 'bits/token'),
          stat('Gap', (r.total - r.entropyBits).toFixed(3), 'elbo-gap', 'bits/token above the truth'),
          stat(
            'One-term mean',
            mean.toFixed(3),
            'elbo-estimate',
            `± ${(sd / Math.sqrt(r.estimates.length)).toFixed(3)} (s.e.)`,
          ),
        ),
        chart({
          width: 760,
          height: 250,
          xLabel: 'step k (t = k/T)',
          yLabel: 'L_k (bits/token)',
          series: [],
          bars: { color: '#db2777', values: r.terms.map((v, k) => [k + 1, v]), label: 'L_k' },
          yMin: 0,
          testid: 'elbo-terms-chart',
        }),
      ),
      h(
        'div.card',
        {},
        h('h3', {}, 'One-term estimator: T · L_k with k ~ U{1..T}'),
        chart({
          width: 760,
          height: 260,
          xLabel: 'number of one-term draws',
          yLabel: 'bits/token',
          yMin: Math.max(0, Math.min(r.total, ...running.slice(10).map((p) => p[1])) - 1),
          yMax: Math.max(r.total, ...running.slice(10).map((p) => p[1])) + 1,
          series: [
            {
              label: 'draws',
              color: '#f472b6',
              mode: 'dots',
              width: 2,
              opacity: 0.35,
              points: r.estimates.map((v, i) => [i + 1, v]),
            },
            { label: 'running mean', color: '#4f46e5', points: running, width: 2.5 },
          ],
          hlines: [{ y: r.total, label: `full sum Σ L_k = ${r.total.toFixed(3)}`, color: '#db2777', labelAt: 'right' }],
          testid: 'elbo-estimator-chart',
        }),
        legend([
          { label: 'single draws', color: '#f472b6' },
          { label: 'running mean', color: '#4f46e5' },
          { label: 'full sum Σ L_k', color: '#db2777', dashed: true },
        ]),
      ),
    );
  }

  unmount(): void {
    clear(this.root);
  }
}
