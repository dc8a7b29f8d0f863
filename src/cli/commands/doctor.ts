// `temper doctor`: which backends load here, what the chosen one is, the GPU adapters, and which data is present.
import type { Argv, CommandModule } from 'yargs';
import * as tf from '@tensorflow/tfjs';
import { probeBackends } from '../../backend/index.js';
import { defaultDataDir, listDatasets } from '../../data/index.js';
import { registerProjectKernels } from '../../backend/kernels/index.js';
import { versions } from '../../runner/versions.js';

export const doctorCommand: CommandModule = {
  command: 'doctor',
  describe: 'Show which backends load, the GPU adapters, the versions in use and which datasets are present',
  builder: (yargs: Argv) => yargs.example('$0 doctor', ''),
  handler: async () => {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const v = versions();
    out(`temper ${v.temper}, node ${v.node}, tfjs ${v['tfjs-core']}`);
    out('backends (auto picks the first that loads of tensorflow, webgpu on a hardware adapter, wasm):');
    const probes = await probeBackends();
    for (const probe of probes) out(`  ${probe.ok ? 'ok  ' : 'no  '} ${probe.backend.padEnd(10)} ${probe.provider}: ${probe.detail}`);
    for (const name of ['webgpu', 'wasm']) {
      if (!probes.some((p) => p.backend === name && p.ok)) continue;
      await tf.setBackend(name);
      const kernels = registerProjectKernels(name);
      out(`  project kernels on ${name}: ${kernels.length ? kernels.join(', ') : 'none (TEMPER_STOCK_KERNELS=1)'}`);
    }
    const webgpu = probes.find((p) => p.backend === 'webgpu');
    if (webgpu?.adapters?.length) {
      out('GPU adapters (Dawn, via Vulkan/Metal/D3D; the first is the one webgpu uses):');
      for (const adapter of webgpu.adapters) out(`  ${adapter}`);
      if (/software adapter/.test(webgpu.adapters[0]!)) out('  (a software adapter: auto skips it as slower than wasm; --backend webgpu uses it)');
    } else {
      out(`GPU adapters: none (${webgpu?.detail ?? 'webgpu not probed'})`);
    }
    out('datasets:');
    for (const spec of listDatasets()) out(`  ${spec.present({ dataDir: defaultDataDir() }) ? 'ok  ' : 'no  '} ${spec.name.padEnd(12)} ${spec.source}`);
  },
};
