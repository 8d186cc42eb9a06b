/**
 * Workgroup-wide sum and max of one f32 per invocation, as WGSL text for altar's tfjs programs: with subgroup
 * operations where the device has them (webgpu-device.ts), else the shared-memory tree.
 *
 * With subgroups, a reduction is one subgroupAdd / subgroupMax, then a second stage through workgroup memory for
 * a workgroup larger than one subgroup. The subgroup size is not fixed (SwiftShader: 4; GPUs: 8 to 128) and WGSL
 * does not promise which invocations share a subgroup, so the second stage assumes no layout: each subgroup's
 * leader (its lowest local index) stores the partial at that index and sets its bit in a mask; after a barrier
 * invocation 0 folds the partials in increasing leader order (deterministic, as DESIGN.md asks) and shares the
 * result through workgroup memory. The tree is log2(size) + 2 barriers; this is two.
 */
import { AltarError } from '../errors.js';

/** WGSL directive a program's text carries to use subgroup builtins (altar's device moves it to the top). */
export const WGSL_ENABLE_SUBGROUPS = 'enable subgroups;';

/** The max's identity: inputs are taken to be finite (as the kernels' own −3.4e38 starting values are). */
const MAX_IDENTITY = '-3.4e38';

/**
 * WGSL module-scope text (declarations and two functions) for workgroup reductions in a program with
 * `workgroupSize` invocations:
 *
 *   fn NAME_sum(v : f32, l : i32) -> f32   Σ of v over the workgroup, returned to every invocation
 *   fn NAME_max(v : f32, l : i32) -> f32   max of v (finite inputs), returned to every invocation
 *
 * `l` is the invocation's local index (tfjs's `i32(localIndex)`). Call them from uniform control flow (every
 * invocation, like workgroupBarrier); they synchronise the workgroup, so they may be called again and workgroup
 * memory written before the call is visible to every invocation after it. With `subgroups` the text starts with
 * `enable subgroups;`: use it only on a device where `subgroupsOn(backend)` holds, and put the flag in the
 * program's shaderKey.
 *
 * @example
 * ```ts
 * const userCode = `${workgroupReduceWgsl('nrm', 256, subgroupsOn(backend))}
 *   fn main(index : i32) {
 *     let total = nrm_sum(A[index] * A[index], i32(localIndex));
 *     if (localIndex == 0u) { result[workgroupId.x] = total; }
 *   }`;
 * ```
 */
export function workgroupReduceWgsl(name: string, workgroupSize: number, subgroups: boolean): string {
  if (!Number.isInteger(workgroupSize) || workgroupSize < 1) {
    throw new AltarError(
      'BAD_ARG',
      `workgroupReduceWgsl: workgroupSize must be a positive integer, got ${workgroupSize}`,
    );
  }
  const ops = [
    { fn: 'sum', identity: '0.0', sub: 'subgroupAdd', fold: (a: string, b: string) => `${a} + ${b}` },
    { fn: 'max', identity: MAX_IDENTITY, sub: 'subgroupMax', fold: (a: string, b: string) => `max(${a}, ${b})` },
  ];
  if (!subgroups) {
    let top = 1;
    while (top < workgroupSize) top *= 2;
    const fns = ops.map(
      (o) => `
  fn ${name}_${o.fn}(v : f32, l : i32) -> f32 {
    ${name}_part[l] = v;
    workgroupBarrier();
    for (var s = ${top / 2}; s > 0; s = s >> 1) {
      if (l < s && l + s < ${workgroupSize}) { ${name}_part[l] = ${o.fold(`${name}_part[l]`, `${name}_part[l + s]`)}; }
      workgroupBarrier();
    }
    let r = ${name}_part[0];
    workgroupBarrier();
    return r;
  }`,
    );
    return `
  var<workgroup> ${name}_part : array<f32, ${workgroupSize}>;${fns.join('')}`;
  }
  const words = Math.ceil(workgroupSize / 32);
  const fns = ops.map(
    (o) => `
  fn ${name}_${o.fn}(v : f32, l : i32) -> f32 {
    let s = ${o.sub}(v);
    let lead = subgroupMin(u32(l));
    if (u32(l) == lead) {
      ${name}_part[lead] = s;
      atomicOr(&${name}_lead[lead / 32u], 1u << (lead % 32u));
    }
    workgroupBarrier();
    if (l == 0) {
      var r = ${o.identity};
      for (var w = 0u; w < ${words}u; w = w + 1u) {
        var bits = atomicLoad(&${name}_lead[w]);
        loop {
          if (bits == 0u) { break; }
          r = ${o.fold('r', `${name}_part[w * 32u + countTrailingZeros(bits)]`)};
          bits = bits & (bits - 1u);
        }
      }
      ${name}_total = r;
    }
    workgroupBarrier();
    return ${name}_total;
  }`,
  );
  return `
  ${WGSL_ENABLE_SUBGROUPS}
  var<workgroup> ${name}_part : array<f32, ${workgroupSize}>;
  var<workgroup> ${name}_lead : array<atomic<u32>, ${words}>;
  var<workgroup> ${name}_total : f32;${fns.join('')}`;
}
