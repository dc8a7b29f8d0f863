// `temper doctor`: which backends load here, what the chosen one is, and which data is present.
import type { Argv, CommandModule } from 'yargs';
import * as tf from '@tensorflow/tfjs';
import { probeBackends } from '../../backend/index.js';
import { defaultDataDir, listDatasets } from '../../data/index.js';
import { registerProjectKernels } from '../../backend/kernels/index.js';
import { versions } from '../../runner/versions.js';

export const doctorCommand: CommandModule = {
  command: 'doctor',
  describe: 'Show which backends load, the versions in use and which datasets are present',
  builder: (yargs: Argv) => yargs.example('$0 doctor', ''),
  handler: async () => {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const v = versions();
    out(`temper ${v.temper}, node ${v.node}, tfjs ${v['tfjs-core']}`);
    out('backends (auto picks the first that loads of tensorflow, wasm):');
    const probes = await probeBackends();
    for (const probe of probes) out(`  ${probe.ok ? 'ok  ' : 'no  '} ${probe.backend.padEnd(10)} ${probe.provider}: ${probe.detail}`);
    const wasm = probes.find((p) => p.backend === 'wasm' && p.ok);
    if (wasm) {
      await tf.setBackend('wasm');
      const kernels = registerProjectKernels('wasm');
      out(`  project kernels on wasm: ${kernels.length ? kernels.join(', ') : 'none (TEMPER_STOCK_KERNELS=1)'}`);
    }
    out('GPU adapters: none usable without the tensorflow backend (webgpu is not supported yet)');
    out('datasets:');
    for (const spec of listDatasets()) out(`  ${spec.present({ dataDir: defaultDataDir() }) ? 'ok  ' : 'no  '} ${spec.name.padEnd(12)} ${spec.source}`);
  },
};
