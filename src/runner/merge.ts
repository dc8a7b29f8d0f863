// Merge: combine the record folders of shards (or of machines) into one, then rebuild the views from all records.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../types.js';
import { canonicalJson } from '../util/hash.js';
import { writeFileAtomic } from '../util/atomic.js';
import { plural } from '../util/text.js';
import { readRecords, recordPath, writeRecord } from './store.js';
import { writeReport, type ReportFiles } from '../report/index.js';

/** Two records of one run id whose results differ; the first one met was kept. */
export interface MergeConflict {
  runId: string;
  kept: string;
  rejected: string;
}

export interface MergeResult {
  outDir: string;
  copied: number;
  /** Records already present with the same results (timings, dates and versions may differ). */
  duplicates: number;
  conflicts: MergeConflict[];
  /** Whether `<out>/config.json` was written: only when every input has the same one. */
  configWritten: boolean;
  /** Record files of the inputs that could not be read, so were not merged. */
  unreadable: string[];
  /** Inputs with jobs still locked, config.json disagreements. */
  warnings: string[];
  /** Records in the output folder after the merge. */
  records: number;
  /** Every view rebuilt from the merged records. */
  report: ReportFiles;
}

/** An input that is not a results folder; the command line turns it into a usage error (exit 2). */
export class MergeInputError extends Error {
  override readonly name = 'MergeInputError';
}

/**
 * Copies every record of `inputs` into `<outDir>/runs/`. Records already in `outDir` come first, then the inputs
 * in order; for a run id met twice, the first record is kept and a later one with different results is a conflict.
 */
export async function mergeFolders(inputs: string[], outDir: string): Promise<MergeResult> {
  for (const input of inputs) checkInput(input);
  const warnings: string[] = [];
  const unreadable: string[] = [];
  const kept = new Map<string, { path: string; content: string }>();
  for (const record of readRecords(outDir).records) {
    kept.set(record.runId, { path: recordPath(outDir, record.runId), content: scientificContent(record) });
  }
  let copied = 0;
  let duplicates = 0;
  const conflicts: MergeConflict[] = [];
  for (const input of inputs) {
    const { records, problems } = readRecords(input);
    unreadable.push(...problems);
    const locks = lockFiles(input);
    if (locks.length > 0) {
      warnings.push(`${input}: ${plural(locks.length, 'job lock')} in runs/ (${locks.join(', ')}): those jobs were running or were killed; merge again once they finish`);
    }
    for (const record of records) {
      const path = recordPath(input, record.runId);
      const content = scientificContent(record);
      const first = kept.get(record.runId);
      if (!first) {
        writeRecord(outDir, record);
        kept.set(record.runId, { path, content });
        copied += 1;
      } else if (first.content === content) {
        duplicates += 1;
      } else {
        conflicts.push({ runId: record.runId, kept: first.path, rejected: path });
      }
    }
  }
  const configWritten = mergeConfig(inputs, outDir, warnings);
  const all = readRecords(outDir).records;
  const report = await writeReport(outDir, all);
  return { outDir, copied, duplicates, conflicts, configWritten, unreadable, warnings, records: all.length, report };
}

/** What a run found, without what only says how and when it ran (timings, dates, backend versions). */
export function scientificContent(record: RunRecord): string {
  return canonicalJson({
    status: record.status,
    cleanAccuracy: record.cleanAccuracy,
    attacks: record.attacks.map(({ wallSeconds: _wallSeconds, ...result }) => result),
    epochLosses: record.epochLosses,
  });
}

function checkInput(input: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(input).isDirectory();
  } catch {
    throw new MergeInputError(`${input}: expected a results folder (the --out of temper run), found no such file or folder`);
  }
  if (!isDirectory) throw new MergeInputError(`${input}: expected a results folder (the --out of temper run), found a file`);
  if (!existsSync(join(input, 'runs')) && !existsSync(join(input, 'config.json'))) {
    throw new MergeInputError(`${input}: expected a results folder with runs/ or config.json (the --out of temper run), found neither`);
  }
}

function lockFiles(input: string): string[] {
  try {
    return readdirSync(join(input, 'runs')).filter((name) => name.endsWith('.lock'));
  } catch {
    return [];
  }
}

// Shards of one sweep share its config.json; inputs that disagree (or lack one) get no merged config.json.
function mergeConfig(inputs: string[], outDir: string, warnings: string[]): boolean {
  const configs: Array<{ path: string; text: string; content: string }> = [];
  const missing: string[] = [];
  for (const input of inputs) {
    const path = join(input, 'config.json');
    if (!existsSync(path)) {
      missing.push(path);
      continue;
    }
    const text = readFileSync(path, 'utf8');
    configs.push({ path, text, content: canonicalOrText(text) });
  }
  if (missing.length > 0) {
    warnings.push(`wrote no config.json: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
    return false;
  }
  const [first] = configs;
  if (!first) return false;
  const different = configs.filter((config) => config.content !== first.content).map((config) => config.path);
  if (different.length > 0) {
    warnings.push(`wrote no config.json: ${different.join(', ')} differ${different.length === 1 ? 's' : ''} from ${first.path}`);
    return false;
  }
  writeFileAtomic(join(outDir, 'config.json'), first.text);
  return true;
}

// Key order and spacing do not make two configs different.
function canonicalOrText(text: string): string {
  try {
    return canonicalJson(JSON.parse(text));
  } catch {
    return text;
  }
}
