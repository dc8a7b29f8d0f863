// Frees what a backward pass has finished with as it goes, instead of at its end.
//
// tfjs-core 4.22's Engine.gradients keeps, until the whole backward pass is done, every tensor the forward pass
// saved for it and the gradient of every intermediate activation (tape.ts backpropagateGradients never disposes a
// node's dy). At its peak a training step so holds all activations and all their gradients at once: ResNet-18 at
// batch 128 on 32x32 inputs needs more than the 4 GiB a wasm heap can have. The tape is walked from the loss back to
// the inputs, and a node's saved tensors and its outputs' gradients are read by that node's gradient alone: once
// the walk has moved to the next node, they can go. This module wraps each tape node's gradient function so that,
// when the walk reaches a node, the previous node's saved tensors and dys are disposed. The arithmetic is untouched,
// so gradients are bit for bit the same; only when memory is returned changes. Measured: ResNet-18 on 32x32x3 at
// batch 64, 1.8 GiB of wasm heap after a training step without it and 0.75 GiB with it (and the fused batch norm's
// backward keeping no full-size temporary); at batch 128 it trains in 1.3 GiB.
//
// Nothing is released where it could still be read:
// - only first-order gradients (gradientDepth 0 while the gradient runs): under a higher-order gradient the outer
//   tape may record the inner backward pass;
// - not the dy the caller passed to Engine.gradients (it is the caller's), and not a tensor a gradient returned as
//   it is (a thunk that returns its dy or a saved tensor unchanged hands it on as another tensor's gradient).
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-core's Engine (4.22, engine.ts; private in its typings) this module wraps or reads. */
interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}
interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  addTapeNode(...args: unknown[]): void;
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): unknown;
}

/** One backward pass: the node whose gradient ran last, and what of it may be freed when the walk moves on. */
interface Pass {
  callerDy: tf.Tensor | undefined;
  previous: { saved: tf.Tensor[]; dys: tf.Tensor[]; handedOn: Set<tf.Tensor> } | null;
}

const passes: Pass[] = [];
let installed = false;
let enabled = true;

/** Turns the release off (as stock) or back on, for tests that compare the two; it is on once installed. */
export function setEarlyRelease(on: boolean): void {
  enabled = on;
}

function release(pass: Pass): void {
  const previous = pass.previous;
  pass.previous = null;
  if (previous === null) return;
  for (const t of [...previous.saved, ...previous.dys]) {
    if (t !== pass.callerDy && !previous.handedOn.has(t)) t.dispose();
  }
}

/**
 * Installs the early release on tfjs' engine (once per process; later calls do nothing). Returns false, installing
 * nothing, where the engine lacks the internals it wraps (a tfjs other than 4.x).
 */
export function installEarlyRelease(): boolean {
  if (installed) return true;
  const engine = tf.engine() as unknown as Partial<EngineInternals>;
  if (typeof engine.addTapeNode !== 'function' || typeof engine.gradients !== 'function' || engine.state === undefined) return false;
  const internals = engine as EngineInternals;
  const addTapeNode = internals.addTapeNode.bind(internals);
  const gradients = internals.gradients.bind(internals);

  internals.gradients = (f, xs, dy, allowNoGradients) => {
    const pass: Pass = { callerDy: dy, previous: null };
    passes.push(pass);
    try {
      return gradients(f, xs, dy, allowNoGradients);
    } finally {
      passes.pop();
    }
  };

  internals.addTapeNode = (...args: unknown[]) => {
    addTapeNode(...args);
    const tape = internals.state.activeTape;
    const node = tape?.[tape.length - 1];
    const gradient = node?.gradient;
    if (!node || !gradient) return;
    node.gradient = (dys) => {
      const pass = passes.at(-1);
      // A backward pass that is itself recorded (higher-order gradients), a gradient called outside one, or
      // TEMPER_STOCK_KERNELS=1 (read at every call, as src/models/fast-layers.ts does): as stock.
      if (pass === undefined || !enabled || internals.state.gradientDepth !== 0 || process.env['TEMPER_STOCK_KERNELS'] === '1') {
        return gradient(dys);
      }
      // The walk has left the previous node: all its input gradients were computed.
      release(pass);
      const thunks = gradient(dys);
      const saved = node.saved ?? [];
      const entry = { saved, dys: dys.filter((t): t is tf.Tensor => t != null), handedOn: new Set<tf.Tensor>() };
      pass.previous = entry;
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const [name, thunk] of Object.entries(thunks)) {
        wrapped[name] = () => {
          const result = thunk();
          if (entry.dys.includes(result) || saved.includes(result)) entry.handedOn.add(result);
          return result;
        };
      }
      return wrapped;
    };
  };
  installed = true;
  return true;
}
