// The one-kernel Adam update (src/backend/kernels/adam.ts) on webgpu: three small compute programs per variable
// (new value, m and v; each recomputes the moments it needs) in place of tfjs's 14 kernels.
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, type AdamUpdateAttrs } from './adam.js';

/** The part of tfjs-webgpu's backend this kernel uses. */
interface WebGPUBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: 'float32'): tf.TensorInfo;
}

type Output = 'value' | 'm' | 'v';

/** A float32 constant in WGSL, exactly: the bits of Math.fround(x). */
function f32(x: number): string {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return `bitcast<f32>(${bits}u)`;
}

/** One output of the update, elementwise over the variable (flat layout, one element per invocation). */
class AdamUpdateProgram {
  readonly variableNames = ['W', 'M', 'V', 'G', 'C1', 'C2'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;

  constructor(shape: number[], private readonly output: Output, private readonly attrs: AdamUpdateAttrs) {
    this.outputShape = shape.length === 0 ? [1] : shape;
    this.dispatchLayout = { x: this.outputShape.map((_, i) => i) };
    const size = this.outputShape.reduce((a, b) => a * b, 1);
    // Flat 1-D dispatch split over y when it passes the 65,535 workgroups a dimension allows.
    const groups = Math.ceil(size / this.workgroupSize[0]);
    this.dispatch = groups > 65535 ? [65535, Math.ceil(groups / 65535), 1] : [groups, 1, 1];
    this.shaderKey = `temper_adam_${output}_${[attrs.beta1, attrs.beta2, attrs.epsilon, attrs.learningRate].map(f32).join('_')}`;
  }

  getUserCode(): string {
    const { beta1, beta2, epsilon, learningRate } = this.attrs;
    // Every program reads every input: the pipeline's bind-group layout is derived from the shader, and an unused
    // binding would be missing from it.
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let g = G[index];
          let m = M[index] * ${f32(beta1)} + g * ${f32(1 - beta1)};
          let v = V[index] * ${f32(beta2)} + (g * g) * ${f32(1 - beta2)};
          let value = (m / C1[0]) / (sqrt(v / C2[0]) + ${f32(epsilon)}) * ${f32(-learningRate)} + W[index];
          setOutputAtIndex(index, ${this.output});
        }
      }
    `;
  }
}

export const adamUpdateWebGPUConfig: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'webgpu',
  kernelFunc: (({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: WebGPUBackendLike; attrs: tf.NamedAttrMap }) => {
    const { value, m, v, gradient, c1, c2 } = inputs as Record<'value' | 'm' | 'v' | 'gradient' | 'c1' | 'c2', tf.TensorInfo>;
    const operands = [value, m, v, gradient, c1, c2];
    const update = attrs as unknown as AdamUpdateAttrs;
    return (['value', 'm', 'v'] as const).map((output) => backend.runWebGPUProgram(new AdamUpdateProgram(value.shape, output, update), operands, 'float32'));
  }) as unknown as tf.KernelFunc,
};
