/** Token sequences rendered as coloured glyph chips: colour = the HMM state that emits the token. */
import { h } from './dom.js';
import type { SourceInfo } from '../protocol.js';

const HUES = [222, 12, 152, 280, 38, 190, 330, 95];

export function tokenColor(group: number): string {
  return `hsl(${HUES[group % HUES.length]} 70% 90%)`;
}
export function tokenInk(group: number): string {
  return `hsl(${HUES[group % HUES.length]} 60% 32%)`;
}

/** A row of chips. `tok` −1 = masked (or not yet generated); `changed` marks replaced tokens. */
export function tokenRow(
  seq: ArrayLike<number>,
  info: SourceInfo,
  opts: { changed?: ArrayLike<boolean>; fresh?: ArrayLike<boolean> } = {},
): HTMLElement {
  const row = h('div.tokrow');
  for (let i = 0; i < seq.length; i++) {
    const t = seq[i]!;
    if (t < 0) {
      row.append(h('span.tok.tok-mask', { title: 'masked' }, '▪'));
      continue;
    }
    const g = info.groups[t] ?? 0;
    const chip = h('span.tok', { title: `token ${t} (state ${g})` }, info.glyphs[t] ?? String(t));
    chip.style.background = tokenColor(g);
    chip.style.color = tokenInk(g);
    if (opts.changed?.[i]) chip.classList.add('tok-changed');
    if (opts.fresh?.[i]) chip.classList.add('tok-fresh');
    row.append(chip);
  }
  return row;
}
