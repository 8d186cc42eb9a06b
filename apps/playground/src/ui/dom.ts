/** A tiny hyperscript helper: h('div.card', {attrs}, children). No framework needed at this size. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K | `${K}.${string}`,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const [name, ...classes] = tag.split('.') as [K, ...string[]];
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function')
      el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
    else if (k === 'class') el.className = [el.className, String(v)].filter(Boolean).join(' ');
    else if (k === 'value' && 'value' in el) (el as unknown as { value: string }).value = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Array<Child | Child[]>): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}

export function fmtBytes(b: number): string {
  if (b < 1024) return `${b.toFixed(0)} B`;
  const u = ['KB', 'MB', 'GB', 'TB'];
  let v = b / 1000;
  let i = 0;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${u[i]}`;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A labelled form field. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h('label.field', {}, h('span.field-label', {}, label), control, hint ? h('span.field-hint', {}, hint) : null);
}

/** A <select> over typed values: `onChange` receives the option's own value (never an unchecked string). */
export function select<T extends string>(
  options: ReadonlyArray<readonly [T, string]>,
  value: T,
  onChange: (v: T) => void,
  testid?: string,
): HTMLSelectElement {
  const s = h('select', { 'data-testid': testid });
  for (const [v, l] of options) s.append(h('option', { value: v }, l));
  s.value = value;
  s.addEventListener('change', () => {
    const hit = options.find(([v]) => v === s.value);
    if (hit) onChange(hit[0]);
  });
  return s;
}

export function stat(label: string, value: string, testid?: string, sub?: string): HTMLElement {
  return h(
    'div.stat',
    {},
    h('div.stat-label', {}, label),
    h('div.stat-value', { 'data-testid': testid }, value),
    sub ? h('div.stat-sub', {}, sub) : null,
  );
}

/** The explanatory card under a view's controls: a heading and paragraphs (or other nodes). */
export function explainCard(title: string, ...body: Child[]): HTMLElement {
  return h('div.card.explain', {}, h('h3', {}, title), ...body);
}

/** Every view's frame: a sidebar (controls, explanation) beside the main column. */
export function viewLayout(sidebar: Child[], main: Child): HTMLElement {
  return h('div.layout', {}, h('aside.sidebar', {}, ...sidebar), main);
}
