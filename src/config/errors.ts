// Config errors for people: every problem names the file, the JSON path, what was expected and what was found.
import { z } from 'zod';
import { keysNamed, listText, schemaKeys, type JsonSchema, type JsonSchemaNode, type PathSegment } from './keys.js';

export type { PathSegment } from './keys.js';

export interface ConfigProblem {
  file: string;
  /** JSON path like `attacks[1].eps`; empty for the whole document, `--set` for a malformed override. */
  path: string;
  expected: string;
  found: string;
  /** The line a person reads: `file: path: expected ..., found ...`, plus what to do where that helps. */
  message: string;
  /** Where a syntax error is (1-based); absent for problems found after parsing. */
  line?: number;
  column?: number;
}

/** Thrown when a config cannot be used; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
  }
}

export interface ProblemInit {
  file: string;
  path?: string;
  expected: string;
  found: string;
  /** Replaces the default `expected ..., found ...` sentence (e.g. `unknown dataset "x"; expected one of: ...`). */
  detail?: string;
  /** What to do, appended after the sentence. */
  hint?: string;
  line?: number;
  column?: number;
}

export function problem(init: ProblemInit): ConfigProblem {
  const { file, path = '', expected, found, line, column } = init;
  const where = line === undefined ? file : `${file}:${line}:${column ?? 1}`;
  const sentence = init.detail ?? `expected ${expected}, found ${found}`;
  const message = [where, path, sentence].filter((part) => part !== '').join(': ') + (init.hint ? `; ${init.hint}` : '');
  return { file, path, expected, found, message, ...(line === undefined ? {} : { line, column: column ?? 1 }) };
}

/** `['attacks', 1, 'eps']` → `attacks[1].eps`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(key))) out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** `--set training.epochs=1`, quoted where a shell would expand it: `--set 'temperatures=[1,5]'`. */
export function setFlag(path: readonly PropertyKey[], value: string): string {
  // A sweep key is written whole after `sweep.`: `--set 'sweep.training.labelSmoothing=[0,0.1]'`.
  const key = path[0] === 'sweep' && typeof path[1] === 'string' ? `sweep.${path[1]}${formatPath(path.slice(2))}` : formatPath(path);
  const argument = `${key}=${value}`;
  return `--set ${/^[\w.,:=+@%/-]+$/.test(argument) ? argument : `'${argument.replace(/'/g, `'\\''`)}'`}`;
}

/** A value as short JSON for a message; "nothing" when it is missing. */
export function renderValue(value: unknown, maxLength = 60): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > maxLength ? `${json.slice(0, maxLength - 1)}…` : json;
}

/** "did you mean ..." for the closest candidate to a misspelt name, if one is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const best = nearest(word, candidates);
  return best === undefined ? undefined : `did you mean "${best}"?`;
}

/** The candidate closest to `word` in edit distance, if within a third of its length (at least 1). */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** `attacks` → `attack`: the noun for one entry of a list key, used in "unknown attack" messages. */
export function singular(key: string): string {
  return key.endsWith('s') ? key.slice(0, -1) : key;
}

/** The noun for what a `name` at `path` names: `attacks[2].name` → "attack", `training.optimizer.name` → "optimizer". */
function ownerNoun(path: readonly PropertyKey[]): string {
  const owner = path.slice(0, -1).filter((key): key is string => typeof key === 'string').at(-1);
  return owner === undefined ? 'name' : singular(owner);
}

/** The sentence for a name that is not one of the known ones: `unknown dataset "x"; expected one of: a, b`. */
export function unknownName(
  file: string,
  path: readonly PropertyKey[],
  noun: string,
  value: unknown,
  known: readonly string[],
  hint?: string,
): ConfigProblem {
  const expected = `one of: ${known.join(', ')}`;
  const found = renderValue(value);
  const suggestion = typeof value === 'string' ? didYouMean(value, known) : undefined;
  return problem({
    file,
    path: formatPath(path),
    expected,
    found,
    detail: value === undefined ? `expected ${expected}, found nothing` : `unknown ${noun} ${found}; expected ${expected}`,
    hint: [suggestion, hint].filter(Boolean).join('; ') || undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// zod issues → problems. "Expected" is phrased from the JSON Schema of the node at the issue's
// path (the same schema editors see), so a failing eps reads "a number >= 0 or a list of them"
// rather than zod's wording for whichever union branch it tried last.


const jsonSchemas = new WeakMap<z.ZodType, JsonSchema>();

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  let json = jsonSchemas.get(schema);
  if (!json) {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    jsonSchemas.set(schema, json);
  }
  return json;
}

/** What a problem suggests, for a `hintFor` that can say it better (as the `--set` to type instead). */
export interface Advice {
  /** Paths an unknown key probably meant: a sibling spelt alike, or the same name elsewhere (`epochs`: `training.epochs`). */
  meant?: PathSegment[][];
  /** A list written without brackets ("1,5"), written with them (`[1,5]`). */
  asList?: string;
}

/** What to do about the problem at `path`, or undefined to let the problem say it (e.g. which --set made it). */
export type HintFor = (path: readonly PropertyKey[], advice: Advice) => string | undefined;

/** Advice in words, where no `--set` caused the problem. */
export function adviceText(path: readonly PropertyKey[], advice: Advice): string | undefined {
  const meant = advice.meant ?? [];
  if (meant.length > 0) {
    const sibling = meant.length === 1 && meant[0]!.length === path.length && meant[0]!.slice(0, -1).every((key, i) => key === path[i]);
    return sibling ? `did you mean "${String(meant[0]!.at(-1))}"?` : `did you mean ${meant.map(formatPath).join(' or ')}?`;
  }
  return advice.asList ? `write a list in brackets: ${advice.asList}` : undefined;
}

/** Convert every zod issue to problems; `hintFor` may say what to do for a path instead (e.g. the --set to type). */
export function zodProblems(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  schema: z.ZodType,
  file: string,
  hintFor: HintFor = () => undefined,
): ConfigProblem[] {
  const root = jsonSchemaOf(schema);
  return issues.flatMap((issue): ConfigProblem[] => {
    const path = issue.path;
    const value = valueAt(input, path);
    const node = schemaAt(root, input, path);
    // A list written as "1,5" (a string, as YAML reads it) where the schema takes a list.
    const listable = node?.type === 'array' || (node?.anyOf ?? node?.oneOf ?? []).some((branch) => branch.type === 'array');
    const asList = listable && typeof value === 'string' && /[\s,]/.test(value.trim()) ? listText(value) : undefined;
    const advice: Advice = asList ? { asList } : {};
    const hint = hintFor(path, advice) ?? adviceText(path, advice);

    if (issue.code === 'unrecognized_keys') {
      const allowed = Object.keys(objectBranch(node, value)?.properties ?? {});
      return issue.keys.map((key) => {
        const keyPath = [...path, key];
        const expected = `one of: ${allowed.join(', ')}`;
        // A sibling spelt alike, else the same name elsewhere in the schema (`epochs` at the top: `training.epochs`).
        const sibling = nearest(key, allowed);
        const meant = sibling !== undefined ? [[...path, sibling] as PathSegment[]] : keysNamed(key, schemaKeys(root)).map((k) => k.path);
        return problem({
          file,
          path: formatPath(keyPath),
          expected,
          found: JSON.stringify(key),
          detail: `unknown key ${JSON.stringify(key)}; expected ${expected}`,
          hint: hintFor(keyPath, { meant }) ?? adviceText(keyPath, { meant }),
        });
      });
    }
    if (issue.code === 'invalid_union' && issue.discriminator !== undefined && 'options' in issue && issue.options) {
      const known = issue.options.map(String);
      return [unknownName(file, path, ownerNoun(path), value, known, hint)];
    }
    if (issue.code === 'invalid_value' && path.at(-1) === 'name') {
      return [unknownName(file, path, ownerNoun(path), value, issue.values.map(String), hint)];
    }
    // A refinement (e.g. "frost cannot be generated") explains itself; the schema node would only restate the type.
    if (issue.code === 'custom') {
      return [problem({ file, path: formatPath(path), expected: issue.message, found: renderValue(value), detail: issue.message, hint })];
    }
    // A custom message on a check (e.g. the name pattern) already says what is expected, in the schema author's words.
    const expected =
      issue.code === 'invalid_format' && issue.message.startsWith('expected ')
        ? issue.message.slice('expected '.length)
        : node
          ? describe(node).singular
          : issue.message;
    return [problem({ file, path: formatPath(path), expected, found: renderValue(value), hint })];
  });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The schema node at `path`, choosing among union branches the one that fits the input there. */
function schemaAt(root: JsonSchema, input: unknown, path: readonly PropertyKey[]): JsonSchema | undefined {
  let node: JsonSchema | undefined = root;
  let value = input;
  for (const key of path) {
    if (!node) return undefined;
    const branch: JsonSchema | undefined = pickBranch(node, value, key);
    const additional = typeof branch?.additionalProperties === 'object' ? branch.additionalProperties : undefined;
    node = typeof key === 'number' ? branch?.items : (branch?.properties?.[String(key)] ?? additional);
    value = valueAt(value, [key]);
  }
  return node;
}

/** The branch of a union that `key` can step into; a plain node is its own only branch. */
function pickBranch(node: JsonSchema, value: unknown, key: PropertyKey): JsonSchema | undefined {
  const branches = node.anyOf ?? node.oneOf;
  if (!branches) return node;
  const fitting = branches.filter((b) =>
    typeof key === 'number' ? b.type === 'array' : b.properties !== undefined && String(key) in b.properties,
  );
  return fitting.find((b) => constantsMatch(b, value)) ?? fitting[0];
}

/** The object schema that applies to `value`: the node itself, or the branch of a discriminated union it selects. */
function objectBranch(node: JsonSchema | undefined, value: unknown): JsonSchema | undefined {
  if (node?.properties) return node;
  const objects = (node?.anyOf ?? node?.oneOf ?? []).filter((b) => b.properties);
  return objects.find((b) => constantsMatch(b, value)) ?? objects[0];
}

/** Whether the input has the branch's constant properties (e.g. name: "pgd"), as a discriminated union picks it. */
function constantsMatch(branch: JsonSchema, value: unknown): boolean {
  return Object.entries(branch.properties ?? {}).every(([k, p]) => p.const === undefined || valueAt(value, [k]) === p.const);
}

interface Phrase {
  singular: string;
  plural: string;
}

/** "a number > 0" / "numbers > 0", "a non-empty list of integers >= 0", "a number >= 0 or a list of them". */
function describe(node: JsonSchema): Phrase {
  if (node.const !== undefined) return same(JSON.stringify(node.const));
  if (node.enum) return same(node.enum.map((v) => JSON.stringify(v)).join(' or '));
  const branches = node.anyOf ?? node.oneOf;
  if (branches) return describeUnion(branches);
  switch (node.type) {
    case 'number':
    case 'integer': {
      const bounds = numberBounds(node);
      const [one, many] = node.type === 'integer' ? ['an integer', 'integers'] : ['a number', 'numbers'];
      return { singular: `${one}${bounds}`, plural: `${many}${bounds}` };
    }
    case 'string':
      return node.pattern
        ? { singular: `a string matching /${node.pattern}/`, plural: `strings matching /${node.pattern}/` }
        : { singular: 'a string', plural: 'strings' };
    case 'boolean':
      return { singular: 'true or false', plural: 'true/false values' };
    case 'array': {
      const items = node.items ? describe(node.items).plural : 'values';
      const min = node.minItems ?? 0;
      const list = min === 0 ? 'a list' : min === 1 ? 'a non-empty list' : `a list of at least ${min}`;
      return { singular: `${list} of ${items}`, plural: `lists of ${items}` };
    }
    case 'object': {
      const required = node.required ?? [];
      const keys = required.length > 0 ? ` with required keys: ${required.join(', ')}` : '';
      return { singular: `an object${keys}`, plural: `objects${keys}` };
    }
    default:
      return { singular: 'a value', plural: 'values' };
  }
}

function describeUnion(branches: JsonSchema[]): Phrase {
  const [first, second] = branches;
  // "eps: 0.1" or "eps: [0.1, 0.3]": a value or a list of the same kind of value.
  if (branches.length === 2 && first && second?.type === 'array' && second.items) {
    const one = describe(first).singular;
    if (describe(second.items).singular === one) return { singular: `${one} or a list of them`, plural: `${describe(first).plural} or lists of them` };
  }
  // A discriminated union of objects: name the discriminator and its values.
  const discriminator = first?.properties
    ? Object.keys(first.properties).find((k) => branches.every((b) => b.properties?.[k]?.const !== undefined))
    : undefined;
  if (discriminator) {
    const values = branches.map((b) => JSON.stringify(b.properties![discriminator]!.const)).join(' or ');
    return { singular: `an object with ${discriminator} ${values}`, plural: `objects with ${discriminator} ${values}` };
  }
  const phrases = branches.map(describe);
  return { singular: phrases.map((p) => p.singular).join(' or '), plural: phrases.map((p) => p.plural).join(' or ') };
}

function numberBounds(node: JsonSchema): string {
  const lower =
    node.exclusiveMinimum !== undefined ? ['>', node.exclusiveMinimum] : node.minimum !== undefined ? ['>=', node.minimum] : undefined;
  const maximum = node.maximum === Number.MAX_SAFE_INTEGER ? undefined : node.maximum;
  const upper =
    node.exclusiveMaximum !== undefined ? ['<', node.exclusiveMaximum] : maximum !== undefined ? ['<=', maximum] : undefined;
  if (lower?.[0] === '>=' && upper?.[0] === '<=') return ` between ${lower[1]} and ${upper[1]}`;
  if (lower && upper) return ` in ${lower[0] === '>=' ? '[' : '('}${lower[1]}, ${upper[1]}${upper[0] === '<=' ? ']' : ')'}`;
  return [lower, upper].map((b) => (b ? ` ${b[0]} ${b[1]}` : '')).join('');
}

function same(text: string): Phrase {
  return { singular: text, plural: text };
}
