/**
 * Test support: run exported models in real PyTorch (Debian's python3-torch at /usr/bin/python3) and read
 * their outputs back. One Python process evaluates every model of a request (torch's import is the slow
 * part). Single-threaded BLAS for speed on shared CI cores and for reproducible sums.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The interpreter the export tests use: Debian's, where python3-torch installs.
 *
 * @example
 * ```ts
 * spawnSync(TORCH_PYTHON, ['-c', 'import torch']);
 * ```
 */
export const TORCH_PYTHON = '/usr/bin/python3';

const HARNESS = `import importlib.util, json, sys
import torch
torch.set_num_threads(1)
req = json.load(open(sys.argv[1]))
results = []
for k, m in enumerate(req["models"]):
    spec = importlib.util.spec_from_file_location("exported_model_%d" % k, m["model_py"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.load_model(m["weights"])
    outs = []
    with torch.no_grad():
        for case in m["cases"]:
            if "tokens" in case:
                args = [torch.tensor(case["tokens"], dtype=torch.long)]
            else:
                args = [torch.tensor(case["x"], dtype=torch.float32)]
            if "t" in case:
                args.append(torch.tensor(case["t"], dtype=torch.float32))
            y = model(*args)
            outs.append({"shape": list(y.shape), "values": y.reshape(-1).tolist()})
    # One training step's backward pass: every parameter must get a finite gradient.
    model.train()
    model.zero_grad()
    model(*args).pow(2).mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    missing = sorted(n for n, g in grads.items() if g is None or not bool(torch.isfinite(g).all()))
    results.append({"outputs": outs, "bad_grads": missing, "params": len(grads)})
json.dump({"torch": torch.__version__, "results": results}, open(req["out"], "w"))
`;

/**
 * One input of an exported model: tokens (B, N), vectors (B, d) or NCHW images, and for denoisers the times t (B,).
 *
 * @example
 * ```ts
 * const c: TorchCase = { tokens: [[1, 2, 3]], t: [0.5] };
 * ```
 */
export interface TorchCase {
  tokens?: number[][];
  /** Vectors (B, d) or images (B, C, H, W). */
  x?: number[][] | number[][][][];
  t?: number[];
}

/**
 * A model's output in torch: its shape and values (row-major).
 *
 * @example
 * ```ts
 * const { shape, values }: TorchOutput = results[0]![0]!;
 * ```
 */
export interface TorchOutput {
  shape: number[];
  values: number[];
}

/**
 * Throw a clear error when /usr/bin/python3 cannot import torch (CI installs python3-torch; never skip).
 *
 * @example
 * ```ts
 * beforeAll(() => requireTorch());
 * ```
 */
export function requireTorch(): string {
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `the PyTorch export tests need ${TORCH_PYTHON} with torch (Debian: apt-get install python3-torch ` +
        `libopenblas0-pthread; .ci/run installs them): ${r.error?.message ?? r.stderr.trim()}`,
    );
  }
  return r.stdout.trim();
}

/**
 * Evaluate exported models (model.py + model.safetensors each) on their cases in one Python process.
 *
 * @example
 * ```ts
 * const [[out]] = runTorch(dir, [{ modelPy: 'out/model.py', weights: 'out/model.safetensors', cases: [{ tokens }] }]);
 * ```
 */
export function runTorch(
  workDir: string,
  models: Array<{ modelPy: string; weights: string; cases: TorchCase[] }>,
): TorchOutput[][] {
  return runTorchFull(workDir, models).map((r) => r.outputs);
}

/**
 * Like {@link runTorch}, and also a backward pass per model (in train mode, on its last case): the names of
 * parameters whose gradient is missing or not finite.
 *
 * @example
 * ```ts
 * const [r] = runTorchFull(dir, [model]);
 * expect(r!.badGrads).toEqual([]);
 * ```
 */
export function runTorchFull(
  workDir: string,
  models: Array<{ modelPy: string; weights: string; cases: TorchCase[] }>,
): Array<{ outputs: TorchOutput[]; badGrads: string[]; params: number }> {
  const script = join(workDir, 'harness.py');
  const reqFile = join(workDir, 'request.json');
  const outFile = join(workDir, 'torch-out.json');
  writeFileSync(script, HARNESS);
  writeFileSync(
    reqFile,
    JSON.stringify({
      models: models.map((m) => ({ model_py: m.modelPy, weights: m.weights, cases: m.cases })),
      out: outFile,
    }),
  );
  const r = spawnSync(TORCH_PYTHON, [script, reqFile], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`torch harness failed (${r.status}): ${r.error?.message ?? ''}${r.stderr}`);
  const res = JSON.parse(readFileSync(outFile, 'utf8')) as {
    results: Array<{ outputs: TorchOutput[]; bad_grads: string[]; params: number }>;
  };
  return res.results.map((r) => ({ outputs: r.outputs, badGrads: r.bad_grads, params: r.params }));
}
