// `temper bench`: train-step and PGD-step throughput of the benchmark models on each backend, or (--peer torch) on
// wasm against PyTorch on the CPU (see src/bench/).
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { BACKEND_CHOICES, type BackendChoice } from '../../backend/index.js';
import { BENCH_KINDS, DEFAULT_BENCH_SETTINGS, type BenchKind, type BenchSettings } from '../../bench/measure.js';
import { BENCH_MODELS, DEFAULT_BENCH_MODELS, type BenchModelName } from '../../bench/models.js';
import { DEFAULT_PEER_ROUNDS, findTorch, formatPeer, PEER_TOOLS, runPeerBench, type PeerTool } from '../../bench/peer.js';
import { DEFAULT_PROFILE_TOP } from '../../bench/profile.js';
import { formatBench, runBench } from '../../bench/run.js';
import { EXIT_JOBS_FAILED, EXIT_OK, UsageError } from '../errors.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';

interface BenchArgs {
  backend: BackendChoice;
  json: boolean;
  quiet: boolean;
  model: BenchModelName[];
  what: BenchKind[];
  batch?: number;
  warmup?: number;
  minSteps?: number;
  minSeconds: number;
  maxSeconds: number;
  seed: number;
  peer?: PeerTool;
  rounds?: number;
  profile: boolean;
  profileTop?: number;
}

const ADVANCED = 'Measurement (defaults suit a real benchmark; smaller values make a quick check):';

const examples: Example[] = [
  { command: '$0 bench', note: 'every backend that loads here' },
  { command: '$0 bench --backend wasm --json > bench.json', note: 'one backend, machine-readable' },
  { command: '$0 bench --backend wasm --model cnn-small --batch 16 --min-seconds 0', note: 'a quick check' },
  { command: '$0 bench --backend wasm --model resnet18 vit-tiny', note: 'the paper-class nets (minutes on a CPU)' },
  { command: '$0 bench --peer torch --model cnn-small vgg6-bn --batch 32', note: 'wasm against PyTorch on the CPU (needs python3-torch)' },
  { command: '$0 bench --backend wasm --model vgg6-bn --what train --profile', note: 'where a step\'s time goes, per kernel' },
];

export const benchCommand: TemperCommand<BenchArgs> = {
  command: 'bench',
  examples,
  describe: 'Measure train-step and PGD-step throughput (images/s) of the benchmark models on each backend, or against PyTorch (--peer torch)',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendChoice, describe: 'backend to measure; auto: every one of tensorflow, webgpu (on a hardware GPU), wasm, cpu that loads, each in its own process' })
      .option('json', { type: 'boolean', default: false, describe: 'print the results as one JSON object on stdout' })
      .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines on stderr' })
      .option('model', {
        choices: BENCH_MODELS,
        array: true,
        default: [...DEFAULT_BENCH_MODELS],
        describe: 'models to measure; by default the two small ones, so that a run stays quick: resnet18 and vit-tiny (32x32x3) are measured only when named',
      })
      .option('what', { choices: BENCH_KINDS, array: true, default: [...BENCH_KINDS], describe: 'steps to measure: train (adam on CE at T = 10), pgd (one input-gradient step)' })
      .option('peer', {
        choices: PEER_TOOLS,
        describe: `also time each model and step in PyTorch on the CPU, in turn with temper's wasm backend, and print their ratio (needs python3 with torch; TEMPER_PYTHON picks the interpreter)`,
      })
      .option('rounds', { type: 'number', describe: `with --peer: rounds of temper-then-PyTorch measurements (default ${DEFAULT_PEER_ROUNDS})` })
      .option('profile', {
        type: 'boolean',
        default: false,
        describe: 'after each measurement, one more step (not timed with the others) under tf.profile: its kernels by name, with calls, time, share and bytes added (not with --peer)',
      })
      .option('profile-top', { type: 'number', describe: `with --profile: kernel names listed in each table, the rest summed in one line (default ${DEFAULT_PROFILE_TOP}; --json lists all)` })
      .option('batch', { type: 'number', group: ADVANCED, describe: 'batch size for every backend (default 128; on cpu 16 for cnn-small, 1 for the others)' })
      .option('warmup', { type: 'number', group: ADVANCED, describe: 'untimed steps first (default 2; on cpu 1)' })
      .option('min-steps', { type: 'number', group: ADVANCED, describe: 'time at least this many steps... (default 3; on cpu 1)' })
      .option('min-seconds', { type: 'number', group: ADVANCED, default: DEFAULT_BENCH_SETTINGS.minSeconds, describe: '...and at least this long' })
      .option('max-seconds', { type: 'number', group: ADVANCED, default: DEFAULT_BENCH_SETTINGS.maxSeconds, describe: 'stop timing a measurement after this long (at least one step)' })
      .option('seed', { type: 'number', group: ADVANCED, default: DEFAULT_BENCH_SETTINGS.seed, describe: 'seeds weights, images, labels and the PGD start' }) as unknown as Argv<BenchArgs>,
  handler: async (args: ArgumentsCamelCase<BenchArgs>) => {
    const settings = benchSettings(args);
    if (args.profileTop !== undefined && !args.profile) throw new UsageError('--profile-top sizes the tables of --profile: add --profile, or leave --profile-top out');
    if (args.peer !== undefined) return peerHandler(args, settings);
    if (args.rounds !== undefined) throw new UsageError('--rounds counts rounds of --peer measurements: add --peer torch, or leave --rounds out');
    const report = await runBench(args.backend, settings, { quiet: args.quiet });
    const top = args.profileTop ?? DEFAULT_PROFILE_TOP;
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatBench(report, { profileTop: top })}\n`);
    for (const result of report.backends) {
      // With auto, a backend that does not load is skipped (listed, not a failure); a named one must load.
      if (!result.loaded && args.backend !== 'auto') process.stderr.write(`temper: ${result.error}\n`);
    }
    if (!report.backends.some((result) => result.loaded)) process.stderr.write('temper: no backend could be measured\n');
    process.exitCode = report.complete ? EXIT_OK : EXIT_JOBS_FAILED;
  },
};

/** `--peer torch`: wasm in this process against PyTorch; exit 2 before measuring anything when PyTorch is missing. */
async function peerHandler(args: BenchArgs, settings: BenchSettings): Promise<void> {
  if (args.profile) {
    throw new UsageError(`--profile and --peer ${args.peer} cannot be combined: profile temper's steps with --backend wasm --profile, without --peer`);
  }
  if (args.backend !== 'wasm' && args.backend !== 'auto') {
    throw new UsageError(`--peer ${args.peer} compares temper's wasm backend with PyTorch on the same CPU: use --backend wasm (or leave --backend out), not --backend ${args.backend}`);
  }
  const rounds = args.rounds ?? DEFAULT_PEER_ROUNDS;
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds: expected a whole number >= 1, found ${rounds}`);
  const torch = findTorch();
  if ('error' in torch) throw new UsageError(torch.error);
  const report = await runPeerBench(settings, torch, { rounds, quiet: args.quiet });
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatPeer(report)}\n`);
  process.exitCode = report.complete ? EXIT_OK : EXIT_JOBS_FAILED;
}

function benchSettings(args: BenchArgs): BenchSettings {
  const count = (name: string, value: number, least: number) => {
    if (!Number.isInteger(value) || value < least) throw new UsageError(`--${name}: expected a whole number >= ${least}, found ${value}`);
    return value;
  };
  const seconds = (name: string, value: number) => {
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`--${name}: expected seconds >= 0, found ${value}`);
    return value;
  };
  if (args.profileTop !== undefined) count('profile-top', args.profileTop, 1);
  return {
    warmupSteps: args.warmup === undefined ? undefined : count('warmup', args.warmup, 0),
    minSteps: args.minSteps === undefined ? undefined : count('min-steps', args.minSteps, 1),
    minSeconds: seconds('min-seconds', args.minSeconds),
    maxSeconds: seconds('max-seconds', args.maxSeconds),
    batch: args.batch === undefined ? undefined : count('batch', args.batch, 1),
    models: [...new Set(args.model)],
    kinds: [...new Set(args.what)],
    seed: count('seed', args.seed, 0),
    profile: args.profile,
  };
}
