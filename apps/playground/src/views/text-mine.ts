/**
 * The Text view's "your own text" editor: paste into the box, drop a file on it or choose one; "Use this
 * text" checks the size (MAX_TEXT_BYTES), keeps it in this browser (text-store.ts) and hands it to the view.
 */
import { h } from '../ui/dom.js';
import { MAX_TEXT_BYTES, readTextFile, type StoredText, type TextStore } from '../text-store.js';

export class MyTextEditor {
  readonly el: HTMLElement;
  private readonly box: HTMLTextAreaElement;
  private readonly status: HTMLElement;
  private readonly error: HTMLElement;
  private name = 'pasted text';

  constructor(
    private readonly store: TextStore,
    private readonly onUse: (t: StoredText | null) => void,
  ) {
    this.box = h('textarea.text-input', {
      'data-testid': 'text-input',
      rows: 7,
      spellcheck: 'false',
      placeholder: 'Paste text here, or drop a UTF-8 .txt file on this box.',
    });
    this.box.addEventListener('input', () => (this.name = 'pasted text'));
    this.box.addEventListener('dragover', (ev) => ev.preventDefault());
    this.box.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files[0];
      if (f) void this.readFile(f);
    });
    const file = h('input', { type: 'file', accept: '.txt,text/plain', 'data-testid': 'text-file' });
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (f) void this.readFile(f);
    });
    this.status = h('p.muted.small', { 'data-testid': 'text-mine-status' }, '');
    this.error = h('p.error-text', { 'data-testid': 'text-error', role: 'alert', hidden: true });
    this.el = h(
      'div.text-mine',
      {},
      this.box,
      h('div.buttons', {}, file),
      h(
        'div.buttons',
        {},
        h('button.primary', { 'data-testid': 'text-use', onclick: () => void this.use() }, 'Use this text'),
        h('button.ghost', { 'data-testid': 'text-forget', onclick: () => void this.forget() }, 'Forget it'),
      ),
      this.error,
      this.status,
      h(
        'p.muted.small',
        {},
        `Up to ${MAX_TEXT_BYTES / (1024 * 1024)} MB of UTF-8, kept in this browser (IndexedDB) until you forget it; nothing leaves the page.`,
      ),
    );
  }

  /** Shows what this browser keeps (or that it keeps nothing yet). */
  show(t: StoredText | null): void {
    if (t) {
      this.box.value = t.text;
      this.name = t.name;
      this.status.textContent = `Kept in this browser: "${t.name}", ${t.bytes.toLocaleString('en-US')} bytes.`;
    } else this.status.textContent = 'No text of yours is kept yet.';
  }

  private showError(msg: string | null): void {
    this.error.hidden = msg === null;
    this.error.textContent = msg ?? '';
  }

  private async readFile(f: File): Promise<void> {
    try {
      this.box.value = await readTextFile(f);
      this.name = f.name;
      this.showError(null);
      await this.use();
    } catch (e) {
      this.showError((e as Error).message);
    }
  }

  private async use(): Promise<void> {
    const text = this.box.value;
    try {
      const kept = await this.store.save(this.name, text);
      this.showError(null);
      const t: StoredText = {
        name: this.name,
        text,
        bytes: new TextEncoder().encode(text).length,
        savedAt: Date.now(),
      };
      this.show(t);
      if (!kept)
        this.status.textContent =
          'This browser keeps no data (IndexedDB unavailable): the text is used for this visit only.';
      this.onUse(t);
    } catch (e) {
      this.showError((e as Error).message);
    }
  }

  private async forget(): Promise<void> {
    await this.store.remove();
    this.box.value = '';
    this.show(null);
    this.onUse(null);
  }
}
