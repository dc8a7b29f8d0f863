import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { smallConfig, tempDir, temperCli, wasmBackend, writeConfigFile } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { parseShard, resolveShard, selectShard, shardFromEnv, ShardError } from '../src/runner/shard.js';
import { runSweep } from '../src/runner/sweep.js';
import { mergeFolders } from '../src/runner/merge.js';
import { recordPath } from '../src/runner/store.js';
import { QuietProgress } from '../src/runner/progress.js';
import { RUNS_CSV_COLUMNS } from '../src/report/index.js';
import type { RunRecord } from '../src/types.js';


// Rows of runs.csv without the timing columns, sorted: what two equal sweeps must share.
function resultRows(path: string): string[] {
  const timing = new Set(['train_seconds', 'eval_seconds'].map((name) => RUNS_CSV_COLUMNS.indexOf(name as (typeof RUNS_CSV_COLUMNS)[number])));
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  assert.equal(header, RUNS_CSV_COLUMNS.join(','));
  return rows.map((row) => row.split(',').filter((_, i) => !timing.has(i)).join(',')).sort();
}

describe('shards', () => {
  it('the shards of a grid cover every job exactly once', () => {
    const grid = expandGrid(smallConfig({ temperatures: [0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89] }));
    assert.equal(grid.length, 11);
    for (let count = 1; count <= 7; count++) {
      const slices = Array.from({ length: count }, (_, i) => selectShard(grid, parseShard(`${i + 1}/${count}`)));
      const ids = slices.flat().map((job) => job.runId);
      assert.equal(ids.length, grid.length, `N=${count}: ${ids.length} jobs in all shards`);
      assert.deepEqual(new Set(ids), new Set(grid.map((job) => job.runId)), `N=${count}: every job in some shard`);
      for (const [i, slice] of slices.entries()) {
        assert.ok(slice.every((job) => job.index % count === i), `N=${count}: shard ${i + 1} is round-robin`);
        assert.ok(slice.length >= Math.floor(11 / count) && slice.length <= Math.ceil(11 / count), 'shards differ by one job at most');
      }
    }
  });

  it('a shard is the same slice every time the config is expanded', () => {
    const config = smallConfig({ temperatures: [1, 2, 3, 4, 5], seeds: [0, 1] });
    const shard = parseShard('2/3');
    assert.deepEqual(
      selectShard(expandGrid(config), shard).map((job) => job.runId),
      selectShard(expandGrid(structuredClone(config)), shard).map((job) => job.runId),
    );
  });

  it('--shard I/N is 1-based; bad values say what was expected and what was found', () => {
    assert.deepEqual(parseShard('1/3'), { index: 1, count: 3, source: '--shard 1/3' });
    assert.deepEqual(parseShard('3/3'), { index: 3, count: 3, source: '--shard 3/3' });
    assert.throws(() => parseShard('0/3'), /expected a shard index from 1 to 3 .*found 0/);
    assert.throws(() => parseShard('4/3'), /expected a shard index from 1 to 3 .*found 4/);
    assert.throws(() => parseShard('x/2'), /expected I\/N with whole numbers 1 <= I <= N .*found "x\/2"/);
    assert.throws(() => parseShard('1/0'), /expected a shard count N >= 1, found 0/);
    assert.throws(() => parseShard('1.5/3'), ShardError);
  });

  it('Slurm job arrays give the shard, counting from SLURM_ARRAY_TASK_MIN', () => {
    const slurm = { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' };
    assert.deepEqual(shardFromEnv(slurm), { index: 1, count: 3, source: 'SLURM_ARRAY_TASK_ID=1 (MIN 1, COUNT 3)' });
    assert.equal(shardFromEnv({ ...slurm, SLURM_ARRAY_TASK_ID: '3' })?.index, 3);
    assert.equal(shardFromEnv({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4' })?.index, 1, 'MIN defaults to 0');
    assert.equal(shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_STEP: '2' })?.index, 3, '--array=0-4:2');
    assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '2' }), /SLURM_ARRAY_TASK_COUNT is not set/);
    assert.throws(() => shardFromEnv({ ...slurm, SLURM_ARRAY_TASK_ID: '4' }), /expected an id from 1 to 3, found 4/);
    assert.throws(() => shardFromEnv({ ...slurm, SLURM_ARRAY_TASK_COUNT: 'many' }), /SLURM_ARRAY_TASK_COUNT: expected a whole number >= 1, found "many"/);
    assert.throws(() => shardFromEnv(slurm, '4'), /--shards 4 disagrees with SLURM_ARRAY_TASK_COUNT=3/);
  });

  it('Kubernetes indexed Jobs give a 0-based JOB_COMPLETION_INDEX, with --shards N', () => {
    assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '0' }, '4'), { index: 1, count: 4, source: 'JOB_COMPLETION_INDEX=0 of --shards 4' });
    assert.equal(shardFromEnv({ JOB_COMPLETION_INDEX: '3' }, '4')?.index, 4);
    assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '2' }), /--shards is missing/);
    assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '4' }, '4'), /expected an index from 0 to 3 \(0-based\), found 4/);
    assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '1' }, '0'), /--shards: expected a whole number >= 1, found "0"/);
  });

  it('no shard outside a cluster; --shard wins over the environment; --shards alone is an error', () => {
    assert.equal(shardFromEnv({}), undefined);
    assert.equal(resolveShard(undefined, undefined, {}), undefined);
    assert.equal(resolveShard('2/5', undefined, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' })?.count, 5);
    assert.throws(() => resolveShard('2/5', '4', {}), /--shards 4 disagrees with --shard 2\/5/);
    assert.throws(() => shardFromEnv({}, '3'), /expected JOB_COMPLETION_INDEX in the environment/);
  });
});

describe('sharded runs', () => {
  before(wasmBackend);
  const config = smallConfig({ name: 'sharded', temperatures: [1, 2, 5, 10, 30], training: { epochs: 1, batchSize: 64 }, eval: { samples: 64, batchSize: 64 } });

  it('merging the shards of a sweep gives the same runs.csv rows as running it unsharded', async () => {
    const whole = tempDir();
    await runSweep(config, { outDir: whole, backend: 'wasm', progress: new QuietProgress() });
    const shards = [1, 2, 3].map(() => tempDir());
    for (const [i, outDir] of shards.entries()) {
      const result = await runSweep(config, { outDir, backend: 'wasm', shard: parseShard(`${i + 1}/3`), progress: new QuietProgress() });
      assert.equal(result.total, i < 2 ? 2 : 1, `shard ${i + 1} of 5 jobs`);
    }
    const merged = join(tempDir(), 'merged');
    const result = await mergeFolders(shards, merged);
    assert.deepEqual({ copied: result.copied, duplicates: result.duplicates, conflicts: result.conflicts }, { copied: 5, duplicates: 0, conflicts: [] });
    assert.equal(result.configWritten, true);
    assert.deepEqual(JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(whole, 'config.json'), 'utf8')));
    assert.deepEqual(resultRows(join(merged, 'runs.csv')), resultRows(join(whole, 'runs.csv')));
    assert.equal(resultRows(join(merged, 'runs.csv')).length, 5 * 2);

    const again = await mergeFolders([...shards, whole], merged);
    assert.deepEqual({ copied: again.copied, duplicates: again.duplicates, conflicts: again.conflicts }, { copied: 0, duplicates: 10, conflicts: [] }, 'records that differ only in timings are duplicates');
  });

  it('a conflicting record is reported with both paths and not overwritten', async () => {
    const first = tempDir();
    const second = tempDir();
    const result = await runSweep(config, { outDir: first, backend: 'wasm', shard: parseShard('1/3'), progress: new QuietProgress() });
    await runSweep(config, { outDir: second, backend: 'wasm', shard: parseShard('1/3'), progress: new QuietProgress() });
    const runId = result.records[0]!.runId;
    const changed: RunRecord = JSON.parse(readFileSync(recordPath(second, runId), 'utf8'));
    changed.cleanAccuracy = 0.123;
    writeFileSync(recordPath(second, runId), JSON.stringify(changed));
    writeFileSync(join(second, 'config.json'), JSON.stringify({ ...config, name: 'other' }));

    const merged = join(tempDir(), 'merged');
    const merge = await mergeFolders([first, second], merged);
    assert.deepEqual(merge.conflicts, [{ runId, kept: recordPath(first, runId), rejected: recordPath(second, runId) }]);
    assert.equal(merge.copied, 2);
    assert.equal(merge.duplicates, 1);
    assert.equal(JSON.parse(readFileSync(recordPath(merged, runId), 'utf8')).cleanAccuracy, result.records[0]!.cleanAccuracy);
    assert.equal(merge.configWritten, false);
    assert.equal(existsSync(join(merged, 'config.json')), false);
    assert.match(merge.warnings.join('\n'), /wrote no config\.json: .*config\.json differs from /);
  });
});

describe('temper run --shard', () => {
  const tiny = { name: 'cli-shard', datasets: ['synthetic'], architectures: ['mlp'], temperatures: [1, 2, 3], training: { epochs: 1, batchSize: 64 }, attacks: [], eval: { samples: 64 } };

  it('bad shards are usage errors that write nothing', () => {
    const path = writeConfigFile(tiny);
    const out = join(tempDir(), 'out');
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--shard', '0/3'], {}, /--shard 0\/3: expected a shard index from 1 to 3 \(shards are numbered from 1\), found 0/],
      [['--shard', '4/3'], {}, /found 4/],
      [['--shard', 'x/2'], {}, /expected I\/N .*found "x\/2"/],
      [[], { SLURM_ARRAY_TASK_ID: '1' }, /SLURM_ARRAY_TASK_COUNT is not set/],
      [[], { JOB_COMPLETION_INDEX: '1' }, /--shards is missing/],
      [[], { TEMPER_LOCK_STALE_SECONDS: 'soon' }, /TEMPER_LOCK_STALE_SECONDS: expected a number of seconds > 0, found "soon"/],
    ];
    for (const [flags, env, message] of cases) {
      const result = temperCli(['run', path, '--out', out, '--backend', 'wasm', ...flags], env);
      assert.equal(result.status, 2, `${flags.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(existsSync(out), false, 'nothing written');
    }
  });

  it('prints the shard and where it came from, and --json carries it', () => {
    const path = writeConfigFile(tiny);
    const out = join(tempDir(), 'out');
    const fromEnv = temperCli(['run', path, '--out', out, '--backend', 'wasm'], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '2', SLURM_ARRAY_TASK_MIN: '1' });
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
    assert.match(fromEnv.stderr, /shard 2\/2 \(from SLURM_ARRAY_TASK_ID=2 \(MIN 1, COUNT 2\)\): 1 of 3 jobs/);
    const json = temperCli(['run', path, '--out', join(tempDir(), 'out'), '--backend', 'wasm', '--shard', '1/2', '--json']);
    assert.equal(json.status, 0, json.stderr);
    const summary = JSON.parse(json.stdout);
    assert.deepEqual(summary.shard, { index: 1, count: 2, source: '--shard 1/2' });
    assert.deepEqual([summary.total, summary.ran, summary.runningElsewhere], [2, 2, []]);
  });
});
