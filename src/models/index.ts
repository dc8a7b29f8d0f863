// Every architecture file registers itself on import; add one by adding a file and a line here.
import './mlp.js';
import './cnn-small.js';

export { createModel, listArchitectures } from './registry.js';
export type { ArchitectureSpec, ModelOptions } from './registry.js';
