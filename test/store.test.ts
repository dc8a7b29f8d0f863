import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { finishedRunIds, readRecords, recordPath, writeRecord } from '../src/runner/store.js';
import type { RunRecord } from '../src/types.js';
import { record as fixture } from './fixtures.js';
import { writeFileAtomic } from '../src/util/atomic.js';

function outDir(): string {
  return mkdtempSync(join(tmpdir(), 'temper-store-'));
}

function record(runId: string, index: number, status: RunRecord['status'] = 'ok'): RunRecord {
  const base = fixture(status === 'ok' ? { accuracies: [0.98] } : { failureReason: 'loss became NaN at epoch 2, step 17' });
  return { ...base, runId, job: { ...base.job, runId, index } };
}

test('a record is written atomically and read back equal', () => {
  const dir = outDir();
  const written = record('abc123', 0);
  writeRecord(dir, written);
  assert.equal(recordPath(dir, 'abc123'), join(dir, 'runs', 'abc123.json'));
  assert.deepEqual(readdirSync(join(dir, 'runs')), ['abc123.json'], 'no temp file is left behind');
  assert.match(readFileSync(recordPath(dir, 'abc123'), 'utf8'), /^\{\n {2}"runId": "abc123",[\s\S]*\}\n$/);
  assert.deepEqual(readRecords(dir), { records: [written], problems: [] });
});

test('a rewritten record replaces the old one', () => {
  const dir = outDir();
  writeRecord(dir, record('abc123', 0, 'failed'));
  writeRecord(dir, record('abc123', 0, 'ok'));
  assert.deepEqual(
    readRecords(dir).records.map((r) => r.status),
    ['ok'],
  );
});

test('records come back sorted by grid index, then run id', () => {
  const dir = outDir();
  for (const [runId, index] of [['c', 2], ['b', 0], ['a', 1], ['a0', 0]] as const) writeRecord(dir, record(runId, index));
  assert.deepEqual(
    readRecords(dir).records.map((r) => r.runId),
    ['a0', 'b', 'a', 'c'],
  );
});

test('a corrupt record is reported, not fatal', () => {
  const dir = outDir();
  writeRecord(dir, record('good', 0));
  writeFileSync(join(dir, 'runs', 'truncated.json'), '{ "runId": "trunc');
  writeFileSync(join(dir, 'runs', 'wrong-shape.json'), '{ "runId": "x", "status": "running" }');
  const { records, problems } = readRecords(dir);
  assert.deepEqual(
    records.map((r) => r.runId),
    ['good'],
  );
  assert.equal(problems.length, 2);
  assert.ok(problems[0].startsWith(join(dir, 'runs', 'truncated.json')), problems[0]);
  assert.match(problems[1], /wrong-shape\.json: expected "status" to be "ok" or "failed", found "running"/);
});

test('temp files are ignored', () => {
  const dir = outDir();
  writeRecord(dir, record('good', 0));
  writeFileSync(join(dir, 'runs', '.good.json.4242.deadbeef.tmp'), '{ half a rec');
  writeFileSync(join(dir, 'runs', 'notes.txt'), 'not a record');
  assert.deepEqual(readRecords(dir), { records: [record('good', 0)], problems: [] });
});

test('an output folder without runs/ has no records', () => {
  assert.deepEqual(readRecords(join(outDir(), 'never-written')), { records: [], problems: [] });
});

test('ok and failed runs both count as finished', () => {
  const dir = outDir();
  writeRecord(dir, record('ok-run', 0, 'ok'));
  writeRecord(dir, record('failed-run', 1, 'failed'));
  assert.deepEqual(finishedRunIds(dir), new Set(['ok-run', 'failed-run']));
});

test('a run id that is not a plain file name is refused', () => {
  assert.throws(() => recordPath(outDir(), '../escape'), /not a safe file name/);
});

test('writeFileAtomic creates missing folders and replaces the target', () => {
  const path = join(outDir(), 'a', 'b', 'file.txt');
  writeFileAtomic(path, 'first');
  writeFileAtomic(path, new TextEncoder().encode('second'));
  assert.equal(readFileSync(path, 'utf8'), 'second');
  assert.deepEqual(readdirSync(join(path, '..')), ['file.txt']);
});

test('writeFileAtomic leaves no temp file when the write fails', () => {
  const dir = outDir();
  const target = join(dir, 'occupied');
  mkdirSync(join(target, 'child'), { recursive: true });
  assert.throws(() => writeFileAtomic(target, 'data'));
  assert.deepEqual(readdirSync(dir), ['occupied']);
  assert.ok(existsSync(join(target, 'child')));
});
