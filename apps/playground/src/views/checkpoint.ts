/** View 6: bring a checkpoint — config.json + model.safetensors by file picker, then sample from it. */
import { h, clear, stat, fmtInt, fmtBytes } from '../ui/dom.js';
import { tokenRow } from '../ui/tokens.js';
import { drawImage, drawPoints } from '../charts/canvas.js';
import type { ModelSummary, SampleResult, SourceInfo } from '../protocol.js';
import type { AppState } from '../state.js';
import type { Ctx, View } from './view.js';

export class CheckpointView implements View {
  private root!: HTMLElement;
  private out!: HTMLElement;
  private loaded: ModelSummary | null = null;
  private sample: SampleResult | null = null;
  private info: SourceInfo | null = null;
  private error = '';

  constructor(private readonly ctx: Ctx) {}

  mount(root: HTMLElement): void {
    this.root = root;
    const cfg = h('input', { type: 'file', accept: '.json,application/json', 'data-testid': 'checkpoint-config' });
    const w = h('input', { type: 'file', accept: '.safetensors', 'data-testid': 'checkpoint-weights' });
    const dir = h('input', { type: 'file', 'data-testid': 'checkpoint-dir', webkitdirectory: true, multiple: true });
    const load = async (files: File[]): Promise<void> => {
      // A whole `altar train --out DIR` folder holds config.json at the top and step directories with
      // model.safetensors (plus optimizer/EMA files): take the top-most config and the best (else latest) weights.
      const path = (f: File): string => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
      const c = files
        .filter((f) => f.name === 'config.json' || (files.length <= 2 && f.name.endsWith('.json')))
        .sort((a, b) => path(a).split('/').length - path(b).split('/').length)[0];
      const weights = files
        .filter((f) => f.name.endsWith('.safetensors') && !/optimizer|ema/.test(f.name))
        .sort((a, b) => path(a).localeCompare(path(b)));
      const s = weights.find((f) => /best/.test(path(f))) ?? weights[weights.length - 1];
      if (!c || !s) {
        this.error = 'pick both a config.json and a model.safetensors';
        this.render();
        return;
      }
      try {
        this.error = '';
        const bytes = new Uint8Array(await s.arrayBuffer());
        this.loaded = await this.ctx.client.call('loadCheckpoint', { config: await c.text(), safetensors: bytes });
        this.sample = null;
      } catch (e) {
        this.error = (e as Error).message;
        this.loaded = null;
      }
      this.render();
    };
    const btn = h(
      'button.primary',
      { 'data-testid': 'checkpoint-load', onclick: () => void load([...(cfg.files ?? []), ...(w.files ?? [])]) },
      'Load',
    );
    dir.addEventListener('change', () => void load([...(dir.files ?? [])]));
    this.out = h('section.main-col');
    root.append(
      h(
        'div.layout',
        {},
        h(
          'aside.sidebar',
          {},
          h(
            'div.card.controls',
            {},
            h('h2', {}, 'Bring a checkpoint'),
            h('label.field', {}, h('span.field-label', {}, 'config.json'), cfg),
            h('label.field', {}, h('span.field-label', {}, 'model.safetensors'), w),
            h('div.buttons', {}, btn),
            h('hr'),
            h('label.field', {}, h('span.field-label', {}, '…or a whole checkpoint folder'), dir),
          ),
          h(
            'div.card.explain',
            {},
            h('h3', {}, 'Format'),
            h(
              'p',
              {},
              'What `altar train --out DIR` writes: a run config.json (family, data, model, diffusion) and a model.safetensors whose metadata carries the full model config (altar.config), family and step. The Train view\'s "Export checkpoint" writes the same two files.',
            ),
            h(
              'p',
              {},
              'Token families (ar, masked-diffusion, ssm, d3pm) trained on the default HMM source load here, and the gaussian family on the rings, grid or moons mixtures or on 16×16 grey images; anything else is refused with the reason.',
            ),
            h(
              'p',
              {},
              "A loaded model replaces its family's model in the other views and is kept in this browser like a trained one.",
            ),
            h('p.muted.small', {}, 'Files never leave the browser.'),
          ),
        ),
        this.out,
      ),
    );
    void this.ctx.tokenInfo().then((i) => {
      this.info = i;
      this.render();
    });
    this.render();
  }

  private async runSample(): Promise<void> {
    if (!this.loaded) return;
    const s = this.ctx.getState();
    try {
      const f = this.loaded.family;
      this.sample = await this.ctx.client.call('sample', {
        family: f,
        T: s.T,
        seed: s.seed,
        batch: f === 'gaussian' ? 600 : f === 'gaussian-image' ? 8 : 6,
        size: s.size,
      });
    } catch (e) {
      this.error = (e as Error).message;
    }
    this.render();
  }

  private render(): void {
    clear(this.out);
    const card = h('div.card', { 'data-testid': 'checkpoint-output' });
    this.out.append(card);
    if (this.error) card.append(h('div.error', { 'data-testid': 'checkpoint-error' }, this.error));
    const m = this.loaded;
    if (!m) {
      card.append(h('div.placeholder.tall', {}, 'No checkpoint loaded yet.'));
      return;
    }
    card.append(
      h('div.stage-head', {}, h('h3', {}, `Loaded: ${String(m.config['type'])}`), h('span.pill', {}, m.origin)),
      h(
        'div.stats',
        {},
        stat('Parameters', fmtInt(m.paramCount), 'checkpoint-params'),
        stat('Size', fmtBytes(m.paramCount * m.bytesPerWeight)),
        m.config['type'] === 'unet'
          ? stat(
              'U-Net widths',
              (m.config['channelMults'] as number[]).map((k) => k * Number(m.config['baseChannels'])).join(' → '),
            )
          : stat(
              'Layers × width',
              `${String(m.config['nLayers'])} × ${String(m.config['dModel'] ?? m.config['hidden'])}`,
            ),
      ),
      h(
        'div.buttons',
        {},
        h(
          'button.primary',
          { 'data-testid': 'checkpoint-sample', onclick: () => void this.runSample() },
          '▶ Sample from it',
        ),
      ),
    );
    const r = this.sample;
    if (r?.images) {
      const im = r.images;
      const P = im.size * im.size * im.channels;
      const last = im.frames[im.frames.length - 1] ?? [];
      const grid = h('div.image-grid.samples');
      for (let b = 0; b < im.batch; b++) {
        const c = h('canvas.img', { width: im.size, height: im.size });
        drawImage(c, last.slice(b * P, b * P + P), im.size);
        grid.append(c);
      }
      card.append(
        h('div', { 'data-testid': 'checkpoint-samples' }, grid),
        h('p.muted', {}, `NFE ${r.cost.nfe} (${r.sampler}).`),
      );
    } else if (r?.points) {
      const canvas = h('canvas.points', { width: 420, height: 420 });
      drawPoints(canvas, r.points.frames[r.points.frames.length - 1] ?? [], {
        means: r.points.means,
        range: 2.4,
        color: 'rgba(124, 58, 237, 0.55)',
      });
      card.append(
        h('div.canvas-wrap', { 'data-testid': 'checkpoint-samples' }, canvas),
        h(
          'p.muted',
          {},
          `NFE ${r.cost.nfe}, NLL under the source ${r.nllBits.toFixed(2)} bits/dim (entropy ${r.points.entropyBits.toFixed(2)}).`,
        ),
      );
    } else if (r && this.info) {
      const info = this.info;
      card.append(
        h(
          'div.seqs',
          { 'data-testid': 'checkpoint-samples' },
          r.samples.map((seq) => tokenRow(seq, info)),
        ),
        h(
          'p.muted',
          {},
          `NFE ${r.cost.nfe}, NLL under the source ${r.nllBits.toFixed(2)} bits/token (entropy ${info.entropyBits?.toFixed(2)}).`,
        ),
      );
    }
  }

  update(_s: AppState): void {}

  unmount(): void {
    clear(this.root);
  }
}
