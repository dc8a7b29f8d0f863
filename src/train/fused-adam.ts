// tfjs's Adam with each variable's update done by one project kernel where the backend has it (see
// src/backend/kernels/adam.ts): the same state, the same serialisation, and on wasm the same bits, in 1 kernel per
// variable instead of 14.
import * as tf from '@tensorflow/tfjs';

/** AdamOptimizer.applyGradients' parameter (tfjs does not export the types it is built from). */
type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
import { ADAM_UPDATE } from '../backend/kernels/adam.js';

/** AdamOptimizer's state, which tfjs declares private. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  incrementIterations(): void;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const list = Array.isArray(variableGradients) ? variableGradients : undefined;
    const names = list ? list.map((v) => v.name) : Object.keys(variableGradients);
    const gradientOf = (name: string, i: number): tf.Tensor | undefined =>
      list ? list[i]!.tensor : (variableGradients as Record<string, tf.Tensor | undefined>)[name];
    const fused =
      tf.getKernel(ADAM_UPDATE, tf.getBackend()) !== undefined &&
      names.every((name, i) => tf.engine().registeredVariables[name]?.dtype === 'float32' && (gradientOf(name, i)?.dtype ?? 'float32') === 'float32');
    if (!fused) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const attrs = { beta1: state.beta1, beta2: state.beta2, epsilon: state.epsilon, learningRate: state.learningRate };
    // The same steps, in the same order, as AdamOptimizer.applyGradients (tfjs 4.22), with the per-variable arithmetic
    // replaced by the kernel.
    tf.tidy(() => {
      const c1 = tf.sub(1, state.accBeta1);
      const c2 = tf.sub(1, state.accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        const [newValue, newM, newV] = tf.engine().runKernel(ADAM_UPDATE, { value, m, v, gradient, c1, c2 }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, state.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, state.beta2));
    });
    state.incrementIterations();
  }
}
