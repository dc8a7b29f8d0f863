// Every architecture file registers itself on import; add one by adding a file and a line here.
import './fast-layers.js'; // registers its BatchNormalization and Conv2D in place of tfjs' own, for loading models
import './mlp.js';
import './cnn-small.js';
import './cnn-small-bn.js';
import './vgg.js';
import './resnet18.js';
import './preact-resnet18.js';
import './wrn-28-10.js';
import './vit-tiny.js';

export { createModel, listArchitectures } from './registry.js';
export type { ArchitectureSpec, ModelOptions } from './registry.js';
export { loadModel, saveModel } from './io.js';
