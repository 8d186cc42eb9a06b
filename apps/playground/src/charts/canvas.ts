/** Canvas renderers for point clouds and grayscale images. */
export function drawPoints(
  canvas: HTMLCanvasElement,
  xy: ArrayLike<number>,
  opts: { means?: Array<[number, number]>; range?: number; color?: string; under?: ArrayLike<number> } = {},
): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const W = canvas.width;
  const H = canvas.height;
  const R = opts.range ?? 3;
  const X = (v: number): number => ((v + R) / (2 * R)) * W;
  const Y = (v: number): number => H - ((v + R) / (2 * R)) * H;
  g.fillStyle = '#fbfbfe';
  g.fillRect(0, 0, W, H);
  g.strokeStyle = '#e6e8f0';
  g.lineWidth = 1;
  for (let v = -Math.floor(R); v <= R; v++) {
    g.beginPath();
    g.moveTo(X(v), 0);
    g.lineTo(X(v), H);
    g.moveTo(0, Y(v));
    g.lineTo(W, Y(v));
    g.stroke();
  }
  g.strokeStyle = 'rgba(225, 29, 72, 0.55)';
  g.lineWidth = 1.5;
  for (const [mx, my] of opts.means ?? []) {
    g.beginPath();
    g.arc(X(mx), Y(my), 7, 0, 2 * Math.PI);
    g.stroke();
  }
  if (opts.under) {
    g.fillStyle = 'rgba(148, 163, 184, 0.35)';
    for (let i = 0; i + 1 < opts.under.length; i += 2) {
      g.beginPath();
      g.arc(X(opts.under[i]!), Y(opts.under[i + 1]!), 1.5, 0, 2 * Math.PI);
      g.fill();
    }
  }
  g.fillStyle = opts.color ?? 'rgba(79, 70, 229, 0.6)';
  for (let i = 0; i + 1 < xy.length; i += 2) {
    g.beginPath();
    g.arc(X(xy[i]!), Y(xy[i + 1]!), 1.8, 0, 2 * Math.PI);
    g.fill();
  }
}

/** Values in [−1, 1] (clipped) to gray, drawn at native size; CSS scales it with pixelated rendering. */
export function drawImage(canvas: HTMLCanvasElement, values: ArrayLike<number>, size: number): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const img = g.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = Math.round(((Math.max(-1, Math.min(1, values[i]!)) + 1) / 2) * 255);
    img.data[4 * i] = v;
    img.data[4 * i + 1] = v;
    img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}
