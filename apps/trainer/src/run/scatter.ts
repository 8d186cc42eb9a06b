/** The 2-D scatter plot `altar sample --oracle gmm` writes (first two coordinates of each sample). */

/** A 2-D scatter plot of the samples (first two coordinates) as a standalone SVG. */
export function scatterSvg(vectors: ArrayLike<number>, dim: number, title: string): string {
  const n = vectors.length / dim;
  const size = 480;
  const pad = 24;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++)
    for (let q = 0; q < Math.min(2, dim); q++) {
      const v = vectors[i * dim + q]!;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
  const sx = (v: number) => (pad + ((v - lo) / (hi - lo)) * (size - 2 * pad)).toFixed(1);
  const sy = (v: number) => (size - pad - ((v - lo) / (hi - lo)) * (size - 2 * pad)).toFixed(1);
  const pts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = vectors[i * dim]!;
    const y = dim > 1 ? vectors[i * dim + 1]! : 0;
    if (Number.isFinite(x) && Number.isFinite(y)) pts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="1.6"/>`);
  }
  const esc = title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad}" y="16" font-family="sans-serif" font-size="12">${esc}</text>
<g fill="#1f5fbf" fill-opacity="0.6">
${pts.join('\n')}
</g>
</svg>
`;
}
