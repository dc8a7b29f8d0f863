import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { smallConfig, tempDir, temperCli, wasmBackend } from './helpers.js';
import { expandGrid } from '../src/config/grid.js';
import { claimLock, lockPath, releaseLock, type HeldLock } from '../src/runner/lock.js';
import { runSweep } from '../src/runner/sweep.js';
import { sweepStatus } from '../src/runner/status.js';
import { QuietProgress } from '../src/runner/progress.js';

describe('temper status', () => {
  const parts = { name: 'status', training: { epochs: 1, batchSize: 64 }, eval: { samples: 64, batchSize: 64 } };
  const config = smallConfig({ ...parts, temperatures: [1, 1e-45, 2, 3] });
  const [, , running, stale] = expandGrid(config);
  const outDir = tempDir();
  let held: HeldLock;

  // T=1 done, T=1e-45 failed (NaN), T=2 locked by this live process, T=3 locked by a process that has exited.
  before(async () => {
    await wasmBackend();
    await runSweep(smallConfig({ ...parts, temperatures: [1, 1e-45] }), { outDir, backend: 'wasm', progress: new QuietProgress() });
    writeFileSync(join(outDir, 'config.json'), JSON.stringify(config, null, 2));
    const claim = claimLock(outDir, running!.runId, { staleSeconds: 3600 });
    assert.ok(claim.claimed);
    held = claim.lock;
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(lockPath(outDir, stale!.runId), JSON.stringify({ pid: deadPid, hostname: hostname(), startedAt: new Date().toISOString() }));
  });

  after(() => releaseLock(held));

  it('counts done, failed, running (a live lock) and pending jobs; a record wins over a lock', () => {
    const status = sweepStatus(outDir, config, { staleSeconds: 3600 });
    assert.deepEqual(status.counts, { done: 1, failed: 1, running: 1, pending: 1 });
    assert.deepEqual(status.jobs.map((job) => job.state), ['done', 'failed', 'running', 'pending']);
    assert.match(status.jobs[1]!.failureReason!, /NaN/);
    assert.equal(status.jobs[2]!.holder?.pid, process.pid);
    assert.equal(status.jobs[3]!.staleLock, true);
    assert.equal(status.otherRecords, 0);
  });

  it('prints the counts and a line per job not done, or JSON with --json; --shard narrows it to a shard', () => {
    const text = temperCli(['status', outDir]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /4 jobs: 1 done, 1 failed, 1 running, 1 pending/);
    assert.match(text.stdout, /failed +synthetic mlp T=1e-45 seed=0 \(run \w+\): training loss became NaN/);
    assert.match(text.stdout, new RegExp(`running +synthetic mlp T=2 seed=0 \\(run \\w+\\): pid ${process.pid} on `));
    assert.match(text.stdout, /pending +synthetic mlp T=3 seed=0 \(run \w+\): stale lock/);
    assert.doesNotMatch(text.stdout, /T=1 seed/);

    const json = temperCli(['status', outDir, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const summary = JSON.parse(json.stdout);
    assert.deepEqual([summary.total, summary.done, summary.failed, summary.running, summary.pending], [4, 1, 1, 1, 1]);
    assert.equal(summary.jobs[2].runId, running!.runId);

    const shard = JSON.parse(temperCli(['status', outDir, '--shard', '2/2', '--json']).stdout);
    assert.deepEqual([shard.total, shard.done, shard.failed, shard.running, shard.pending], [2, 0, 1, 0, 1], 'jobs 1 and 3 of the grid');
  });

  it('a folder without config.json is a usage error', () => {
    const result = temperCli(['status', tempDir()]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /expected a results folder with the config\.json every temper run writes/);
  });
});
