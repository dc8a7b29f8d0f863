import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { smallConfig, tempDir, temperCli, wasmBackend } from './helpers.js';
import { runSweep } from '../src/runner/sweep.js';
import { parseShard } from '../src/runner/shard.js';
import { readRecords, recordPath, writeRecord } from '../src/runner/store.js';
import { QuietProgress } from '../src/runner/progress.js';

describe('temper merge', () => {
  const config = smallConfig({ name: 'merge', temperatures: [1, 2, 5], training: { epochs: 1, batchSize: 64 }, eval: { samples: 64, batchSize: 64 } });
  const shards = [tempDir(), tempDir()];

  before(async () => {
    await wasmBackend();
    for (const [i, outDir] of shards.entries()) {
      await runSweep(config, { outDir, backend: 'wasm', shard: parseShard(`${i + 1}/2`), progress: new QuietProgress() });
    }
  });

  it('combines shard folders into --out, with config.json, runs.csv and tables', () => {
    const out = join(tempDir(), 'merged');
    const result = temperCli(['merge', ...shards, '--out', out, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepEqual([summary.copied, summary.duplicates, summary.conflicts, summary.records, summary.configWritten], [3, 0, [], 3, true]);
    assert.equal(readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n').length, 1 + 3 * 2);
    assert.ok(existsSync(join(out, 'tables', 'synthetic__mlp.csv')));
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(shards[0]!, 'config.json'), 'utf8')));

    const again = temperCli(['merge', ...shards, '--out', out]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /0 records copied, 3 duplicates skipped, 0 conflicts/);
  });

  it('a conflicting record is reported with both paths, not copied, and exits 1 after merging the rest', () => {
    const [first] = readRecords(shards[0]!).records;
    const other = tempDir();
    writeFileSync(join(other, 'config.json'), readFileSync(join(shards[0]!, 'config.json')));
    writeRecord(other, { ...first!, cleanAccuracy: first!.cleanAccuracy! / 2 });
    const out = join(tempDir(), 'merged');
    const result = temperCli(['merge', shards[0]!, other, shards[1]!, '--out', out]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /conflicting records \(same run id, different results\)/);
    assert.ok(result.stderr.includes(`${first!.runId}: kept ${recordPath(shards[0]!, first!.runId)}; not copied ${recordPath(other, first!.runId)}`), result.stderr);
    assert.equal(JSON.parse(readFileSync(recordPath(out, first!.runId), 'utf8')).cleanAccuracy, first!.cleanAccuracy);
    assert.equal(readRecords(out).records.length, 3, 'the other records were merged');
    assert.equal(readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n').length, 1 + 3 * 2);
  });

  it('a missing input folder is a usage error and nothing is written', () => {
    const out = join(tempDir(), 'merged');
    const result = temperCli(['merge', shards[0]!, join(tempDir(), 'nope'), '--out', out]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /nope: expected a results folder \(the --out of temper run\), found no such file or folder/);
    assert.equal(existsSync(out), false);
  });
});
