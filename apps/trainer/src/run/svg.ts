/**
 * Dependency-free SVG charts for `altar plot` and the demo: line charts (loss curves, bound vs T)
 * and labelled scatter plots (quality vs sampling cost). Linear or log₁₀ axes with "nice" ticks.
 */

export interface Series {
  name: string;
  points: [number, number][];
  /** Draw markers only (no line). */
  markersOnly?: boolean;
  /** Per-point labels (scatter). */
  labels?: string[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  /** Horizontal reference lines, e.g. the source entropy. */
  hlines?: { y: number; label: string }[];
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const span = hi - lo;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const norm = step0 / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** Render a chart as an SVG document. Non-finite points are dropped. */
export function renderChart(o: ChartOptions): string {
  // The legend sits in the right margin: make it wide enough for the longest series name.
  const longest = Math.max(0, ...o.series.map((s) => s.name.length));
  const m = { l: 70, r: Math.max(170, 40 + Math.ceil(longest * 6.6)), t: 40, b: 50 };
  const W = o.width ?? 470 + m.r;
  const H = o.height ?? 400;
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  const ty = (y: number) => (o.logY ? Math.log10(y) : y);
  const ok = ([x, y]: [number, number]) => Number.isFinite(tx(x)) && Number.isFinite(ty(y));
  const pts = o.series.flatMap((s) => s.points.filter(ok));
  const ys = [...pts.map((p) => ty(p[1])), ...(o.hlines ?? []).map((h) => ty(h.y)).filter(Number.isFinite)];
  const xs = pts.map((p) => tx(p[0]));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const padX = (x1 - x0) * 0.05;
  x0 -= padX;
  x1 += padX;
  const padY = (y1 - y0) * 0.05;
  y0 -= padY;
  y1 += padY;
  const sx = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + ph - ((ty(y) - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  const xt = o.logX
    ? niceTicks(Math.floor(x0), Math.ceil(x1), Math.max(1, Math.ceil(x1) - Math.floor(x0)))
        .filter((v) => v >= x0 - 1e-9 && v <= x1 + 1e-9)
        .map((v) => 10 ** v)
    : niceTicks(x0, x1);
  const yt = o.logY
    ? niceTicks(Math.floor(y0), Math.ceil(y1))
        .filter((v) => v >= y0 && v <= y1)
        .map((v) => 10 ** v)
    : niceTicks(y0, y1);
  for (const v of xt) {
    const X = sx(v);
    out.push(
      `<line x1="${X}" y1="${m.t}" x2="${X}" y2="${m.t + ph}" stroke="#eee"/><text x="${X}" y="${m.t + ph + 16}" text-anchor="middle">${fmt(v)}</text>`,
    );
  }
  for (const v of yt) {
    const Y = sy(v);
    out.push(
      `<line x1="${m.l}" y1="${Y}" x2="${m.l + pw}" y2="${Y}" stroke="#eee"/><text x="${m.l - 6}" y="${Y + 4}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  // Reference lines; labels pushed apart (≥ 14 px) so close lines stay readable.
  const hl = (o.hlines ?? []).filter((h) => Number.isFinite(ty(h.y))).map((h) => ({ ...h, Y: sy(h.y) }));
  hl.sort((a, b) => b.Y - a.Y);
  let lastLabelY = Infinity;
  for (const h of hl) {
    const labelY = Math.min(h.Y - 4, lastLabelY - 14);
    lastLabelY = labelY;
    out.push(
      `<line x1="${m.l}" y1="${h.Y}" x2="${m.l + pw}" y2="${h.Y}" stroke="#555" stroke-dasharray="5,4"/><text x="${m.l + pw - 4}" y="${labelY}" text-anchor="end" fill="#555">${esc(h.label)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const p = s.points.filter(ok);
    if (!s.markersOnly && p.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    if (s.markersOnly || p.length <= 40) {
      p.forEach(([x, y], k) => {
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${c}"/>`);
        const lab = s.labels?.[s.points.indexOf(p[k]!)];
        if (lab)
          out.push(
            `<text x="${(sx(x) + 6).toFixed(1)}" y="${(sy(y) - 6).toFixed(1)}" fill="${c}" font-size="10">${esc(lab)}</text>`,
          );
      });
    }
    const ly = m.t + 14 + i * 18;
    out.push(
      `<rect x="${m.l + pw + 12}" y="${ly - 9}" width="12" height="12" fill="${c}"/><text x="${m.l + pw + 30}" y="${ly + 1}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
