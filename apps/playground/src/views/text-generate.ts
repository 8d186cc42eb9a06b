/**
 * The Text view's generation cards: samples as text, step by step (a slider and an animation over the
 * sampler's frames, unwritten characters as '█'), and the infill box: a template whose gaps are runs of
 * '_' (one character or byte per underscore), filled by the chosen sampler with the given text kept.
 */
import { h, append, clear, field, select, stat, fmtInt, fmtMs } from '../ui/dom.js';
import type { TextSampleResult, TextTrainReq } from '../protocol.js';
import { SAMPLER_NAMES, SAMPLERS_BY_FAMILY, samplerFor, type AppState } from '../state.js';
import type { Ctx } from './view.js';

/** The infill box's starting template (fits one 64-character window). */
export const DEFAULT_TEMPLATE = 'To be, or ___ to be: that is the ________.';

const SAMPLER_LABELS: Record<string, string> = {
  cached: 'cached',
  uncached: 'uncached (a call every step)',
  ancestral: 'ancestral',
};

/** Frames of one run, shown one at a time: animated after a run, then scrubbed with the slider. */
class FramePlayer {
  readonly el: HTMLElement;
  private result: TextSampleResult | null = null;
  private frame = 0;
  private timer = 0;

  constructor(
    private readonly testid: string,
    private readonly empty: string,
  ) {
    this.el = h('div.text-stage', { 'data-testid': testid });
    this.render();
  }

  show(r: TextSampleResult | null): void {
    clearInterval(this.timer);
    this.result = r;
    this.frame = 0;
    this.render();
    if (!r) return;
    const n = r.frames.length;
    const dt = Math.max(25, Math.min(200, 2400 / n));
    this.timer = window.setInterval(() => {
      if (!this.result || this.frame >= this.result.frames.length - 1) {
        clearInterval(this.timer);
        return;
      }
      this.frame++;
      this.render();
    }, dt);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private render(): void {
    clear(this.el);
    const r = this.result;
    this.el.dataset['done'] = String(!!r && this.frame >= r.frames.length - 1);
    if (!r) {
      this.el.append(h('div.placeholder', {}, this.empty));
      return;
    }
    const last = r.frames.length - 1;
    const slider = h('input', {
      type: 'range',
      min: 0,
      max: last,
      step: 1,
      value: this.frame,
      'data-testid': `${this.testid}-step`,
    });
    slider.addEventListener('input', () => {
      clearInterval(this.timer);
      this.frame = Number(slider.value);
      this.render();
    });
    const rows = r.frames[this.frame] ?? r.rows;
    append(this.el, [
      h(
        'div.stage-head',
        {},
        h('h3', {}, `${r.sampler}: step ${Math.min(this.frame, last)} of ${last}`),
        h('div.slider-row', {}, slider),
      ),
      h(
        'div.stats',
        {},
        stat(
          'NFE',
          fmtInt(r.nfe),
          `${this.testid}-nfe`,
          r.family === 'ar' || r.family === 'ssm' ? 'n sequential passes' : 'model calls ≤ T',
        ),
        stat('Wall time', fmtMs(r.wallMs), `${this.testid}-wall`),
      ),
      r.template ? h('pre.text-row.text-template', { title: 'the template: _ = a gap' }, r.template) : null,
      ...rows.map((row, i) => h('pre.text-row', { 'data-testid': `${this.testid}-row`, 'data-row': i }, row)),
    ]);
  }
}

export class TextGenerate {
  readonly el: HTMLElement;
  private readonly controls = h('div.text-gen-controls');
  private readonly samples = new FramePlayer('text-sample-output', 'Press Sample: text appears here, step by step.');
  private readonly infills = new FramePlayer('text-infill-output', 'Write a template with ___ gaps and press Fill.');
  private readonly infillError = h('p.error-text', { 'data-testid': 'text-infill-error', role: 'alert', hidden: true });
  private readonly template = h('input.text-template-input', {
    type: 'text',
    value: DEFAULT_TEMPLATE,
    spellcheck: 'false',
    'data-testid': 'text-infill-template',
  });
  private key = '';
  private busy = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly request: () => TextTrainReq | null,
  ) {
    this.el = h(
      'div.text-gen',
      {},
      h('div.card', {}, h('h2', {}, 'Samples'), this.controls, this.samples.el),
      h(
        'div.card',
        {},
        h('h2', {}, 'Infill'),
        h(
          'p.muted.small',
          {},
          'Write gaps as runs of _ (one character, or one byte with byte tokens, per underscore). The given text is kept exactly; diffusion fills the gaps using the context on both sides. AR and the SSM write left to right: they can continue a prefix but cannot fill a gap before given text.',
        ),
        field('Template', this.template),
        h(
          'div.buttons',
          {},
          h(
            'button.primary',
            { 'data-testid': 'text-infill-run', onclick: () => void this.run(true) },
            '▶ Fill the gaps',
          ),
        ),
        this.infillError,
        this.infills.el,
      ),
    );
  }

  update(s: AppState, family: AppState['family']): void {
    const key = `${family}|${s.T}|${s.sampler}`;
    if (key === this.key) return;
    this.key = key;
    clear(this.controls);
    const exact = family === 'ar' || family === 'ssm';
    const T = h('input', { type: 'number', min: 1, max: 256, value: s.T, disabled: exact, 'data-testid': 'text-T' });
    T.addEventListener('change', () =>
      this.ctx.setState({ T: Math.max(1, Math.min(256, Math.floor(Number(T.value) || 16))) }),
    );
    this.controls.append(
      h(
        'div.row2',
        {},
        field(
          'Sampler',
          select(
            SAMPLERS_BY_FAMILY[family].map(
              (n, i) => [n, `${SAMPLER_LABELS[n] ?? n}${i === 0 ? ' (default)' : ''}`] as const,
            ),
            samplerFor(family, s.sampler),
            (v) => this.ctx.setState({ sampler: SAMPLER_NAMES.find((n) => n === v) ?? 'auto' }),
            'text-sampler',
          ),
        ),
        field('Steps T', T, exact ? 'AR/SSM: one step per position' : family === 'd3pm' ? 'T ≤ 32' : undefined),
      ),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'text-sample-run', onclick: () => void this.run(false) }, '▶ Sample'),
      ),
      h(
        'p.muted.small',
        {},
        'Samples and infills use the model trained above (an untrained one if there is none: then expect noise).',
      ),
    );
  }

  private async run(infill: boolean): Promise<void> {
    const req = this.request();
    if (!req || this.busy) {
      if (!req) this.ctx.toast('Load a corpus first (your own text: paste it and press "Use this text").', 'error');
      return;
    }
    const s = this.ctx.getState();
    const player = infill ? this.infills : this.samples;
    this.busy = true;
    player.show(null);
    player.el.classList.add('loading');
    if (infill) this.infillError.hidden = true;
    try {
      const r = await this.ctx.client.call('textSample', {
        ...req,
        T: s.T,
        sampler: samplerFor(req.family, s.sampler),
        n: 4,
        ...(infill ? { template: this.template.value } : {}),
      });
      player.show(r);
    } catch (e) {
      const msg = (e as Error).message;
      if (infill) {
        this.infillError.hidden = false;
        this.infillError.textContent = msg;
      } else this.ctx.toast(msg, 'error');
    } finally {
      this.busy = false;
      player.el.classList.remove('loading');
    }
  }

  unmount(): void {
    this.samples.stop();
    this.infills.stop();
  }
}
