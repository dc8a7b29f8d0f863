// A command line yargs rejected, explained with a way forward: the flag or `--set` key that was probably meant, the
// nearest value of a list, the usage line and an example for a missing argument. Pure, apart from the `notes` callback.
import type { Argv } from 'yargs';
import Yargs from './yargs.cjs';
import { nearest, setFlag } from '../config/errors.js';
import { keysNamed, listText, type ConfigKey } from '../config/keys.js';
import type { TemperCommand } from './help.js';

interface FlagSpec {
  boolean: boolean;
  array: boolean;
  choices?: string[];
  required: boolean;
}

interface PositionalSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  choices?: string[];
}

/** What a subcommand accepts, read from its module (the yargs builder run on a blank parser). */
export interface CommandSpec {
  name: string;
  /** `temper merge <dirs..> --out <out> [options]` */
  usage: string;
  positionals: PositionalSpec[];
  /** By kebab-case name, as typed: `data-dir`. */
  flags: Map<string, FlagSpec>;
  /** The module's first example, `temper run configs/quickstart.json`. */
  example?: string;
}

/** The parts of yargs' option registry read here (public methods its own typings leave out). */
interface OptionRegistry {
  getOptions(): { key: Record<string, boolean>; boolean: string[]; array: string[]; choices: Record<string, string[]> };
  getDemandedOptions(): Record<string, unknown>;
}

export function commandSpec(module: TemperCommand<never>): CommandSpec {
  const [name = '', ...words] = String(module.command).split(/\s+/);
  const blank = Yargs([]);
  const built = (typeof module.builder === 'function' ? module.builder(blank as Argv<object>) : blank) as unknown as OptionRegistry;
  const options = built.getOptions();
  const demanded = built.getDemandedOptions();
  const positionals = words.map((word) => {
    const positional = word.replace(/[<>[\].]/g, '');
    return { name: positional, required: word.startsWith('<'), variadic: word.includes('..'), choices: options.choices[positional] };
  });
  const flags = new Map<string, FlagSpec>();
  for (const key of Object.keys(options.key)) {
    if (positionals.some((p) => p.name === key)) continue;
    flags.set(key, { boolean: options.boolean.includes(key), array: options.array.includes(key), choices: options.choices[key], required: key in demanded });
  }
  const requiredFlags = [...flags].filter(([, flag]) => flag.required).map(([flag]) => ` --${flag} <${flag}>`);
  return {
    name,
    usage: `temper ${String(module.command)}${requiredFlags.join('')} [options]`,
    positionals,
    flags,
    example: module.examples[0]?.command.replace(/^\$0/, 'temper'),
  };
}

interface UnknownFlag {
  flag: string;
  value?: string;
}

interface ReadArgs {
  positionals: string[];
  unknown: UnknownFlag[];
  given: Map<string, string[]>;
}

/** Splits the words after the command name as yargs does: flags with their values, and positionals. */
function readArgs(words: string[], spec: CommandSpec): ReadArgs {
  const read: ReadArgs = { positionals: [], unknown: [], given: new Map() };
  const isFlag = (word: string | undefined) => word !== undefined && /^--?[^\d-]/.test(word);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      read.positionals.push(...words.slice(i + 1));
      break;
    }
    if (!isFlag(word)) {
      read.positionals.push(word);
      continue;
    }
    const [, dashes = '', raw = '', inline] = /^(--?)([^=]*)(?:=(.*))?$/s.exec(word) ?? [];
    const name = kebab(raw);
    const negated = name.startsWith('no-') && spec.flags.get(name.slice(3))?.boolean ? name.slice(3) : undefined;
    const known = spec.flags.get(negated ?? name);
    const values: string[] = inline === undefined ? [] : [inline];
    if (inline === undefined && !negated && !known?.boolean) {
      // A known array flag takes every word up to the next flag; any other flag takes one word.
      while (i + 1 < words.length && !isFlag(words[i + 1]) && words[i + 1] !== '--') {
        values.push(words[++i]!);
        if (!known?.array) break;
      }
    }
    if (known) read.given.set(negated ?? name, [...(read.given.get(negated ?? name) ?? []), ...values]);
    else read.unknown.push({ flag: `${dashes}${raw}`, value: values[0] });
  }
  return read;
}

/** `batchSize` → `batch-size`, the form flags are listed in. */
function kebab(name: string): string {
  return name.replace(/([a-z\d])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Extra words for a value off a flag's list, e.g. what `--backend auto` would pick here. */
export type ChoiceNote = (flag: string, value: string) => Promise<string | undefined>;

/**
 * One line per mistake in `args` (the words after `temper`), each with what to do; empty when nothing here is
 * recognised, and the caller falls back to yargs' own message.
 */
export async function diagnose(args: string[], specs: CommandSpec[], note: ChoiceNote = async () => undefined): Promise<string[]> {
  const commandAt = args.findIndex((word) => !word.startsWith('-'));
  const names = specs.map((spec) => spec.name);
  const example = specs[0]?.example;
  if (commandAt < 0) {
    const unknown = args.filter((word) => !['--help', '--version'].includes(word));
    if (unknown.length > 0) {
      return unknown.map((flag) => {
        const meant = nearest(flag.replace(/^-+/, ''), ['help', 'version']);
        return `unknown flag ${flag}: ${meant ? `did you mean --${meant}? ` : ''}flags go after a command (${names.join(', ')}); temper --help lists them`;
      });
    }
    return [`name a command: ${names.join(', ')}${example ? `; e.g. ${example}` : ''} (temper --help says what each does)`];
  }
  const command = args[commandAt]!;
  const spec = specs.find((s) => s.name === command);
  if (!spec) {
    const guess = nearest(command, names);
    return [`unknown command "${command}"; expected one of: ${names.join(', ')}${guess ? `; did you mean temper ${guess}?` : ''}`];
  }
  const read = readArgs([...args.slice(0, commandAt), ...args.slice(commandAt + 1)], spec);
  const lines = read.unknown.map((unknown) => unknownFlagLine(unknown, spec));
  // A misspelt required flag (`--output` for --out) is answered by its suggestion, not again as missing.
  const suggested = new Set(read.unknown.map((unknown) => nearFlag(unknown.flag, spec)));
  const offList = async (what: string, value: string, choices: string[], flag?: string) => {
    // `gpu` for webgpu: a value inside a choice is a likelier meaning than one a letter away (`cpu`).
    const guess = choices.find((choice) => value.length >= 3 && choice.includes(value)) ?? nearest(value, choices);
    const extra = flag && (await note(flag, value));
    const shown = flag ? value : JSON.stringify(value);
    const line = `${what} ${shown}: expected one of: ${choices.join(', ')}${guess ? `; did you mean ${flag ? `--${flag} ` : ''}${guess}?` : ''}`;
    return extra ? `${line}${guess ? '' : '.'} ${extra}` : line;
  };
  for (const [i, positional] of spec.positionals.entries()) {
    const value = read.positionals[i];
    if (positional.choices && value !== undefined && !positional.choices.includes(value)) {
      lines.push(await offList(`${spec.name} <${positional.name}>`, value, positional.choices));
    }
  }
  for (const [flag, values] of read.given) {
    const choices = spec.flags.get(flag)?.choices;
    for (const value of choices ? values.filter((v) => !choices.includes(v)) : []) lines.push(await offList(`--${flag}`, value, choices!, flag));
  }
  const usage = `usage: ${spec.usage}${spec.example ? `; e.g. ${spec.example}` : ''}`;
  const missing = spec.positionals.filter((p, i) => p.required && read.positionals.length <= i).map((p) => `<${p.name}>`);
  missing.push(...[...spec.flags].filter(([flag, f]) => f.required && !read.given.has(flag) && !suggested.has(flag)).map(([flag]) => `--${flag}`));
  if (missing.length > 0) lines.push(`${spec.name} needs ${missing.join(' and ')}; ${usage}`);
  const most = spec.positionals.some((p) => p.variadic) ? Infinity : spec.positionals.length;
  const extra = read.positionals.slice(most);
  if (extra.length > 0) {
    const taken = spec.positionals.map((p) => `<${p.name}>`).join(' ') || 'no arguments';
    lines.push(`unexpected ${extra.map((word) => JSON.stringify(word)).join(', ')}: ${spec.name} takes ${taken}; ${usage}`);
  }
  return lines;
}

/** What an unknown flag most likely meant: a config key (with `--set`), else the nearest real flag. */
function unknownFlagLine({ flag, value }: UnknownFlag, spec: CommandSpec): string {
  const head = `unknown flag ${flag}${value === undefined ? '' : ` ${value}`}`;
  const keys = configKeysFor(flag, spec);
  if (keys.length > 0) return `${head}: ${String(keys[0]!.path.at(-1))} is a config key; use ${keys.map((key) => setArgument(key, value)).join(' or ')}`;
  const close = nearFlag(flag, spec);
  if (close) return `${head}: did you mean --${close}${value === undefined || spec.flags.get(close)?.boolean ? '' : ` ${value}`}?`;
  const flags = ownFlags(spec).map((f) => `--${f}`);
  return `${head}: temper ${spec.name} takes ${flags.join(', ')} (temper ${spec.name} --help says what each does)`;
}

/** The config keys an unknown flag names, where the command takes `--set`. */
function configKeysFor(flag: string, spec: CommandSpec): ConfigKey[] {
  return spec.flags.has('set') ? keysNamed(kebab(flag.replace(/^-+/, ''))) : [];
}

/** The real flag nearest an unknown one (edit distance, or one the start of the other: `--output` for --out). */
function nearFlag(flag: string, spec: CommandSpec): string | undefined {
  if (configKeysFor(flag, spec).length > 0) return undefined;
  const name = kebab(flag.replace(/^-+/, ''));
  const flags = ownFlags(spec);
  return nearest(name, flags) ?? flags.find((f) => Math.min(f.length, name.length) >= 3 && (f.startsWith(name) || name.startsWith(f)));
}

function ownFlags(spec: CommandSpec): string[] {
  return [...spec.flags.keys()].filter((f) => f !== 'help' && f !== 'version');
}

/** `--set training.epochs=1`, or `--set 'temperatures=[1,5]'` for a list. */
function setArgument(key: ConfigKey, value = 'VALUE'): string {
  return setFlag(key.path, key.list || (key.listable && /[\s,]/.test(value.trim())) ? listText(value) : value);
}
