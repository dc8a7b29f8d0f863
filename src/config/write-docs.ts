// Writes docs/config.md, the config reference, from the same JSON Schema that validates configs, so the two cannot
// drift. Run by `npm run build` as `node dist/src/config/write-docs.js`; a test checks the committed file is current.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { markdownTable } from 'markdown-table';
import { writeFileAtomic } from '../util/atomic.js';
import { buildJsonSchema, projectRoot, type SchemaNames } from './write-schema.js';
import type { JsonSchema } from './keys.js';

export const CONFIG_DOC_FILE = join('docs', 'config.md');

type Node = JsonSchema;

const code = (value: unknown) => `\`${JSON.stringify(value)}\``;

/** A short human type: `number > 0`, `"adam" \| "sgd"`, `list of integer`, `number or list of number`. */
export function typeOf(node: Node): string {
  if (node.const !== undefined) return code(node.const);
  if (node.enum) return node.enum.map(code).join(' or ');
  const variants = node.anyOf ?? node.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'values'}`;
  const base = node.type ?? 'value';
  const bounds: string[] = [];
  if (node.exclusiveMinimum !== undefined) bounds.push(`> ${node.exclusiveMinimum}`);
  else if (node.minimum !== undefined && !(base === 'integer' && node.minimum === 0)) bounds.push(`>= ${node.minimum}`);
  else if (base === 'integer' && node.minimum === 0) bounds.push('>= 0');
  if (node.exclusiveMaximum !== undefined) bounds.push(`< ${node.exclusiveMaximum}`);
  // zod writes Number.MAX_SAFE_INTEGER as every integer's maximum: no bound a reader needs.
  if (node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER) bounds.push(`<= ${node.maximum}`);
  return [base, bounds.join(', ')].filter(Boolean).join(' ');
}

function defaultOf(node: Node, required: boolean): string {
  if (required) return 'required';
  if (node.default === undefined) return '—';
  // An object's default is the defaults of its keys, listed in their own rows.
  if (typeof node.default === 'object' && node.default !== null && !Array.isArray(node.default)) return 'see its keys';
  return code(node.default);
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One row per leaf (and per object, for its description), keys written as dotted paths. */
function rows(node: Node, prefix: string, skip: Set<string>, out: string[][]): string[][] {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (skip.has(path)) continue;
    out.push([`\`${path}\``, cell(typeOf(child)), cell(defaultOf(child, required.has(key))), cell(child.description ?? '')]);
    const object = child.properties ? child : (child.anyOf ?? child.oneOf ?? []).find((variant) => variant.properties);
    if (object?.properties) rows(object, path, skip, out);
  }
  return out;
}

const HEADER = ['key', 'type', 'default', 'meaning'];
const table = (body: string[][]) => markdownTable([HEADER, ...body], { alignDelimiters: false });

/** The variants of the `attacks` list, each an object whose `name` is a constant. */
function attackVariants(schema: Node): Node[] {
  const items = schema.properties?.['attacks']?.items;
  return items?.oneOf ?? items?.anyOf ?? [];
}

export function renderConfigDoc(names?: SchemaNames): string {
  const schema = buildJsonSchema(names) as Node;
  const lines = [
    '<!-- Generated from the config schema by src/config/write-docs.ts (npm run build): do not edit by hand. -->',
    '# Config reference',
    '',
    'A config is JSON with comments (`.json`, `.jsonc`) or YAML (`.yaml`, `.yml`). It is validated against one schema;',
    '`schema/temper.schema.json` is generated from it, so `"$schema": "../schema/temper.schema.json"` gives completion and',
    'checking in editors. Unknown keys are errors. Errors name the file, the JSON path, what was expected and what was',
    'found, and `temper validate` lists every error at once (exit 2). `--set key=value` on the command line sets any key',
    'below (values are YAML: `--set temperatures=[1,5]`, `--set \'attacks[1].steps=100\'`).',
    '',
    'The grid is datasets x architectures x temperatures x seeds; every attack is evaluated on every trained model.',
    'Inputs are in [0, 1]; every `eps` and `stepSize` is in those pixel units.',
    '',
    '`sweep` adds axes: any setting under `training`, `data` or `eval` that holds a value, by its key path, with the',
    'values to try (`"sweep": {"training.labelSmoothing": [0, 0.1], "training.adversarial.eps": [0.1, 0.3]}` is 4',
    'combinations). Jobs run dataset, architecture, sweep combination (first key outermost), temperature, seed. A sweep',
    'value replaces the setting written elsewhere in the config, which may be absent (the sweep above needs no',
    '`training.adversarial` block; its other keys take their defaults). Each value is checked like the setting itself',
    '(`sweep["training.labelSmoothing"][1]: expected a number in [0, 1), found "x"`) and every combination as a whole',
    'config. On the command line everything after `sweep.` is the key: `--set \'sweep.training.labelSmoothing=[0,0.1]\'`.',
    '',
    '## Keys',
    '',
    table(rows(schema, '', new Set(['$schema', 'attacks']), [])),
    '',
    '## Attacks',
    '',
    'Each entry of `attacks` is one of the following, chosen by `name`. See [attacks.md](attacks.md) for what each',
    'measures, the losses, and how columns are labelled.',
    '',
  ];
  for (const variant of attackVariants(schema)) {
    const name = variant.properties?.['name']?.const ?? variant.properties?.['name']?.enum?.[0];
    lines.push(`### \`${String(name)}\``, '', variant.description ?? '', '');
    lines.push(table(rows(variant, '', new Set(['name']), [])), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Writes the reference to `file` unless it already holds exactly this content; returns whether it wrote. */
export function writeConfigDoc(file: string, names?: SchemaNames): boolean {
  const text = renderConfigDoc(names);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileAtomic(file, text);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = join(projectRoot(), CONFIG_DOC_FILE);
  const { registeredNames } = await import('../cli/names.js');
  console.log(writeConfigDoc(file, registeredNames()) ? `wrote ${file}` : `${file} is up to date`);
}
