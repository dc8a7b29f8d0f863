// What every custom layer here shares: tfjs-layers' constructor arguments and one-input helpers.
import * as tf from '@tensorflow/tfjs';

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The one tensor a single-input layer receives; tfjs-layers may wrap it in an array. */
export function singleTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new Error(`expected one input tensor, got ${inputs.length}`);
  return inputs[0]!;
}

/** The one shape a single-input layer is built with (a shape is itself an array, so look one level down). */
export function singleShape(shapes: tf.Shape | tf.Shape[]): tf.Shape {
  if (!Array.isArray(shapes[0])) return shapes as tf.Shape;
  if (shapes.length !== 1) throw new Error(`expected one input shape, got ${shapes.length}`);
  return shapes[0] as tf.Shape;
}

/** The last (feature) dimension of a shape, which a layer needs to know to create its weights. */
export function featureDim(shape: tf.Shape, layer: string): number {
  const dim = shape.at(-1);
  if (dim == null) throw new Error(`${layer}: the last input dimension must be known`);
  return dim;
}
