// Every key path a config can hold, read from the schema: what `--epochs 1` or `--set epochs=1` most likely meant.
import { z } from 'zod';
import { configSchema } from './schema.js';

/** One step of a key path: a key, or an index into a list. */
export type PathSegment = string | number;

export interface ConfigKey {
  /** e.g. `['training', 'epochs']`; an entry of a list is index 0, the first one (`attacks[0].steps`). */
  path: PathSegment[];
  /** Whether the value there must be a list (`temperatures`)... */
  list: boolean;
  /** ...or may be one (`eps`: a number or a list of them). */
  listable: boolean;
}

/** The parts of a JSON Schema node walked here. */
export interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
}

/** The parts of a generated JSON Schema node that error messages and the config reference read. */
export interface JsonSchema extends JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  pattern?: string;
  /** The schema of every key of a record (`sweep`). */
  additionalProperties?: JsonSchema | boolean;
}

const keysOf = new WeakMap<JsonSchemaNode, ConfigKey[]>();

/** Every key under a JSON Schema, paths outside lists before those inside, then shortest first. */
export function schemaKeys(root: JsonSchemaNode): ConfigKey[] {
  let keys = keysOf.get(root);
  if (!keys) {
    const found = new Map<string, ConfigKey>();
    walk(root, [], found);
    const inList = (key: ConfigKey) => (key.path.some((segment) => typeof segment === 'number') ? 1 : 0);
    keys = [...found.values()].filter((key) => key.path[0] !== '$schema').sort((a, b) => inList(a) - inList(b) || a.path.length - b.path.length);
    keysOf.set(root, keys);
  }
  return keys;
}

let configRoot: JsonSchemaNode | undefined;

/** Every key of the config schema. */
export function configKeys(): ConfigKey[] {
  configRoot ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  return schemaKeys(configRoot);
}

function walk(node: JsonSchemaNode, path: PathSegment[], found: Map<string, ConfigKey>): void {
  for (const branch of node.anyOf ?? node.oneOf ?? []) walk(branch, path, found);
  if (node.type === 'array' && node.items) walk(node.items, [...path, 0], found);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const childPath = [...path, name];
    const id = JSON.stringify(childPath);
    const list = child.type === 'array';
    const listable = list || (child.anyOf ?? child.oneOf ?? []).some((branch) => branch.type === 'array');
    if (!found.has(id)) found.set(id, { path: childPath, list, listable });
    else found.get(id)!.listable ||= listable;
    walk(child, childPath, found);
  }
}

/**
 * The keys a loosely written name most likely means: `epoch`, `epochs` and `Epochs` all find `training.epochs`;
 * `batch-size` finds `training.batchSize` and `eval.batchSize`; `lr` finds `training.optimizer.lr`. Keys spelt the
 * same up to case, dashes and a plural "s" count, else keys starting with the name (a guess further off would
 * mislead); of several, only the shallowest are kept.
 */
export function keysNamed(name: string, keys: readonly ConfigKey[] = configKeys()): ConfigKey[] {
  const wanted = normalise(SYNONYMS[normalise(name)] ?? name);
  if (wanted === '') return [];
  const named = (match: (last: string) => boolean) =>
    keys.filter((key) => {
      const last = key.path.at(-1);
      return typeof last === 'string' && match(normalise(last));
    });
  const exact = named((last) => last === wanted);
  // `batch` for batchSize, `warmup` for warmupEpochs: a start long enough not to be a coincidence.
  const found = exact.length > 0 || wanted.length < 4 ? exact : named((last) => last.startsWith(wanted));
  // The shallowest keys are the likely ones: `temperature` is the sweep's `temperatures`, not a transfer source's.
  const depth = Math.min(...found.map((key) => key.path.length));
  return found.filter((key) => key.path.length === depth);
}

/** "1,5" or "1 5" as the YAML list `[1,5]` (a value already in brackets stays as it is). */
export function listText(value: string): string {
  const text = value.trim();
  return text.startsWith('[') ? text : `[${text.split(/[\s,]+/).filter(Boolean).join(',')}]`;
}

/** Whether the key at `path` (list indices as any number) must hold a list. */
export function takesList(path: readonly PathSegment[]): boolean {
  const same = (key: ConfigKey) => key.path.length === path.length && key.path.every((k, i) => (typeof k === 'number' ? typeof path[i] === 'number' : k === path[i]));
  return configKeys().find(same)?.list ?? false;
}

/** Names people reach for that the schema spells otherwise. */
const SYNONYMS: Record<string, string> = { learningrate: 'lr' };

function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '').replace(/s$/, '');
}
