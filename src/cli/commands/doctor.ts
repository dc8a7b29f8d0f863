// `temper doctor`: which backends load here, what the chosen one is, the GPU adapters, and which data is present.
import type { Argv } from 'yargs';
import * as tf from '@tensorflow/tfjs';
import { probeBackends } from '../../backend/index.js';
import { defaultDataDir, kindLabel, listDatasets } from '../../data/index.js';
import { searchOrder } from './data.js';
import { registerProjectKernels } from '../../backend/kernels/index.js';
import { versions } from '../../runner/versions.js';
import { alignColumns } from '../../util/text.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';

const examples: Example[] = [{ command: '$0 doctor', note: 'before a first run, or when a backend does not load' }];

export const doctorCommand: TemperCommand = {
  command: 'doctor',
  examples,
  describe: 'Show which backends load, the GPU adapters, the versions in use and which datasets are present',
  builder: (yargs: Argv) => withExamples(yargs, examples),
  handler: async () => {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const v = versions();
    out(`temper ${v.temper}, node ${v.node}, tfjs ${v['tfjs-core']}`);
    out('backends (auto picks the first that loads of tensorflow, webgpu on a hardware adapter, wasm):');
    const probes = await probeBackends();
    for (const line of alignColumns(probes.map((p) => [p.ok ? 'ok' : 'no', p.backend, `${p.provider}: ${p.detail}`]))) out(`  ${line}`);
    for (const probe of probes.filter((p) => p.ok && (p.backend === 'webgpu' || p.backend === 'wasm'))) {
      // webgpu was probed in a child process, which registered its kernels there.
      if (!probe.projectKernels) await tf.setBackend(probe.backend);
      const kernels = probe.projectKernels ?? registerProjectKernels(probe.backend);
      out(`  project kernels on ${probe.backend}: ${kernels.length ? kernels.join(', ') : 'none (TEMPER_STOCK_KERNELS=1)'}`);
    }
    const webgpu = probes.find((p) => p.backend === 'webgpu');
    if (webgpu?.adapters?.length) {
      out('GPU adapters (Dawn, via Vulkan/Metal/D3D; the first is the one webgpu uses):');
      for (const adapter of webgpu.adapters) out(`  ${adapter}`);
      if (/software adapter/.test(webgpu.adapters[0]!)) out('  (a software adapter: auto skips it as slower than wasm; --backend webgpu uses it)');
    } else {
      out(`GPU adapters: none (${webgpu?.detail ?? 'webgpu not probed'})`);
    }
    const context = { dataDir: defaultDataDir() };
    out(`datasets (${searchOrder(context)}):`);
    const rows = listDatasets().map((spec) => {
      const location = spec.location?.(context);
      return [spec.present(context) ? 'ok' : 'no', spec.name, location ? `${location.folder} (${kindLabel(location.kind)})` : spec.source];
    });
    for (const line of alignColumns(rows)) out(`  ${line}`);
  },
};
