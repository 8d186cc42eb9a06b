#!/usr/bin/env node
// `pnpm bench:reference [--size ref|gpt2-small] [--backend wasm|webgpu|cpu] [--steps K] [--batch B] [--decode N]
//                       [--sync-every auto|N]`
//
// altar's reference-model benchmark beside the PyTorch peer (../shared/peers/torch_reference.py), in one
// process tree on the same machine, alternating runs so that both see the same load:
//   altar baseline (ALTAR_FUSED=0: plain compositions, tfjs's own kernels) → PyTorch → altar (fused)
// PyTorch runs on CUDA where `nvidia-smi` finds a GPU, else on the CPU with ONE thread: Debian's
// python3-torch (+ libopenblas0-pthread) through /usr/bin/python3, with OPENBLAS_NUM_THREADS=1 and
// OMP_NUM_THREADS=1 — torch.set_num_threads(1) alone leaves OpenBLAS's own threads on (measured here:
// 5,100 tokens/s with them, 3,600 without). Prints the ratios and writes
// bench/results/reference-<backend>[-<size>].json (or under ALTAR_BENCH_OUT). `--no-baseline` skips the
// ALTAR_FUSED=0 run. `--batch B`, `--decode N` and `--sync-every N` shrink altar's run (a smoke test on a software adapter):
// the peer has no such options, so it is skipped then, and the file name gets `-batch<B>`. On a borrowed GPU machine: tooling/scripts/device/bundle.sh, then run.sh. The peer is optional: without PyTorch it says so and
// still reports altar's figures and the fused/baseline ratio.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const size = opt('size', 'ref');
if (!['ref', 'gpt2-small'].includes(size)) {
  console.error(`bench:reference: --size must be ref or gpt2-small, got ${size}`);
  process.exit(2);
}
const hasGpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0;
const backend = opt('backend', hasGpu ? 'webgpu' : 'wasm');
const steps = opt('steps', size === 'ref' ? '4' : '2');
const skipBaseline = argv.includes('--no-baseline');
// ALTAR_DAWN_FLAGS=backend=null: WebGPU on Dawn's null adapter, which runs no kernel. The times are then the
// host's own cost of each step (JS, tfjs, Dawn's validation), the floor of a GPU run on this CPU; the peer is
// skipped, and the batch defaults to 2 (the null adapter refuses more than 512 MB of buffers; the host's cost
// hardly depends on the batch: 170 vs 167 ms a baseline step at batch 2 and 1).
const nullAdapter = /(^|\s)backend=null(\s|$)/.test(process.env.ALTAR_DAWN_FLAGS ?? '');
const batch = opt('batch', nullAdapter ? '2' : null);
const decodeTokens = opt('decode', null);
const syncEvery = opt('sync-every', null);
for (const [name, v] of [
  ['batch', batch],
  ['decode', decodeTokens],
  ['steps', steps],
  ['sync-every', syncEvery === 'auto' ? null : syncEvery],
]) {
  if (v !== null && !(Number.isInteger(Number(v)) && Number(v) >= 1)) {
    console.error(`bench:reference: --${name} must be a positive integer, got ${v}`);
    process.exit(2);
  }
}
const peerPath = process.env.ALTAR_TORCH_PEER ?? join(root, '..', 'shared', 'peers', 'torch_reference.py');

function jsonLine(label, r) {
  if (r.status !== 0) {
    console.error(`bench:reference: ${label} failed (exit ${r.status ?? r.signal})\n${(r.stderr ?? '').slice(-2000)}`);
    return null;
  }
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  return line ? JSON.parse(line) : null;
}

// ALTAR_REFERENCE_BENCH: a bundled reference.bench (tooling/scripts/device/bundle.sh) run with this
// Node, for a GPU machine without the workspace; otherwise tsx runs the TypeScript sources.
const bundled = process.env.ALTAR_REFERENCE_BENCH;

function runAltar(fused) {
  process.stderr.write(`bench:reference: altar ${fused ? 'fused' : 'baseline'} on ${backend}, size ${size}…\n`);
  const args = ['--backend', backend, '--size', size, '--steps', steps, '--fused', fused ? '1' : '0'];
  if (batch !== null) args.push('--batch', batch);
  if (decodeTokens !== null) args.push('--decode', decodeTokens);
  if (syncEvery !== null) args.push('--sync-every', syncEvery);
  const [cmd, pre] = bundled
    ? [process.execPath, [bundled]]
    : [
        join(root, 'node_modules', '.bin', 'tsx'),
        ['--conditions=@altar/source', 'apps/trainer/bench/reference.bench.ts'],
      ];
  const r = spawnSync(cmd, [...pre, ...args], {
    cwd: bundled ? process.cwd() : root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return jsonLine(`altar (fused=${fused})`, r);
}

function runPeer() {
  if (nullAdapter) {
    process.stderr.write("bench:reference: Dawn's null adapter measures altar's host cost only; no PyTorch peer\n");
    return null;
  }
  if (batch !== null) {
    process.stderr.write(
      `bench:reference: --batch ${batch} given; the PyTorch peer runs its own batch only, so it is skipped\n`,
    );
    return null;
  }
  if (!existsSync(peerPath)) {
    process.stderr.write(`bench:reference: no PyTorch peer at ${peerPath} (set ALTAR_TORCH_PEER); altar only\n`);
    return null;
  }
  const python = hasGpu ? 'python3' : existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    process.stderr.write(
      `bench:reference: ${python} has no torch (Debian: apt-get install python3-torch libopenblas0-pthread); altar only\n`,
    );
    return null;
  }
  process.stderr.write(`bench:reference: PyTorch peer on ${hasGpu ? 'cuda' : 'cpu, 1 thread'}…\n`);
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync(python, [peerPath, '--device', hasGpu ? 'cuda' : 'cpu', '--threads', '1', '--size', size], {
    encoding: 'utf8',
    env,
    maxBuffer: 64 << 20,
  });
  return jsonLine('PyTorch peer', r);
}

const baseline = skipBaseline ? null : runAltar(false);
const peer = runPeer();
const altar = runAltar(true);
if (!altar) process.exit(1);

const ratio = (a, b) => (a && b ? +(a / b).toFixed(3) : null);
const ratios = {
  // > 1 is better for altar in the first, < 1 is better in the other two (times)
  train_tokens_per_s_vs_peer: ratio(altar.train_tokens_per_s, peer?.train_tokens_per_s),
  decode_ms_per_token_vs_peer: ratio(altar.ar_decode_ms_per_token_kv, peer?.ar_decode_ms_per_token_kv),
  denoise_pass_ms_vs_peer: ratio(altar.denoise_pass_ms, peer?.denoise_pass_ms),
  train_speedup_vs_baseline: ratio(altar.train_tokens_per_s, baseline?.train_tokens_per_s),
  decode_speedup_vs_baseline: ratio(baseline?.ar_decode_ms_per_token_kv, altar.ar_decode_ms_per_token_kv),
  denoise_speedup_vs_baseline: ratio(baseline?.denoise_pass_ms, altar.denoise_pass_ms),
  train_dispatch_cut_vs_baseline: ratio(baseline?.counts.train_step.dispatches, altar.counts.train_step.dispatches),
};
// One row per measure: [label, value of a run (altar, baseline or peer), its ratio to the peer].
const measure = (label, get, vsPeer) => [label, get(baseline), get(altar), get(peer), vsPeer];
const dispatches = (label, key) => measure(label, (r) => r?.counts?.[key].dispatches, null);
const rows = [
  measure('training tokens/s', (r) => r?.train_tokens_per_s, ratios.train_tokens_per_s_vs_peer),
  measure('AR decode ms/token', (r) => r?.ar_decode_ms_per_token_kv, ratios.decode_ms_per_token_vs_peer),
  measure('denoiser pass ms', (r) => r?.denoise_pass_ms, ratios.denoise_pass_ms_vs_peer),
  dispatches('dispatches/step', 'train_step'),
  dispatches('dispatches/token', 'decode_token'),
  dispatches('dispatches/denoise', 'denoise_pass'),
];
const fmt = (v) => (v === null || v === undefined ? '—' : String(v));
console.log(
  `\nreference model (${size}) on ${altar.backend} — ${altar.adapter}; peer: ${peer ? `${peer.peer} on ${peer.device}${peer.gpu ? ` (${peer.gpu})` : ', 1 thread'}` : 'none'}`,
);
if (nullAdapter)
  console.log(
    `Dawn's null adapter (batch ${batch}): no kernel ran; each time is the host's own cost (JS, tfjs, Dawn), the floor of a GPU run on this CPU`,
  );
console.log(['measure', 'altar baseline', 'altar', 'PyTorch', 'altar / PyTorch'].map((h) => h.padEnd(20)).join(''));
for (const [m, b, a, p, r] of rows)
  console.log([m, fmt(b), fmt(a), fmt(p), fmt(r)].map((c) => String(c).padEnd(20)).join(''));
console.log(
  `\nfused vs baseline: training ×${fmt(ratios.train_speedup_vs_baseline)}, decode ×${fmt(ratios.decode_speedup_vs_baseline)}, denoiser ×${fmt(ratios.denoise_speedup_vs_baseline)}, dispatches per training step ÷${fmt(ratios.train_dispatch_cut_vs_baseline)}`,
);
// Where the time goes in the fused run (per training step): the kernels' own time against the measured step.
const prof = altar.profile?.train_step;
if (prof && !altar.profile.kernel_time_source.startsWith('none')) {
  const host = altar.train_step_ms - prof.kernelMs;
  console.log(
    `\nwhere a training step's ${altar.train_step_ms} ms go (kernel times: ${altar.profile.kernel_time_source}): kernels ${prof.kernelMs.toFixed(1)} ms, the rest ${host.toFixed(1)} ms (host, dispatch, idle)`,
  );
  for (const k of prof.top.slice(0, 8))
    console.log(
      `  ${k.name.padEnd(32)}${String(k.calls).padStart(6)} calls${k.ms.toFixed(2).padStart(11)} ms${(100 * k.share).toFixed(1).padStart(7)} %`,
    );
}

const outDir = process.env.ALTAR_BENCH_OUT ?? join(root, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const file = join(
  outDir,
  `reference-${altar.backend}${size === 'ref' ? '' : `-${size}`}${nullAdapter ? '-null-adapter' : batch === null ? '' : `-batch${batch}`}.json`,
);
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, size, backend: altar.backend, altar, baseline, peer, ratios }, null, 2)}\n`,
);
console.log(`wrote ${file.startsWith(root) ? file.slice(root.length + 1) : file}`);
