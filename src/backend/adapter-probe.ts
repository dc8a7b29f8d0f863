// Child process of `--backend auto`: loads Dawn, judges the adapter tfjs-webgpu would get (hardware or software), prints
// the verdict as one JSON line and exits. Dawn's stderr warnings stay in this process's captured stderr.
import { judgeAdapters } from './index.js';

process.stdout.write(`${JSON.stringify(await judgeAdapters())}\n`);
process.exit(0);
