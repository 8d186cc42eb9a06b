/**
 * The playground's data: the default HMM (token glyphs coloured by state, entropy), the 2-D mixtures,
 * the shapes; the noise schedules the Forward view scrubs, and its clean data with fixed noise.
 */
import { Rng } from '@altar/backend';
import { HmmSource, generateShapeImages, gmmPreset, type GaussianMixtureSource } from '@altar/data';
import { GaussianProcess, MaskedProcess } from '@altar/noise';
import type { ForwardData, ScheduleGrid, SourceInfo } from '../protocol.js';
import type { PointSourceName, ProcessName, SourceName } from '../state.js';

const GRID = Array.from({ length: 101 }, (_, i) => i / 100);
const GLYPHS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class Sources {
  readonly hmm = new HmmSource();
  private hmmInfo: SourceInfo | null = null;
  private readonly gmms = new Map<string, GaussianMixtureSource>();
  private readonly pointInfo = new Map<string, SourceInfo>();

  gmm(name: PointSourceName): GaussianMixtureSource {
    let g = this.gmms.get(name);
    if (!g) {
      g = gmmPreset(name);
      this.gmms.set(name, g);
    }
    return g;
  }

  /** Token glyphs and colours: each token is coloured by the HMM state most likely to emit it. */
  tokenInfo(): SourceInfo {
    if (this.hmmInfo) return this.hmmInfo;
    const s = this.hmm;
    const V = s.vocabSize;
    const S = s.numStates;
    const groups = Array.from({ length: V }, (_, v) => {
      let best = 0;
      for (let k = 1; k < S; k++) if (s.emission[k * V + v]! > s.emission[best * V + v]!) best = k;
      return best;
    });
    // Letters in state order, so one state's tokens read as neighbours in the alphabet.
    const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => groups[a]! - groups[b]! || a - b);
    const glyphs = new Array<string>(V);
    order.forEach((v, i) => (glyphs[v] = GLYPHS[i] ?? String(v)));
    const rep = s.entropyReport(new Rng(0x51ed), 2000);
    this.hmmInfo = {
      kind: 'tokens',
      name: s.name,
      entropyBits: rep.entropyBitsPerToken,
      marginalBits: rep.marginalEntropyBitsPerToken,
      vocabSize: V,
      seqLen: s.seqLen,
      glyphs,
      groups,
    };
    return this.hmmInfo;
  }

  sourceInfo(name: SourceName): SourceInfo {
    if (name === 'hmm') return this.tokenInfo();
    if (name === 'shapes')
      return {
        kind: 'images',
        name: 'shapes',
        entropyBits: null,
        marginalBits: null,
        vocabSize: 0,
        seqLen: 256,
        glyphs: [],
        groups: [],
      };
    const cached = this.pointInfo.get(name);
    if (cached) return cached;
    const g = this.gmm(name);
    const means: Array<[number, number]> = [];
    for (let k = 0; k < g.numComponents; k++) means.push([g.means[k * g.dim]!, g.means[k * g.dim + 1]!]);
    // Differential entropy per dimension by Monte Carlo over the exact log density.
    const info: SourceInfo = {
      kind: 'points',
      name,
      entropyBits: g.entropyReport(new Rng(777), 2000).entropyBitsPerDim,
      marginalBits: null,
      vocabSize: 0,
      seqLen: g.dim,
      glyphs: [],
      groups: [],
      means,
    };
    this.pointInfo.set(name, info);
    return info;
  }

  schedule(process: ProcessName): ScheduleGrid {
    if (process === 'gauss') {
      const g = new GaussianProcess('vp-cosine');
      return { name: g.name, alpha: GRID.map((t) => g.schedule.alpha(t)), sigma: GRID.map((t) => g.schedule.sigma(t)) };
    }
    const m = new MaskedProcess({ vocabSize: this.hmm.vocabSize, schedule: 'linear' });
    return { name: m.name, alpha: GRID.map((t) => m.alpha(t)) };
  }

  /**
   * Clean data plus the fixed noise that the page's scrubber applies for any t (so scrubbing is
   * instant and monotone): per-position uniforms u (a token is noised iff u ≥ α_t) and replacement
   * tokens for the uniform process; Gaussian ε for z = α_t x + σ_t ε.
   */
  forward(name: SourceName, process: ProcessName, seed: number): ForwardData {
    const rng = new Rng(seed).fork(`forward:${name}:${process}`);
    const info = this.sourceInfo(name);
    if (name === 'hmm') {
      const N = this.hmm.seqLen;
      const flat = this.hmm.sampleBatch(6, rng);
      const x = Array.from({ length: 6 }, (_, b) => Array.from(flat.subarray(b * N, b * N + N)));
      const u = x.map((r) => Array.from(rng.uniformArray(r.length)));
      const repl = x.map((r) => r.map(() => rng.nextInt(0, this.hmm.vocabSize)));
      return { kind: 'tokens', info, schedule: this.schedule(process === 'gauss' ? 'mask' : process), x, u, repl };
    }
    const schedule = this.schedule('gauss');
    if (name === 'shapes') {
      const imgs = generateShapeImages({ count: 6, size: 16, channels: 1, seed });
      const P = 16 * 16;
      const x = Array.from({ length: 6 }, (_, b) => Array.from(imgs.floats.subarray(b * P, b * P + P)));
      return { kind: 'images', info, schedule, size: 16, x, eps: x.map((i) => Array.from(rng.normalArray(i.length))) };
    }
    const n = 800;
    return {
      kind: 'points',
      info,
      schedule,
      x: Array.from(this.gmm(name).sample(n, rng)),
      eps: Array.from(rng.normalArray(2 * n)),
    };
  }
}
