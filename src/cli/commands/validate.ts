// `temper validate <config>`: exit 0 with the grid size, or 2 with every error listed.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { expandGrid } from '../../config/grid.js';
import { formatSweepCost, sweepCost } from '../../attacks/cost.js';
import { shortBudgets } from '../../config/units.js';
import { registeredNames } from '../names.js';

interface ValidateArgs {
  config: string;
  set: string[];
  json: boolean;
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <config>',
  describe: 'Check a config; list every error (exit 2) or the grid it expands to (exit 0)',
  builder: (yargs: Argv) =>
    yargs
      .positional('config', { type: 'string', demandOption: true })
      .option('set', { type: 'string', array: true, default: [], describe: 'override a config key' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
      .example('$0 validate configs/quickstart.json', '') as unknown as Argv<ValidateArgs>,
  handler: (args: ArgumentsCamelCase<ValidateArgs>) => {
    const config = loadConfig(args.config, { overrides: args.set, names: registeredNames() });
    const jobs = expandGrid(config);
    const evaluations = config.attacks.reduce((sum, attack) => sum + attack.eps.length, 0);
    const cost = sweepCost(config, jobs.length);
    if (args.json) {
      const attackCost = { evaluationsPerImage: cost.evaluationsPerImage, gradientsPerImage: cost.gradientsPerImage, images: cost.images, perModel: cost.perModel, total: cost.total };
      const warnings = shortBudgets(config);
      process.stdout.write(`${JSON.stringify({ valid: true, config: args.config, jobs: jobs.length, attacksPerJob: evaluations, attackCost, warnings, resolved: config }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${args.config}: ok — ${jobs.length} jobs (${config.datasets.length} datasets x ${config.architectures.length} architectures x ` +
        `${config.temperatures.length} temperatures x ${config.seeds.length} seeds), ${evaluations} attack evaluations per job` +
        (config.corruptions ? `, ${config.corruptions.types.length * config.corruptions.severities.length} corruption evaluations per job` : '') +
        (config.training.adversarial ? `, adversarial training (${config.training.adversarial.attack} eps ${config.training.adversarial.eps})` : '') +
        '\n' +
        formatSweepCost(cost).map((line) => `${line}\n`).join(''),
    );
    for (const line of shortBudgets(config)) process.stderr.write(`warning: ${line}\n`);
  },
};
