// The record store of an output folder: one JSON file per finished run under runs/, the source of every view.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';

const RUNS_DIR = 'runs';

export function recordPath(outDir: string, runId: string): string {
  // runId becomes a file name, so anything that could climb out of runs/ is a bug upstream.
  if (!/^[A-Za-z0-9._-]+$/.test(runId) || runId.startsWith('.')) {
    throw new Error(`run id ${JSON.stringify(runId)} is not a safe file name (expected letters, digits, ".", "_" or "-")`);
  }
  return join(outDir, RUNS_DIR, `${runId}.json`);
}

export function writeRecord(outDir: string, record: RunRecord): void {
  writeFileAtomic(recordPath(outDir, record.runId), `${JSON.stringify(record, null, 2)}\n`);
}

/** Every record under `<outDir>/runs/`, sorted by grid index then run id; unreadable files land in `problems`. */
export function readRecords(outDir: string): { records: RunRecord[]; problems: string[] } {
  const dir = join(outDir, RUNS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], problems: [] };
    throw error;
  }
  const records: RunRecord[] = [];
  const problems: string[] = [];
  // Temp files of writeFileAtomic start with "." and end with ".tmp"; a crash can leave them behind.
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    const path = join(dir, name);
    try {
      const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
      const problem = recordShapeProblem(value);
      if (problem) problems.push(`${path}: ${problem}`);
      else records.push(value as RunRecord);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
    }
  }
  records.sort((a, b) => a.job.index - b.job.index || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  return { records, problems };
}

/** Run ids that need no rerun: a failed run is finished too (retrying it is the runner's choice). */
export function finishedRunIds(outDir: string): Set<string> {
  return new Set(readRecords(outDir).records.map((record) => record.runId));
}

// Checks only what sorting and the views rely on, so a hand-edited or truncated file is named, not fatal later.
function recordShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'expected a JSON object (a run record)';
  const record = value as Partial<RunRecord>;
  if (typeof record.runId !== 'string') return 'expected "runId" to be a string';
  if (record.status !== 'ok' && record.status !== 'failed') {
    return `expected "status" to be "ok" or "failed", found ${JSON.stringify(record.status)}`;
  }
  if (typeof record.job !== 'object' || record.job === null || typeof record.job.index !== 'number') {
    return 'expected "job.index" to be a number';
  }
  if (!Array.isArray(record.attacks)) return 'expected "attacks" to be a list';
  return undefined;
}
