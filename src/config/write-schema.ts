// Writes schema/temper.schema.json (the published JSON Schema, for "$schema" editor completion) from configSchema.
// Run by `npm run build` as `node dist/src/config/write-schema.js`.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { configSchema } from './schema.js';
import { sweepableKeys } from './sweep.js';

export const SCHEMA_FILE = join('schema', 'temper.schema.json');

/** Registered names offered as completions; the loader, not the schema, is what rejects unknown ones. */
export interface SchemaNames {
  datasets: string[];
  architectures: string[];
}

/** The config's JSON Schema as users write it: keys with defaults are optional. */
export function buildJsonSchema(names?: SchemaNames): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, { io: 'input' });
  // The keys a sweep takes, for completion; the loader, not the schema, explains a wrong one.
  const sweep = (rest['properties'] as Record<string, Record<string, unknown>>)['sweep']!;
  sweep['propertyNames'] = { ...(sweep['propertyNames'] as object), enum: sweepableKeys() };
  if (names) {
    const properties = rest['properties'] as Record<string, { items?: Record<string, unknown> }>;
    properties['datasets']!.items = { ...properties['datasets']!.items, enum: names.datasets };
    properties['architectures']!.items = { ...properties['architectures']!.items, enum: names.architectures };
  }
  return {
    $schema,
    $id: 'urn:temper:config-schema',
    title: 'temper experiment config',
    description:
      'A softmax-temperature sweep: datasets x architectures x sweep combinations x temperatures x seeds, each trained model evaluated under every attack.',
    ...rest,
  };
}

/** Writes the schema to `file` (atomically) unless it already holds exactly this content; returns whether it wrote. */
export function writeJsonSchema(file: string, names?: SchemaNames): boolean {
  const text = `${JSON.stringify(buildJsonSchema(names), null, 2)}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  writeFileAtomic(file, text);
  return true;
}

/** The nearest folder above `start` holding a package.json: the project root, wherever the compiled file lives. */
export function projectRoot(start = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json found above ${start}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = join(projectRoot(), SCHEMA_FILE);
  const { registeredNames } = await import('../cli/names.js');
  console.log(writeJsonSchema(file, registeredNames()) ? `wrote ${file}` : `${file} is up to date`);
}
