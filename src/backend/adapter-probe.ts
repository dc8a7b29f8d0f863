// Child process of the webgpu probes: loads Dawn, prints what it found as one JSON line and exits, so that Dawn's stderr
// warnings stay in this process's captured stderr. No arguments: judge the adapter tfjs-webgpu would get (hardware or
// software), for `--backend auto`. `--load`: load webgpu on it and register the project kernels, for `temper doctor`.
import { judgeAdapters, loadWebgpu } from './index.js';
import { registerProjectKernels } from './kernels/index.js';

if (process.argv.includes('--load')) {
  const probe = await loadWebgpu(true);
  process.stdout.write(`${JSON.stringify(probe.ok ? { ...probe, projectKernels: registerProjectKernels('webgpu') } : probe)}\n`);
} else {
  process.stdout.write(`${JSON.stringify(await judgeAdapters())}\n`);
}
process.exit(0);
