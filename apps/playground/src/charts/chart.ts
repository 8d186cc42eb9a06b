/** Small hand-drawn SVG charts: line/scatter series, horizontal reference lines, bars; linear or log x. */
const NS = 'http://www.w3.org/2000/svg';

function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  mode?: 'line' | 'dots' | 'both';
  width?: number;
  opacity?: number;
  /** Text drawn beside each dot (e.g. T values). */
  pointLabels?: string[];
}

export interface HLine {
  y: number;
  label: string;
  color: string;
  /** Where the label sits along the line (default left). */
  labelAt?: 'left' | 'right';
}

export interface ChartOptions {
  width?: number;
  height?: number;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  series: Series[];
  hlines?: HLine[];
  bars?: { color: string; values: Array<[number, number]>; label: string };
  yMin?: number;
  yMax?: number;
  xMin?: number;
  xMax?: number;
  xTickFormat?: (v: number) => string;
  testid?: string;
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const span = hi - lo;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** 1-2-5 ticks per decade inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(Math.max(lo, 1e-12))); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

export function chart(o: ChartOptions): SVGSVGElement {
  const W = o.width ?? 640;
  const H = o.height ?? 300;
  const m = { l: 56, r: o.series.some((s) => s.pointLabels) ? 44 : 18, t: 16, b: 44 };
  const all = o.series.flatMap((s) => s.points).concat(o.bars?.values ?? []);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).concat((o.hlines ?? []).map((l) => l.y));
  let x0 = o.xMin ?? (xs.length ? Math.min(...xs) : 0);
  let x1 = o.xMax ?? (xs.length ? Math.max(...xs) : 1);
  if (o.bars) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  if (x1 <= x0) x1 = x0 + 1;
  let y0 = o.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let y1 = o.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (y1 <= y0) {
    y1 = y0 + 1;
  }
  const pad = (y1 - y0) * 0.08;
  if (o.yMin === undefined) y0 -= pad;
  if (o.yMax === undefined) y1 += pad;
  const lx = (v: number): number => (o.xLog ? Math.log10(Math.max(v, 1e-12)) : v);
  const X = (v: number): number => m.l + ((lx(v) - lx(x0)) / (lx(x1) - lx(x0) || 1)) * (W - m.l - m.r);
  const Y = (v: number): number => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);

  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' });
  if (o.testid) svg.setAttribute('data-testid', o.testid);
  // grid + y ticks
  for (const v of niceTicks(y0, y1, 5)) {
    svg.append(svgEl('line', { x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v), class: 'grid' }));
    svg.append(
      svgEl('text', { x: m.l - 8, y: Y(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(Number(v.toPrecision(4)))),
    );
  }
  // x ticks
  const xt = o.xLog ? logTicks(x0, x1) : niceTicks(x0, x1, 6);
  for (const v of xt) {
    svg.append(svgEl('line', { x1: X(v), x2: X(v), y1: H - m.b, y2: H - m.b + 5, class: 'axis' }));
    svg.append(
      svgEl(
        'text',
        { x: X(v), y: H - m.b + 18, class: 'tick', 'text-anchor': 'middle' },
        o.xTickFormat ? o.xTickFormat(v) : String(Number(v.toPrecision(4))),
      ),
    );
  }
  svg.append(svgEl('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, class: 'axis' }));
  svg.append(svgEl('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, class: 'axis' }));
  svg.append(
    svgEl('text', { x: (m.l + W - m.r) / 2, y: H - 6, class: 'axis-label', 'text-anchor': 'middle' }, o.xLabel),
  );
  svg.append(
    svgEl(
      'text',
      {
        x: 14,
        y: (m.t + H - m.b) / 2,
        class: 'axis-label',
        'text-anchor': 'middle',
        transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`,
      },
      o.yLabel,
    ),
  );

  if (o.bars) {
    const bw = Math.max(2, ((W - m.l - m.r) / (x1 - x0)) * 0.7);
    for (const [x, y] of o.bars.values) {
      const top = Math.min(Y(y), Y(Math.max(0, y0)));
      svg.append(
        svgEl('rect', {
          x: X(x) - bw / 2,
          y: top,
          width: bw,
          height: Math.abs(Y(Math.max(0, y0)) - Y(y)),
          fill: o.bars.color,
          rx: 2,
        }),
      );
    }
  }
  for (const l of o.hlines ?? []) {
    svg.append(
      svgEl('line', {
        x1: m.l,
        x2: W - m.r,
        y1: Y(l.y),
        y2: Y(l.y),
        stroke: l.color,
        'stroke-dasharray': '6 4',
        'stroke-width': 1.5,
      }),
    );
    const right = l.labelAt === 'right';
    svg.append(
      svgEl(
        'text',
        {
          x: right ? W - m.r - 6 : m.l + 8,
          y: Y(l.y) - 6,
          class: 'hline-label',
          fill: l.color,
          'text-anchor': right ? 'end' : 'start',
        },
        l.label,
      ),
    );
  }
  for (const s of o.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const mode = s.mode ?? 'line';
    if ((mode === 'line' || mode === 'both') && pts.length > 1) {
      const d = pts
        .map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(Math.min(Math.max(y, y0), y1)).toFixed(1)}`)
        .join('');
      svg.append(
        svgEl('path', {
          d,
          fill: 'none',
          stroke: s.color,
          'stroke-width': s.width ?? 2,
          opacity: s.opacity ?? 1,
          'stroke-linejoin': 'round',
        }),
      );
    }
    if (mode === 'dots' || mode === 'both') {
      pts.forEach(([x, y], i) => {
        if (y < y0 || y > y1) return;
        svg.append(svgEl('circle', { cx: X(x), cy: Y(y), r: s.width ?? 3.5, fill: s.color, opacity: s.opacity ?? 1 }));
        const pl = s.pointLabels?.[i];
        if (pl) svg.append(svgEl('text', { x: X(x) + 6, y: Y(y) - 6, class: 'point-label', fill: s.color }, pl));
      });
    }
  }
  return svg;
}

export function legend(items: Array<{ label: string; color: string; dashed?: boolean }>): HTMLElement {
  const el = document.createElement('div');
  el.className = 'legend';
  for (const it of items) {
    const sw = document.createElement('span');
    sw.className = it.dashed ? 'swatch dashed' : 'swatch';
    sw.style.setProperty('--c', it.color);
    const item = document.createElement('span');
    item.className = 'legend-item';
    item.append(sw, document.createTextNode(it.label));
    el.append(item);
  }
  return el;
}
