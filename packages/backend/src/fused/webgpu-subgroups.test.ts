import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { currentBackend } from '../init.js';
import { Rng } from '../rng.js';
import { expectNoLeaks, testBackends, useBackend } from '../testing/index.js';
import { hoistEnableDirectives, registerWebgpuFactory, webgpuSubgroups } from '../webgpu-device.js';
import { decodeAttention } from './decode-attention.js';
import { squaredNorms } from './ops.js';
import { WGSL_ENABLE_SUBGROUPS, workgroupReduceWgsl } from './webgpu-reduce.js';

describe('WGSL text for subgroups', () => {
  it('moves enable directives to the start of the module, once each', () => {
    const code = `struct A { x : f32 };\n  enable subgroups;\nfn f() {}\n${WGSL_ENABLE_SUBGROUPS}\nfn g() {}`;
    const out = hoistEnableDirectives(code);
    expect(out.startsWith('enable subgroups;\n')).toBe(true);
    expect(out.match(/enable subgroups;/g)).toHaveLength(1);
    expect(out).toContain('struct A');
    expect(out).toContain('fn g()');
    expect(hoistEnableDirectives('fn f() {}')).toBe('fn f() {}');
  });

  it('uses subgroup builtins only when asked, and declares the functions it promises', () => {
    const on = workgroupReduceWgsl('r', 256, true);
    const off = workgroupReduceWgsl('r', 256, false);
    for (const t of [on, off]) expect(t).toMatch(/fn r_sum\(v : f32, l : i32\) -> f32[\s\S]*fn r_max\(/);
    expect(on).toContain(WGSL_ENABLE_SUBGROUPS);
    expect(on).toMatch(/subgroupAdd\(v\)[\s\S]*subgroupMax\(v\)/);
    expect(off).not.toMatch(/subgroup|enable/);
    expect(on).toContain('array<atomic<u32>, 8>'); // one leader bit per invocation of 256
    expect(() => workgroupReduceWgsl('r', 0, true)).toThrow(/workgroupSize.*0/);
  });
});

const rng = new Rng(41);
/** Sizes below, at and above one workgroup (256), not multiples of it, and one long one: 2 programs of ≤ 7. */
const NORM_SIZES = [1, 3, 100, 255, 256, 257, 1000, 4099, 70001];
const normData = NORM_SIZES.map((n) => Float32Array.from(rng.normalArray(n)));
/** Key counts (cache + 1): one key, fewer than a subgroup of 8, one workgroup of 64, several rounds of 64. */
const KEYS = [1, 7, 64, 300];
const B = 2;
const H = 2;
const DH = 16;
const D = H * DH;
const attnData = KEYS.map((k) => ({
  qkv: Float32Array.from(rng.normalArray(B * 3 * D)),
  k: Float32Array.from(rng.normalArray(B * H * (k - 1) * DH)),
  v: Float32Array.from(rng.normalArray(B * H * (k - 1) * DH)),
}));

/** Squared norms, then y and K' of every decode-attention case (rotary on for even cases). */
async function runKernels(): Promise<{ norms: number[]; attn: number[][] }> {
  const ts = normData.map((d) => tf.tensor1d(d));
  const n = squaredNorms(ts);
  const norms = Array.from(await n.data());
  tf.dispose([n, ...ts]);
  const attn: number[][] = [];
  for (let c = 0; c < KEYS.length; c++) {
    const p = KEYS[c]! - 1;
    const { qkv, k, v } = attnData[c]!;
    const out = tf.tidy(() =>
      decodeAttention(tf.tensor2d(qkv, [B, 3 * D]), tf.tensor4d(k, [B, H, p, DH]), tf.tensor4d(v, [B, H, p, DH]), {
        nHeads: H,
        rope: c % 2 === 0,
        ropeBase: 10000,
      }),
    );
    attn.push([...(await out[0].data()), ...(await out[1].data())]);
    tf.dispose(out);
  }
  return { norms, attn };
}

function expectNear(got: number[], want: number[], rel: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(rel);
}

const savedEnv = process.env['ALTAR_WEBGPU_SUBGROUPS'];

/** Drop the started webgpu backend and start a new one with subgroups allowed or not (the env opt-out). */
async function restartWebgpu(allow: boolean): Promise<void> {
  if (allow) delete process.env['ALTAR_WEBGPU_SUBGROUPS'];
  else process.env['ALTAR_WEBGPU_SUBGROUPS'] = '0';
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  registerWebgpuFactory(await import('@tensorflow/tfjs-backend-webgpu'));
  expect(await tf.setBackend('webgpu')).toBe(true);
}

function device(): { features: { has(f: string): boolean } } {
  return (tf.backend() as unknown as { device: { features: { has(f: string): boolean } } }).device;
}
function altarShaderKeys(): string[] {
  const cache = (tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache;
  return Object.keys(cache).filter((k) => k.startsWith('altar_sqnorms') || k.startsWith('altar_dec_attn'));
}

/** Per workgroup of `wg`: Σx, max x and max(−x) through workgroupReduceWgsl (three calls: the helper is reusable). */
class ReduceProgram {
  readonly variableNames = ['X'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];

  constructor(
    private readonly wg: number,
    groups: number,
    private readonly subgroups: boolean,
  ) {
    this.outputShape = [3 * groups];
    this.dispatch = [groups, 1, 1];
    this.workgroupSize = [wg, 1, 1];
    this.shaderKey = `altar_test_reduce_${wg}_${subgroups}`;
  }

  getUserCode(): string {
    return `${workgroupReduceWgsl('t', this.wg, this.subgroups)}
      fn main(index : i32) {
        let l = i32(localIndex);
        let g = i32(workgroupId.x);
        _ = uniforms.NAN; // tfjs binds its uniform block: an unused binding would leave the automatic layout
        let x = X[g * ${this.wg} + l];
        let s = t_sum(x, l);
        let m = t_max(x, l);
        let n = t_max(-x, l);
        if (l == 0) { result[3 * g] = s; result[3 * g + 1] = m; result[3 * g + 2] = n; }
      }`;
  }
}

describe.each(testBackends().filter((b) => b === 'webgpu'))('workgroupReduceWgsl on %s', (backend) => {
  it('sums and maxima per workgroup equal float64, with subgroups and with the tree, any workgroup size', async () => {
    await useBackend(backend);
    const modes = webgpuSubgroups() ? [true, false] : [false];
    await expectNoLeaks(async () => {
      for (const wg of [64, 96, 256]) {
        const groups = 3;
        const data = Float32Array.from(rng.normalArray(wg * groups), (v, i) => 10 * v + (i % 7));
        const want: number[] = [];
        for (let g = 0; g < groups; g++) {
          const row = Array.from(data.subarray(g * wg, (g + 1) * wg));
          want.push(
            row.reduce((a, b) => a + b, 0),
            Math.max(...row),
            -Math.min(...row),
          );
        }
        for (const sg of modes) {
          const x = tf.tensor1d(data);
          const out = (
            tf.backend() as unknown as { runWebGPUProgram(p: unknown, i: tf.TensorInfo[], d: 'float32'): tf.TensorInfo }
          ).runWebGPUProgram(new ReduceProgram(wg, groups, sg), [x], 'float32');
          const t = tf.engine().makeTensorFromTensorInfo(out);
          expectNear(Array.from(await t.data()), want, 1e-5, `workgroup ${wg}, subgroups ${sg}`);
          tf.dispose([x, t]);
        }
      }
    });
  });
});

describe.each(testBackends().filter((b) => b === 'webgpu'))('subgroup reductions on %s', (backend) => {
  afterAll(async () => {
    if (savedEnv === undefined) delete process.env['ALTAR_WEBGPU_SUBGROUPS'];
    else process.env['ALTAR_WEBGPU_SUBGROUPS'] = savedEnv;
    await restartWebgpu(savedEnv !== '0');
    await useBackend(backend);
  });

  it('agree with the cpu backend and float64 with subgroups on and off (ALTAR_WEBGPU_SUBGROUPS=0)', async () => {
    await useBackend('cpu');
    const ref = await expectNoLeaks(runKernels);
    const exact = normData.map((d) => d.reduce((s, x) => s + x * x, 0));
    expectNear(ref.norms, exact, 1e-5, 'cpu squared norms vs float64');

    const info = await useBackend(backend);
    const adapter = await (
      globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<{ features: Set<string> } | null> } } }
    ).navigator.gpu.requestAdapter();
    const offered = adapter?.features.has('subgroups') ?? false;
    if (savedEnv !== undefined) await restartWebgpu(true);
    else {
      expect(info.subgroups).toBe(offered);
      expect(currentBackend()?.subgroups).toBe(offered);
    }
    // SwiftShader (the test adapter here) offers subgroups: the flag must then really be on.
    if (/swiftshader/i.test(info.adapter)) expect(offered).toBe(true);
    expect(webgpuSubgroups()).toBe(offered);
    expect(device().features.has('subgroups')).toBe(offered);
    const on = await expectNoLeaks(runKernels);
    const keysOn = altarShaderKeys();
    expect(keysOn.length).toBeGreaterThan(0);
    expect(keysOn.every((k) => k.includes('_sg_'))).toBe(offered);

    await restartWebgpu(false);
    expect(webgpuSubgroups()).toBe(false);
    expect(device().features.has('subgroups')).toBe(false);
    const off = await expectNoLeaks(runKernels);
    const keysOff = altarShaderKeys();
    expect(keysOff.length).toBeGreaterThan(0);
    expect(keysOff.some((k) => k.includes('_sg_'))).toBe(false);

    for (const [name, got] of [
      ['on', on],
      ['off', off],
    ] as const) {
      expectNear(got.norms, exact, 1e-5, `squared norms (subgroups ${name}) vs float64`);
      got.attn.forEach((a, c) => expectNear(a, ref.attn[c]!, 1e-5, `decode attention, ${KEYS[c]} keys, ${name}`));
    }
    expectNear(on.norms, off.norms, 1e-5, 'squared norms on vs off');
    on.attn.forEach((a, c) => expectNear(a, off.attn[c]!, 1e-5, `decode attention on vs off, ${KEYS[c]} keys`));
  });
});
