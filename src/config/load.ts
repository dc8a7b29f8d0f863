// Load a config: parse JSON-with-comments or YAML, apply `--set` overrides, validate against the schema,
// then check registered names and duplicates. Every problem is collected before anything is thrown.
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import YAML from 'yaml';
import { configSchema, type ExperimentConfig } from './schema.js';
import { configKeys, keysNamed, listText, takesList } from './keys.js';
import { axisPath, describeSweepPoint, setSweepPoint, sweepableKeys, sweepCombinations, SWEEP_SECTIONS, type SweepPoint } from './sweep.js';
import { unitProblems } from './units.js';
import {
  adviceText,
  ConfigError,
  formatPath,
  nearest,
  problem,
  setFlag,
  renderValue,
  singular,
  unknownName,
  zodProblems,
  type ConfigProblem,
  type HintFor,
  type PathSegment,
} from './errors.js';

export interface LoadOptions {
  /** `--set key=value` overrides, applied in order: `training.epochs=1`, `temperatures=[1,5]`, `attacks[0].eps=0.2`. */
  overrides?: string[];
  /**
   * Registered names; a config naming anything else is rejected with the list of these. `imageShapes` ([h, w, c] per
   * dataset) bounds L2 budgets; without it only Linf values are checked for unit mistakes.
   */
  names: { datasets: string[]; architectures: string[]; imageShapes?: Record<string, [number, number, number]> };
}

const FORMATS: Record<string, 'json' | 'yaml'> = { '.json': 'json', '.jsonc': 'json', '.yaml': 'yaml', '.yml': 'yaml' };

export function loadConfig(file: string, opts: LoadOptions): ExperimentConfig {
  formatOf(file); // an unsupported extension is the clearer error, even for a file that does not exist
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : (error as Error).message;
    throw new ConfigError([
      problem({ file, expected: 'a readable config file', found, hint: `check the path (looked for ${resolve(file)})` }),
    ]);
  }
  return parseConfigText(text, file, opts);
}

/** Like `loadConfig`, for text already read; `file` names it in messages and its extension picks the parser. */
export function parseConfigText(text: string, file: string, opts: LoadOptions): ExperimentConfig {
  const parsed = formatOf(file) === 'yaml' ? parseYaml(text, file) : parseJson(text, file);
  const overrides = (opts.overrides ?? []).map((raw) => parseOverride(raw, file));
  const syntaxProblems = [...parsed.problems, ...overrides.filter(isProblem)];
  if (syntaxProblems.length > 0) throw new ConfigError(syntaxProblems);

  const input = parsed.value;
  const applied = overrides.filter((o): o is Override => !isProblem(o));
  const overrideProblems = applied.flatMap((o) => applyOverride(input, o, file) ?? []);
  if (overrideProblems.length > 0) throw new ConfigError(overrideProblems);

  // A problem in or around an overridden value is reported with the --set that put it there, and the --set to type
  // instead where the problem knows it: `--set epochs=1` is `--set training.epochs=1`, `temperatures=1,5` is `[1,5]`.
  const hintFor: HintFor = (path, advice = {}) => {
    const within = (a: readonly PropertyKey[], b: readonly PropertyKey[]) => a.every((key, i) => b[i] === key);
    const source = applied.filter((o) => path.length > 0 && (within(o.path, path) || within(path, o.path))).at(-1);
    if (!source) return undefined;
    const value = source.raw.slice(source.raw.indexOf('=') + 1);
    const below = source.path.slice(path.length);
    const instead =
      advice.meant?.length && within(path, source.path)
        ? advice.meant.map((meant) => setFlag([...meant, ...below], takesList([...meant, ...below]) ? listText(value) : value))
        : advice.asList && path.length === source.path.length
          ? [setFlag(source.path, advice.asList)]
          : [];
    if (instead.length > 0) return `from --set ${source.raw}; use ${instead.join(' or ')}`;
    return [adviceText(path, advice), `from --set ${source.raw}`].filter(Boolean).join('; ');
  };
  const checkOne = (document: unknown) => checkDocument(document, file, opts.names.imageShapes, hintFor);
  const { checked, sweepProblems } = checkWithSweep(input, file, hintFor, checkOne);
  const problems = [
    ...checked.schema,
    ...checkNames(input, opts.names, file, hintFor),
    ...checkDuplicates(input, file, hintFor),
    ...checked.after,
    ...sweepProblems,
  ];
  if (!checked.data || problems.length > 0) throw new ConfigError(problems);
  return checked.data;
}

/** A document checked against the schema (`schema`) and, where it passed, the rules across fields (`after`). */
interface Checked {
  data?: ExperimentConfig;
  schema: ConfigProblem[];
  after: ConfigProblem[];
}

function checkDocument(document: unknown, file: string, imageShapes: LoadOptions['names']['imageShapes'], hintFor: HintFor): Checked {
  const result = configSchema.safeParse(document);
  if (!result.success) return { schema: zodProblems(result.error.issues, document, configSchema, file, hintFor), after: [] };
  const after = [...checkTransferSources(result.data, file, hintFor), ...checkBaselineTemperature(result.data, file, hintFor), ...checkAttackSamples(result.data, file, hintFor), ...unitProblems(result.data, { file, input: document, imageShapes, hintFor })];
  return { data: result.data, schema: [], after };
}

function formatOf(file: string): 'json' | 'yaml' {
  const extension = extname(file).toLowerCase();
  const format = FORMATS[extension];
  if (!format) {
    throw new ConfigError([
      problem({
        file,
        expected: 'a .json, .jsonc, .yaml or .yml file',
        found: extension ? JSON.stringify(extension) : 'no extension',
      }),
    ]);
  }
  return format;
}

interface Parsed {
  value: unknown;
  problems: ConfigProblem[];
}

const JSON_EXPECTED: Record<string, string> = {
  InvalidSymbol: 'a JSON value',
  InvalidNumberFormat: 'a number',
  PropertyNameExpected: 'a property name in double quotes',
  ValueExpected: 'a value',
  ColonExpected: 'a colon',
  CommaExpected: 'a comma',
  CloseBraceExpected: 'a closing brace "}"',
  CloseBracketExpected: 'a closing bracket "]"',
  EndOfFileExpected: 'the end of the file',
  InvalidCommentToken: 'a comment closed with "*/"',
  UnexpectedEndOfComment: 'a comment closed with "*/"',
  UnexpectedEndOfString: 'a closing double quote',
  UnexpectedEndOfNumber: 'more digits',
  InvalidUnicode: 'a \\u escape with four hex digits',
  InvalidEscapeCharacter: 'a valid escape (\\", \\\\, \\n, ...)',
  InvalidCharacter: 'a printable character (escape control characters)',
};

function parseJson(text: string, file: string): Parsed {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  const problems = errors.map((error) => {
    const code = printParseErrorCode(error.error);
    const expected = JSON_EXPECTED[code] ?? code;
    const found = tokenAt(text, error.offset, error.length);
    return problem({ file, ...lineColumn(text, error.offset), expected, found, detail: `syntax error: expected ${expected}, found ${found}` });
  });
  return { value, problems };
}

function parseYaml(text: string, file: string): Parsed {
  const doc = YAML.parseDocument(text, { prettyErrors: false });
  const problems = doc.errors.map((error) => {
    const where = lineColumn(text, error.pos[0]);
    const line = text.split(/\r?\n/)[where.line - 1]?.trim();
    const found = line ? renderValue(line) : 'the end of the file';
    return problem({ file, ...where, expected: 'valid YAML', found, detail: `YAML syntax error: ${error.message}` });
  });
  if (problems.length === 0) problems.push(...missingSpaces(doc, text, file));
  return { value: problems.length > 0 ? undefined : doc.toJS(), problems };
}

/**
 * `{name:autoattack}` is valid YAML, one key "name:autoattack" with no value, and the schema would then only say that
 * `name` is missing. A key like that, with nothing after it, is almost always a missing space after the colon.
 */
function missingSpaces(doc: YAML.Document, text: string, file: string): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  YAML.visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (!YAML.isScalar(key) || typeof key.value !== 'string' || (pair.value !== null && !(YAML.isScalar(pair.value) && pair.value.value === null))) return;
      const glued = /^([A-Za-z_][\w.-]*):(\S.*)$/.exec(key.value);
      if (!glued) return;
      found.push(
        problem({
          file,
          ...lineColumn(text, key.range?.[0] ?? 0),
          expected: 'a space after the colon',
          found: renderValue(key.value),
          detail: `"${key.value}" has no space after its colon, so YAML reads it as one key with no value`,
          hint: `write "${glued[1]}: ${glued[2]}"`,
        }),
      );
    },
  });
  return found;
}

function tokenAt(text: string, offset: number, length: number): string {
  if (offset >= text.length) return 'the end of the file';
  const token = text.slice(offset, offset + Math.max(1, length)).split(/\r?\n/)[0]!;
  if (token === '') return 'a line break';
  // A string token shows with its own quotes; anything else is quoted so a lone "}" reads clearly.
  return token.startsWith('"') ? token.slice(0, 60) : renderValue(token);
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

// ---------------------------------------------------------------------------------------------
// --set key=value

interface Override {
  raw: string;
  path: PathSegment[];
  value: unknown;
}

const KEY_PATH = /^[^.[\]=\s]+(?:\.[^.[\]=\s]+|\[\d+\])*$/;
const KEY_SEGMENT = /\[(\d+)\]|\.?([^.[\]=\s]+)/g;

function parseOverride(raw: string, file: string): Override | ConfigProblem {
  const equals = raw.indexOf('=');
  const key = raw.slice(0, Math.max(equals, 0)).trim();
  if (equals < 0 || !KEY_PATH.test(key)) {
    const expected = 'key=value with a key like training.epochs or attacks[0].eps (e.g. training.epochs=1)';
    return problem({ file, path: '--set', expected, found: JSON.stringify(raw) });
  }
  // Everything after `sweep.` is one sweep key: `sweep.training.labelSmoothing=[0,0.1]`.
  const path = key.startsWith('sweep.') ? ['sweep', key.slice('sweep.'.length)] : [...key.matchAll(KEY_SEGMENT)].map(([, index, name]) => (index === undefined ? name! : Number(index)));
  const text = raw.slice(equals + 1);
  try {
    return { raw, path, value: YAML.parse(text) as unknown };
  } catch {
    const expected = 'a value written as YAML or JSON (e.g. 1, true, foo, [1, 5])';
    return problem({ file, path: '--set', expected, found: JSON.stringify(text), detail: `${raw}: expected ${expected}, found ${JSON.stringify(text)}` });
  }
}

function isProblem(value: Override | ConfigProblem): value is ConfigProblem {
  return 'message' in value;
}

/** Set the override's value in place, creating missing objects and lists; keys the schema lacks are left for validation to report. */
function applyOverride(root: unknown, override: Override, file: string): ConfigProblem | undefined {
  // A document that is not an object is reported by validation; there is nothing to set keys on.
  if (!isRecord(root)) return undefined;
  const { path, raw } = override;
  let container: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    const fail = (expected: string, found: string) =>
      problem({ file, path: '--set', expected, found, detail: `${raw}: cannot set ${formatPath(path.slice(0, i + 1))}: expected ${expected}, found ${found}` });
    if (Array.isArray(container)) {
      if (typeof key !== 'number') return fail(`an index like [0] (${formatPath(path.slice(0, i))} is a list)`, JSON.stringify(key));
      if (key > container.length) return fail(`an index from 0 to ${container.length} (${container.length} appends)`, String(key));
    } else if (typeof key === 'number') {
      return fail(`a key like .name (${formatPath(path.slice(0, i))} is not a list)`, `[${key}]`);
    }
    if (i === path.length - 1) {
      setOwn(container, key, override.value);
      break;
    }
    const nextIsIndex = typeof path[i + 1] === 'number';
    let child = getOwn(container, key);
    if (child === undefined) {
      child = nextIsIndex ? [] : {};
      setOwn(container, key, child);
    }
    if (!(nextIsIndex ? Array.isArray(child) : isRecord(child))) {
      return fail(nextIsIndex ? 'a list' : 'an object', renderValue(child));
    }
    container = child as Record<string, unknown> | unknown[];
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function getOwn(container: Record<string, unknown> | unknown[], key: PathSegment): unknown {
  return Object.hasOwn(container, key) ? (container as Record<PathSegment, unknown>)[key] : undefined;
}

// defineProperty, not assignment: a key like "__proto__" becomes an ordinary key that validation rejects.
function setOwn(container: Record<string, unknown> | unknown[], key: PathSegment, value: unknown): void {
  Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------
// Checks beyond the schema: registered names and duplicates (which would give identical jobs or columns).
// They read the raw input so they report alongside schema problems; entries of the wrong type are left to the schema.


function checkNames(input: unknown, names: LoadOptions['names'], file: string, hintFor: HintFor): ConfigProblem[] {
  if (!isRecord(input)) return [];
  return (['datasets', 'architectures'] as const).flatMap((key) =>
    listAt(input, [key]).flatMap((value, i) =>
      typeof value === 'string' && !names[key].includes(value)
        ? [unknownName(file, [key, i], singular(key), value, names[key], hintFor([key, i], {}))]
        : [],
    ),
  );
}

// A transfer attack's surrogate must be a model the sweep trains: one of its architectures at one of its temperatures.
function checkTransferSources(config: ExperimentConfig, file: string, hintFor: HintFor): ConfigProblem[] {
  return config.attacks.flatMap((attack, i) => {
    if (attack.name !== 'transfer') return [];
    const { architecture, temperature } = attack.source;
    const problems: ConfigProblem[] = [];
    if (!config.architectures.includes(architecture)) {
      const path = ['attacks', i, 'source', 'architecture'];
      problems.push(
        problem({ file, path: formatPath(path), expected: `one of the config's architectures (${config.architectures.join(', ')})`, found: JSON.stringify(architecture), hint: hintFor(path, {}) }),
      );
    }
    if (!config.temperatures.includes(temperature)) {
      const path = ['attacks', i, 'source', 'temperature'];
      problems.push(
        problem({ file, path: formatPath(path), expected: `one of the config's temperatures (${config.temperatures.join(', ')})`, found: String(temperature), hint: hintFor(path, {}) }),
      );
    }
    return problems;
  });
}

// The report compares every temperature with the baseline, so it must be one the sweep trains.
function checkBaselineTemperature(config: ExperimentConfig, file: string, hintFor: HintFor): ConfigProblem[] {
  const baseline = config.report?.baselineTemperature;
  if (baseline === undefined || config.temperatures.includes(baseline)) return [];
  const path = ['report', 'baselineTemperature'];
  return [problem({ file, path: formatPath(path), expected: `one of the config's temperatures (${config.temperatures.join(', ')})`, found: String(baseline), hint: hintFor(path, {}) })];
}

/**
 * An attack's own `samples` above eval.samples (the smallest, when eval.samples is a sweep axis) would label the row
 * `[n=N]` while it is measured on fewer images.
 */
function checkAttackSamples(config: ExperimentConfig, file: string, hintFor: HintFor): ConfigProblem[] {
  const swept = config.sweep?.['eval.samples'] as number[] | undefined;
  const smallest = Math.min(...(swept ?? [config.eval.samples]));
  return config.attacks.flatMap((attack, i) => {
    if (attack.samples === undefined || attack.samples <= smallest) return [];
    const path = ['attacks', i, 'samples'];
    const expected = `at most eval.samples (${smallest}${swept ? ', its smallest sweep value' : ''}): the attack runs on the first N of those images`;
    return [problem({ file, path: formatPath(path), expected, found: String(attack.samples), hint: ['lower it, or leave it out to attack every eval image', hintFor(path, {})].filter(Boolean).join('; ') })];
  });
}

function checkDuplicates(input: unknown, file: string, hintFor: HintFor): ConfigProblem[] {
  if (!isRecord(input)) return [];
  const lists: Array<[PathSegment[], string]> = [
    [['datasets'], 'dataset'],
    [['architectures'], 'architecture'],
    [['temperatures'], 'temperature'],
    [['seeds'], 'seed'],
    ...listAt(input, ['attacks']).map((_, i): [PathSegment[], string] => [['attacks', i, 'eps'], 'eps']),
  ];
  return lists.flatMap(([path, noun]) =>
    listAt(input, path).flatMap((value, i, list) => {
      const first = list.indexOf(value);
      if (first === i || (typeof value !== 'string' && typeof value !== 'number')) return [];
      const found = renderValue(value);
      return [
        problem({
          file,
          path: formatPath([...path, i]),
          expected: `each ${noun} once`,
          found,
          detail: `duplicate ${noun} ${found} (also at ${formatPath([...path, first])}); list each ${noun} once`,
          hint: hintFor([...path, i], {}),
        }),
      ];
    }),
  );
}

function listAt(input: unknown, path: PathSegment[]): unknown[] {
  let value = input;
  for (const key of path) value = isRecord(value) || Array.isArray(value) ? getOwn(value, key) : undefined;
  return Array.isArray(value) ? value : [];
}

// ---------------------------------------------------------------------------------------------
// sweep: its keys must be settings under training, data or eval; each value is checked at its key (reported as
// `sweep["training.labelSmoothing"][1]`), then every combination as a whole, so rules across fields still apply.

type Axis = [key: string, values: unknown[]];

/**
 * Checks `input` as the jobs will see it: with the sweep's first combination applied (a sweep value replaces the
 * setting written elsewhere, which may be absent: sweeping `training.adversarial.eps` needs no eps outside the sweep).
 */
function checkWithSweep(input: unknown, file: string, hintFor: HintFor, checkOne: (document: unknown) => Checked): { checked: Checked; sweepProblems: ConfigProblem[] } {
  const { axes, problems: keyProblems } = sweepAxes(input, file, hintFor);
  if (!axes) return { checked: checkOne(input), sweepProblems: keyProblems };
  const points = sweepCombinations(Object.fromEntries(axes));
  const inSweep = (problemPath: string) => axes.some(([key]) => within(problemPath, formatPath(axisPath(key))));

  const valueProblems = axes.flatMap(([key, values]) => values.flatMap((value, i) => valueProblemsAt(input, key, value, i, file, hintFor, checkOne)));
  if (valueProblems.length > 0) {
    // The first combination may hold a bad value: it is reported once, at its place in the sweep.
    const first = checkOne(withPoint(input, points[0]!));
    const keep = (list: ConfigProblem[]) => list.filter((p) => !inSweep(p.path));
    return { checked: { schema: keep(first.schema), after: keep(first.after) }, sweepProblems: valueProblems };
  }

  // A problem of every combination is the config's; one of only some is reported with the first combination that has it.
  const results = points.map((point) => checkOne(withPoint(input, point)));
  const all = (checked: Checked) => [...checked.schema, ...checked.after];
  const messages = results.map((checked) => new Set(all(checked).map((p) => p.message)));
  const everywhere = (p: ConfigProblem) => messages.every((set) => set.has(p.message));
  const seen = new Set<string>();
  const sweepProblems = results.flatMap((checked, i) =>
    all(checked)
      .filter((p) => !everywhere(p) && !seen.has(p.message) && seen.add(p.message))
      .map((p) => problem({ file, path: 'sweep', expected: p.expected, found: p.found, detail: `with ${describeSweepPoint(points[i]!)}: ${p.message.slice(file.length + 2)}` })),
  );
  const [first] = results as [Checked];
  const checked = { ...first, schema: first.schema.filter(everywhere), after: first.after.filter(everywhere) };
  return { checked, sweepProblems };
}

/** The problems one sweep value makes at its key, moved to its place in the sweep: `sweep["training.labelSmoothing"][1]`. */
function valueProblemsAt(input: unknown, key: string, value: unknown, i: number, file: string, hintFor: HintFor, checkOne: (document: unknown) => Checked): ConfigProblem[] {
  const at = formatPath(axisPath(key));
  const checked = checkOne(withPoint(input, { [key]: value }));
  const fromSet = hintFor(['sweep', key, i], {});
  return [...checked.schema, ...checked.after]
    .filter((p) => within(p.path, at))
    .map((p) => {
      const path = formatPath(['sweep', key, i]) + p.path.slice(at.length);
      const message = `${file}: ${path}${p.message.slice(file.length + 2 + p.path.length)}${fromSet ? `; ${fromSet}` : ''}`;
      return { ...p, path, message };
    });
}

/** The sweep's axes when every key is sweepable and every value a non-empty list (the schema reports the lists). */
function sweepAxes(input: unknown, file: string, hintFor: HintFor): { axes?: Axis[]; problems: ConfigProblem[] } {
  const sweep = isRecord(input) ? input['sweep'] : undefined;
  if (!isRecord(sweep)) return { problems: [] };
  const allowed = sweepableKeys();
  const problems = Object.keys(sweep)
    .filter((key) => !allowed.includes(key))
    .map((key) => sweepKeyProblem(key, allowed, file, hintFor));
  const wellFormed = problems.length === 0 && Object.values(sweep).every((values) => Array.isArray(values) && values.length > 0);
  return { problems, ...(wellFormed ? { axes: Object.entries(sweep) as Axis[] } : {}) };
}

const GRID_AXES = ['datasets', 'architectures', 'temperatures', 'seeds'];

function sweepKeyProblem(key: string, allowed: string[], file: string, hintFor: HintFor): ConfigProblem {
  const path = ['sweep', key];
  const where = 'a setting under training, data or eval';
  // `attacks[0].eps`: a key of the config, outside the sections a sweep varies.
  const top = axisPath(key)[0]!.replace(/\[\d+\]$/, '');
  const outside = !(SWEEP_SECTIONS as readonly string[]).includes(top) && configKeys().some((k) => k.path.length === 1 && k.path[0] === top);
  const leaves = allowed.filter((other) => other.startsWith(`${key}.`));
  const init = { file, path: formatPath(path), found: JSON.stringify(key) };
  if (leaves.length > 0) {
    const expected = `one of: ${leaves.join(', ')}`;
    return problem({ ...init, expected, detail: `${key} is a group of settings; sweep one of them: ${leaves.join(', ')}`, hint: hintFor(path, {}) });
  }
  if (GRID_AXES.includes(key)) {
    return problem({ ...init, expected: where, detail: `${key} is an axis of the grid already; list its values there`, hint: hintFor(path, {}) });
  }
  if (outside) {
    const expected = `${where} (${allowed.join(', ')})`;
    return problem({ ...init, expected, detail: `${key} cannot be a sweep axis; expected ${expected}`, hint: hintFor(path, {}) });
  }
  // A misspelt key: the keys spelt alike, else those with the same last name (`labelSmoothing`: training.labelSmoothing).
  const close = nearest(key, allowed);
  const named = keysNamed(axisPath(key).at(-1)!, configKeys().filter((k) => allowed.includes(k.path.join('.')))).map((k) => k.path.join('.'));
  const meant = [...new Set([...(close ? [close] : []), ...named])].map((m): PathSegment[] => ['sweep', m]);
  const hint = meant.length > 0 ? (hintFor(path, { meant }) ?? adviceText(path, { meant })) : [`a sweep takes: ${allowed.join(', ')}`, hintFor(path, {})].filter(Boolean).join('; ');
  return problem({ ...init, expected: where, detail: `unknown key ${JSON.stringify(key)}; expected ${where}`, hint });
}

function withPoint(input: unknown, point: SweepPoint): unknown {
  if (!isRecord(input)) return input;
  const document = structuredClone(input);
  setSweepPoint(document, point);
  return document;
}

/** Whether a problem's path (`training.schedule.milestones[0]`) is at or under `at`. */
function within(problemPath: string, at: string): boolean {
  return problemPath === at || problemPath.startsWith(`${at}.`) || problemPath.startsWith(`${at}[`);
}
