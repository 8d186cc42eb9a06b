/// <reference lib="webworker" />
/**
 * The compute worker: owns the tfjs backend, the sources, the models and every tensor, so the page
 * stays responsive while training and sampling. Requests come in as {id, name, req}; answers go back
 * as {kind:'res', id, ...}; training progress streams as {kind:'event'}.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { AltarError, initBackend, type BackendInfo } from '@altar/backend';
import type { FromWorker, RequestName, Requests, ToWorker, WorkerEvent } from '../protocol.js';
import { Lab } from '../lab/lab.js';
import { TextLab } from '../lab/text-lab.js';

// The wasm binaries are emitted as hashed assets by Vite (`?url`). Threads are never used: they need
// a cross-origin-isolated page (COOP/COEP headers), and tfjs picks the plain SIMD build without them.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function emit(event: WorkerEvent): void {
  post({ kind: 'event', event });
}

let backend: BackendInfo | null = null;
const lab = new Lab(emit);
const text = new TextLab(emit);

type Handler<K extends RequestName> = (req: Requests[K]['req']) => Promise<Requests[K]['res']>;
const handlers: { [K in RequestName]: Handler<K> } = {
  init: async ({ backend: choice }) => {
    if (backend) return backend;
    backend = await initBackend(choice, {
      logger: {
        info: (m: string) => emit({ type: 'log', level: 'info', message: m }),
        warn: (m: string) => emit({ type: 'log', level: 'warn', message: m }),
      },
    });
    return backend;
  },
  forward: async (r) => lab.forward(r.source, r.process, r.seed),
  sourceInfo: async (r) => lab.sourceInfo(r.source),
  trainStart: async (r) => lab.trainStart(r),
  trainPause: async (r) => lab.trainPause(r.family),
  restore: async () => lab.restore(),
  trainReset: async (r) => {
    lab.trainReset(r.family);
    return null;
  },
  trainSteps: async (r) => lab.trainSteps(r, r.steps),
  models: async () => lab.models(),
  sample: async (r) => lab.sample(r.family, r.T, r.seed, r.batch, r.size, r.sampler),
  race: async (r) => lab.race(r.T, r.seed, r.batch, r.size),
  sweep: async (r) => lab.sweep(r.Ts, r.seed, r.batch, r.size),
  elbo: async (r) => lab.elbo(r.T, r.seed, r.draws, r.size),
  exportCheckpoint: async (r) => lab.exportCheckpoint(r.family),
  loadCheckpoint: async (r) => lab.loadCheckpoint(r.config, r.safetensors),
  textCorpus: async (r) => text.corpus(r),
  textTrainStart: async (r) => text.trainStart(r),
  textTrainPause: async (r) => text.trainPause(r.family),
  textTrainReset: async (r) => {
    await text.reset(r.family);
    return null;
  },
  textSample: async (r) => text.sample(r),
};

scope.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const { id, name, req } = ev.data;
  try {
    if (name !== 'init' && !backend) throw new AltarError('NO_BACKEND', `worker: '${name}' before the backend started`);
    const handler = handlers[name] as Handler<RequestName>;
    if (!handler) throw new AltarError('UNKNOWN_REQUEST', `worker: unknown request '${String(name)}'`);
    const res = await handler(req as never);
    post({ kind: 'res', id, ok: true, res });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    post({ kind: 'res', id, ok: false, error: msg });
  }
};
