// `temper validate <config>`: exit 0 with the grid size, or 2 with every error listed.
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import type { ExperimentConfig } from '../../config/schema.js';
import { expandGrid } from '../../config/grid.js';
import { configClasses, formatSweepCost, sweepCost } from '../../attacks/cost.js';
import { shortBudgets } from '../../config/units.js';
import { registeredNames } from '../names.js';
import { withExamples, type Example, type TemperCommand } from '../help.js';
import { SET_OPTION } from './run.js';
import { plural } from '../../util/text.js';

interface ValidateArgs {
  config: string;
  set?: string[];
  json: boolean;
}

const examples: Example[] = [
  { command: '$0 validate configs/quickstart.json', note: 'check the quickstart config and count its jobs' },
  { command: "$0 validate configs/quickstart.json --set 'seeds=[0,1,2]'", note: 'the same with three seeds, as temper run --set would' },
];

export const validateCommand: TemperCommand<ValidateArgs> = {
  command: 'validate <config>',
  examples,
  describe: 'Check a config; list every error (exit 2) or the grid it expands to (exit 0)',
  builder: (yargs: Argv) =>
    withExamples(yargs, examples)
      .positional('config', { type: 'string', describe: 'config file (.json, .jsonc, .yaml)' })
      .option('set', SET_OPTION)
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' }) as unknown as Argv<ValidateArgs>,
  handler: (args: ArgumentsCamelCase<ValidateArgs>) => {
    const config = loadConfig(args.config, { overrides: args.set ?? [], names: registeredNames() });
    const jobs = expandGrid(config);
    const evaluations = config.attacks.reduce((sum, attack) => sum + attack.eps.length, 0);
    const cost = sweepCost(config, jobs.length, configClasses(config));
    if (args.json) {
      const attackCost = { evaluationsPerImage: cost.evaluationsPerImage, images: cost.images, perModel: cost.perModel, total: cost.total };
      const warnings = shortBudgets(config);
      process.stdout.write(`${JSON.stringify({ valid: true, config: args.config, jobs: jobs.length, attacksPerJob: evaluations, attackCost, warnings, resolved: config }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${args.config}: ok — ${plural(jobs.length, 'job')} (${plural(config.datasets.length, 'dataset')} x ` +
        `${plural(config.architectures.length, 'architecture')} x ${sweepPart(config)}${plural(config.temperatures.length, 'temperature')} x ` +
        `${plural(config.seeds.length, 'seed')}), ${plural(evaluations, 'attack evaluation')} per job` +
        (config.corruptions ? `, ${plural(config.corruptions.types.length * config.corruptions.severities.length, 'corruption evaluation')} per job` : '') +
        (config.training.adversarial ? `, adversarial training (${config.training.adversarial.attack} eps ${(config.sweep?.['training.adversarial.eps'] ?? [config.training.adversarial.eps]).join(', ')})` : '') +
        '\n' +
        formatSweepCost(cost).map((line) => `${line}\n`).join(''),
    );
    for (const line of shortBudgets(config)) process.stderr.write(`warning: ${line}\n`);
  },
};

/** `4 sweep combinations (2 training.labelSmoothing x 2 training.adversarial.eps) x `, or nothing without a sweep. */
function sweepPart(config: ExperimentConfig): string {
  const axes = Object.entries(config.sweep ?? {});
  if (axes.length === 0) return '';
  const combinations = axes.reduce((product, [, values]) => product * values.length, 1);
  return `${plural(combinations, 'sweep combination')} (${axes.map(([key, values]) => `${values.length} ${key}`).join(' x ')}) x `;
}
