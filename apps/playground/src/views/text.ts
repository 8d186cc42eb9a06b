/**
 * View 7: Text. Train a token family (AR, masked diffusion, SSM, D3PM) on real text, the built-in Tiny
 * Shakespeare or your own (text-mine.ts), with char or byte tokens: the live curve in bits per character,
 * validation on the corpus's held-out tail beside its unigram entropy; then samples and infills as text
 * (text-generate.ts). The models live in the compute worker (lab/text-lab.ts).
 */
import { h, explainCard, viewLayout, append, clear, field, select, stat, fmtInt } from '../ui/dom.js';
import { chart, legend } from '../charts/chart.js';
import { ema } from '../store.js';
import { TextStore, type StoredText } from '../text-store.js';
import type { TextCorpusInfo, TextCorpusReq, TextTrainReq } from '../protocol.js';
import { TOKEN_FAMILIES, type AppState, type Family } from '../state.js';
import { FAMILY_COLORS, SIZE_OPTS } from './train.js';
import { MyTextEditor } from './text-mine.js';
import { TextGenerate } from './text-generate.js';
import { forgetTextHistory, textHistoryOf } from './text-history.js';
import type { Ctx, View } from './view.js';

const CORPUS_OPTS = [
  ['shakespeare', 'Tiny Shakespeare (built in, 1.1 MB)'],
  ['mine', 'Your own text'],
] as const;
const TOKENIZER_OPTS = [
  ['char', 'characters (vocabulary from the corpus)'],
  ['byte', 'UTF-8 bytes (256 tokens)'],
] as const;
const TEXT_FAMILY_OPTS = [
  ['ar', 'AR transformer (exact NLL)'],
  ['masked-diffusion', 'Masked diffusion (NELBO)'],
  ['ssm', 'Selective SSM (exact NLL)'],
  ['d3pm', 'D3PM, absorbing (NELBO)'],
] as const;

/** The Text view's family: the URL's when it is a token family, else AR. */
export function textFamily(f: Family): (typeof TOKEN_FAMILIES)[number] {
  return TOKEN_FAMILIES.find((t) => t === f) ?? 'ar';
}

export class TextView implements View {
  private root!: HTMLElement;
  private readonly controls = h('div.card.controls');
  private readonly corpusCard = h('div.card', { 'data-testid': 'text-corpus-card' });
  private readonly stats = h('div.stats');
  private readonly chartBox = h('div.chart-box');
  private readonly store = new TextStore();
  private readonly mine: MyTextEditor;
  private readonly gen: TextGenerate;
  private stored: StoredText | null = null;
  private info: TextCorpusInfo | null = null;
  private corpusError: string | null = null;
  private loadedFor = '';
  private ctrlKey = '';
  private raf = 0;
  private off: (() => void) | null = null;
  private pausing = false;

  constructor(private readonly ctx: Ctx) {
    this.mine = new MyTextEditor(this.store, (t) => {
      this.stored = t;
      this.loadedFor = '';
      void this.loadCorpus();
    });
    this.gen = new TextGenerate(ctx, () => this.trainReq());
  }

  mount(root: HTMLElement): void {
    this.root = root;
    root.append(
      viewLayout(
        [
          this.controls,
          explainCard(
            'Bits per character',
            h(
              'p',
              {},
              'AR and the SSM report the exact −log₂ p(x_i | x_<i); masked diffusion and D3PM a one-sample NELBO, an upper bound. Both are divided by the characters per token, so char and byte models compare.',
            ),
            h(
              'p',
              {},
              "Validation runs on the corpus's last 10 % (never trained on), every 50 steps and at every pause. The dashed line is the unigram entropy of the characters: what a model that ignores context gets. Learning shows as the curve going below it.",
            ),
          ),
        ],
        h(
          'section.main-col',
          {},
          this.corpusCard,
          h('div.card', {}, h('h2', {}, 'Training'), this.stats, this.chartBox),
          this.gen.el,
        ),
      ),
    );
    this.off = this.ctx.client.on((e) => {
      if (e.type === 'text-train') this.schedule();
    });
    void this.store.load().then((t) => {
      this.stored = t;
      this.mine.show(t);
      this.update(this.ctx.getState());
    });
    this.update(this.ctx.getState());
  }

  private corpusReq(s: AppState): TextCorpusReq | null {
    if (s.corpus === 'shakespeare') return { corpus: 'shakespeare', tokenizer: s.tokenizer };
    return this.stored
      ? { corpus: 'mine', tokenizer: s.tokenizer, text: this.stored.text, name: this.stored.name }
      : null;
  }

  /** What the worker needs to train or sample this family on the loaded corpus (null until one is loaded). */
  private trainReq(): TextTrainReq | null {
    const s = this.ctx.getState();
    const c = this.corpusReq(s);
    if (!c || !this.info) return null;
    return { ...c, family: textFamily(s.family), size: s.size, lr: s.lr, batch: s.batch, seed: s.seed };
  }

  private async loadCorpus(): Promise<void> {
    const s = this.ctx.getState();
    const req = this.corpusReq(s);
    const want = `${s.corpus}|${s.tokenizer}|${this.stored?.savedAt ?? ''}`;
    if (want === this.loadedFor) return;
    this.loadedFor = want;
    this.info = null;
    this.corpusError = null;
    this.renderCorpus(req === null ? 'none' : 'loading');
    if (!req) return;
    try {
      const info = await this.ctx.client.call('textCorpus', req);
      if (want === this.loadedFor) this.info = info;
    } catch (e) {
      if (want === this.loadedFor) this.corpusError = (e as Error).message;
    }
    if (want === this.loadedFor) this.renderCorpus('done');
    this.schedule();
  }

  private renderCorpus(phase: 'none' | 'loading' | 'done'): void {
    clear(this.corpusCard);
    const s = this.ctx.getState();
    this.corpusCard.append(h('h2', {}, 'Corpus'));
    if (s.corpus === 'mine') this.corpusCard.append(this.mine.el);
    const i = this.info;
    if (phase === 'loading') this.corpusCard.append(h('div.placeholder', {}, 'Loading and tokenizing the corpus…'));
    if (this.corpusError)
      this.corpusCard.append(
        h('p.error-text', { 'data-testid': 'text-corpus-error', role: 'alert' }, this.corpusError),
      );
    if (!i) return;
    this.corpusCard.append(
      h(
        'div.stats',
        { 'data-testid': 'text-corpus-info', 'data-key': i.key },
        stat('Corpus', i.name, 'text-corpus-name', `${fmtInt(i.chars)} characters, hash ${i.contentHash.slice(0, 8)}`),
        stat('Tokens', fmtInt(i.tokens), 'text-tokens', `${i.tokenizer}: ${i.charsPerToken.toFixed(3)} chars/token`),
        stat('Vocabulary', fmtInt(i.vocabSize), 'text-vocab'),
        stat('Unigram entropy', i.unigramBitsPerChar.toFixed(3), 'text-unigram', 'bits/char: the no-context baseline'),
      ),
      h('pre.text-row.text-preview', {}, i.preview),
    );
  }

  private buildControls(s: AppState): void {
    clear(this.controls);
    const family = textFamily(s.family);
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
    append(this.controls, [
      h('h2', {}, 'Text'),
      field(
        'Corpus',
        select(CORPUS_OPTS, s.corpus, (v) => this.ctx.setState({ corpus: v }), 'text-corpus'),
      ),
      field(
        'Tokens',
        select(TOKENIZER_OPTS, s.tokenizer, (v) => this.ctx.setState({ tokenizer: v }), 'text-tokenizer'),
      ),
      field(
        'Family',
        select(TEXT_FAMILY_OPTS, family, (v) => this.ctx.setState({ family: v }), 'text-family'),
      ),
      field(
        'Size',
        select(SIZE_OPTS, s.size, (v) => this.ctx.setState({ size: v }), 'size-select'),
      ),
      h('div.row2', {}, field('Learning rate', lr), field('Batch', batch)),
      field('Seed', seed),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'text-train-start', onclick: () => void this.start() }, '▶ Start'),
        h('button', { 'data-testid': 'text-train-pause', onclick: () => void this.pause() }, '❚❚ Pause'),
        h('button.ghost', { 'data-testid': 'text-train-reset', onclick: () => void this.reset() }, '↺ Reset'),
      ),
      h(
        'p.muted.small',
        {},
        'Windows of 64 tokens; the last 10 % of the corpus is held out for validation. Training runs in the Web Worker.',
      ),
    ]);
  }

  private async start(): Promise<void> {
    const req = this.trainReq();
    if (!req) {
      this.ctx.toast('Load a corpus first (your own text: paste it and press "Use this text").', 'error');
      return;
    }
    try {
      await this.ctx.client.call('textTrainStart', req);
    } catch (e) {
      this.ctx.toast((e as Error).message, 'error');
    }
    this.schedule();
  }

  private async pause(): Promise<void> {
    const f = textFamily(this.ctx.getState().family);
    this.pausing = true;
    this.schedule();
    try {
      await this.ctx.client.call('textTrainPause', { family: f });
    } finally {
      this.pausing = false;
      this.schedule();
    }
  }

  private async reset(): Promise<void> {
    const f = textFamily(this.ctx.getState().family);
    await this.ctx.client.call('textTrainReset', { family: f });
    forgetTextHistory(f);
    this.schedule();
  }

  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.renderTraining();
    });
  }

  private renderTraining(): void {
    const f = textFamily(this.ctx.getState().family);
    const hist = this.info ? textHistoryOf(f, this.info.key) : null;
    const unigram = this.info?.unigramBitsPerChar ?? NaN;
    const sm = ema(hist?.bits ?? [], 0.9);
    const last = <T>(a: T[]): T | undefined => a[a.length - 1];
    const val = hist ? last(hist.valBits) : undefined;
    clear(this.stats);
    const status = this.pausing ? 'pausing…' : hist?.running ? 'training…' : hist?.steps.length ? 'paused' : 'idle';
    append(this.stats, [
      stat('Status', status, 'text-train-status'),
      stat('Step', fmtInt(hist ? (last(hist.steps) ?? 0) : 0), 'text-train-step'),
      stat('Train', sm.length ? last(sm)!.toFixed(3) : '—', 'text-train-bits', 'bits/char, smoothed'),
      stat(
        'Validation',
        val !== undefined ? val.toFixed(3) : '—',
        'text-val-bits',
        val !== undefined ? `bits/char ± ${hist!.valStdErr.toFixed(3)} (step ${last(hist!.valSteps)})` : 'bits/char',
      ),
      stat('Unigram entropy', Number.isFinite(unigram) ? unigram.toFixed(3) : '—', 'text-unigram-bits', 'bits/char'),
      stat('Speed', hist?.charsPerSec ? fmtInt(hist.charsPerSec) : '—', 'text-speed', 'chars/s'),
      stat('Parameters', hist?.paramCount ? fmtInt(hist.paramCount) : '—', 'text-params'),
    ]);
    const vb = this.stats.querySelector<HTMLElement>('[data-testid="text-val-bits"]');
    if (vb && val !== undefined) vb.dataset['value'] = String(val);
    clear(this.chartBox);
    if (!hist || hist.steps.length === 0) {
      this.chartBox.append(h('div.placeholder.tall', {}, 'Press Start: bits per character appear here, step by step.'));
      return;
    }
    const color = FAMILY_COLORS[f] ?? '#4f46e5';
    const pts = (xs: number[], ys: number[]) => xs.map((x, i) => [x, ys[i]!] as [number, number]);
    const all = [...sm, ...hist.valBits, ...(Number.isFinite(unigram) ? [unigram] : [])];
    this.chartBox.append(
      chart({
        width: 760,
        height: 300,
        xLabel: 'training step',
        yLabel: 'bits per character',
        xMin: 0,
        yMin: Math.max(0, Math.min(...all) - 0.3),
        // The untrained start (≈ log2 V) stays in view; later raw spikes may leave it.
        yMax: Math.max(...hist.bits.slice(0, 5), ...all) + 0.2,
        series: [
          { label: 'raw', color, points: pts(hist.steps, hist.bits), opacity: 0.25, width: 1.2 },
          { label: 'smoothed', color, points: pts(hist.steps, sm), width: 2.5 },
          { label: 'validation', color: '#0f172a', points: pts(hist.valSteps, hist.valBits), mode: 'both', width: 1.5 },
        ],
        hlines: Number.isFinite(unigram)
          ? [{ y: unigram, label: `unigram entropy ${unigram.toFixed(2)}`, color: '#0d9488' }]
          : [],
        testid: 'text-loss-chart',
      }),
      legend([
        { label: 'training bits/char per step', color: `${color}55` },
        { label: 'smoothed (EMA 0.9)', color },
        { label: 'validation (held-out 10 %)', color: '#0f172a' },
        { label: 'unigram entropy of the corpus', color: '#0d9488', dashed: true },
      ]),
    );
  }

  update(s: AppState): void {
    const key = `${s.family}|${s.size}|${s.lr}|${s.batch}|${s.seed}|${s.corpus}|${s.tokenizer}`;
    if (key !== this.ctrlKey) {
      this.ctrlKey = key;
      this.buildControls(s);
    }
    this.gen.update(s, textFamily(s.family));
    void this.loadCorpus();
    this.schedule();
  }

  unmount(): void {
    this.off?.();
    this.gen.unmount();
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    clear(this.root);
  }
}
