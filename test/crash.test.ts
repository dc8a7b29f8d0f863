import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEnv, filesUnder, repoRoot, smallConfig, tempDir, temperCli, wasmBackend, writeConfigFile } from './helpers.js';
import { claimLock, lockPath, lockStaleSeconds, releaseLock, removeOrphanTempFiles } from '../src/runner/lock.js';
import { runSweep } from '../src/runner/sweep.js';
import { recordPath } from '../src/runner/store.js';
import { QuietProgress } from '../src/runner/progress.js';
import { expandGrid } from '../src/config/grid.js';
import { rng } from '../src/util/rng.js';

const HOUR = 3600;
const locks = { staleSeconds: HOUR };

// A pid that no process has any more: a child that has already exited.
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

function writeLock(outDir: string, runId: string, holder: { pid: number; hostname: string; startedAt: string }): string {
  const path = lockPath(outDir, runId);
  writeFileSync(path, JSON.stringify(holder));
  return path;
}

function startTemper(args: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'temper.js'), ...args], { cwd: repoRoot, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited };
}

const recordFiles = (outDir: string) => (existsSync(join(outDir, 'runs')) ? readdirSync(join(outDir, 'runs')).filter((f) => f.endsWith('.json') && !f.startsWith('.')) : []);
const leftovers = (outDir: string) => filesUnder(outDir, (name) => name.endsWith('.tmp') || name.endsWith('.lock'));

// One clean and one fgsm row per run, each exactly once.
function assertOneRowPerCell(outDir: string, runs: number) {
  const rows = readFileSync(join(outDir, 'runs.csv'), 'utf8').trim().split('\n').slice(1).map((row) => row.split(','));
  assert.equal(rows.length, runs * 2, 'rows in runs.csv');
  const cells = rows.map((row) => `${row[12]}/${row[13]}`);
  assert.equal(new Set(cells).size, rows.length, 'no (run, cell) twice');
  assert.equal(new Set(rows.map((row) => row[12])).size, runs, 'every run present');
}

describe('job locks', () => {
  const runId = 'job0';
  const folder = () => {
    const outDir = tempDir();
    mkdirSync(join(outDir, 'runs'));
    return outDir;
  };

  it("a job's lock is exclusive: a second claim gets the live holder, and release frees it", () => {
    const outDir = folder();
    const first = claimLock(outDir, runId, locks);
    assert.ok(first.claimed);
    assert.deepEqual(JSON.parse(readFileSync(lockPath(outDir, runId), 'utf8')).pid, process.pid);
    const second = claimLock(outDir, runId, locks);
    assert.equal(second.claimed, false);
    assert.equal(!second.claimed && second.holder?.pid, process.pid);
    releaseLock(first.lock);
    assert.equal(existsSync(lockPath(outDir, runId)), false);
    const third = claimLock(outDir, runId, locks);
    assert.ok(third.claimed);
    releaseLock(third.lock);
  });

  it('a lock left by a dead process on this host is taken over, with its half-written record', () => {
    const outDir = folder();
    const dead = deadPid();
    writeLock(outDir, runId, { pid: dead, hostname: hostname(), startedAt: new Date().toISOString() });
    const temp = join(outDir, 'runs', `.${runId}.json.${dead}.0123456789ab.tmp`);
    writeFileSync(temp, '{"half": ');
    const claim = claimLock(outDir, runId, locks);
    assert.ok(claim.claimed);
    assert.equal(JSON.parse(readFileSync(lockPath(outDir, runId), 'utf8')).pid, process.pid);
    assert.equal(existsSync(temp), false);
    releaseLock(claim.lock);
  });

  it("another host's lock is taken over only once older than TEMPER_LOCK_STALE_SECONDS", () => {
    const outDir = folder();
    writeLock(outDir, runId, { pid: process.pid, hostname: 'elsewhere', startedAt: new Date(Date.now() - 60_000).toISOString() });
    const fresh = claimLock(outDir, runId, { staleSeconds: HOUR });
    assert.equal(fresh.claimed, false);
    assert.equal(!fresh.claimed && fresh.holder?.hostname, 'elsewhere');
    const stale = claimLock(outDir, runId, { staleSeconds: 30 });
    assert.ok(stale.claimed);
    releaseLock(stale.lock);
    assert.equal(lockStaleSeconds({}), 6 * HOUR);
    assert.equal(lockStaleSeconds({ TEMPER_LOCK_STALE_SECONDS: '90' }), 90);
    assert.throws(() => lockStaleSeconds({ TEMPER_LOCK_STALE_SECONDS: '-1' }), /expected a number of seconds > 0, found "-1"/);
  });

  it('releasing a lock that another process took over leaves its lock alone', () => {
    const outDir = folder();
    const claim = claimLock(outDir, runId, locks);
    assert.ok(claim.claimed);
    const theirs = writeLock(outDir, runId, { pid: 1, hostname: 'elsewhere', startedAt: new Date().toISOString() });
    releaseLock(claim.lock);
    assert.equal(JSON.parse(readFileSync(theirs, 'utf8')).hostname, 'elsewhere');
  });

  it('temp files are removed once their writer is gone and they are a minute old', () => {
    const outDir = folder();
    const dead = deadPid();
    const old = new Date(Date.now() - 120_000);
    const orphan = join(outDir, `.runs.csv.${dead}.0123456789ab.tmp`);
    const aside = join(outDir, 'runs', `${runId}.lock.${dead}.0123456789ab.stale`);
    const recent = join(outDir, `.summary.md.${dead}.0123456789ab.tmp`);
    const alive = join(outDir, 'runs', `.${runId}.json.${process.pid}.0123456789ab.tmp`);
    for (const path of [orphan, aside, recent, alive]) writeFileSync(path, '');
    for (const path of [orphan, aside, alive]) utimesSync(path, old, old);
    removeOrphanTempFiles(outDir);
    assert.deepEqual([orphan, aside, recent, alive].map(existsSync), [false, false, true, true]);
  });

  it('locks are released when the process exits at once (a second Ctrl-C calls process.exit)', () => {
    const outDir = folder();
    const lockModule = join(import.meta.dirname, '..', 'src', 'runner', 'lock.js');
    const script = `const { claimLock } = await import(${JSON.stringify(lockModule)}); claimLock(${JSON.stringify(outDir)}, 'job1', { staleSeconds: 60 }); process.exit(143);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 143, child.stderr);
    assert.deepEqual(readdirSync(join(outDir, 'runs')), []);
  });
});

describe('sweeps sharing a folder', () => {
  before(wasmBackend);
  const config = smallConfig({ name: 'shared', temperatures: [1, 2], training: { epochs: 1, batchSize: 64 }, eval: { samples: 64, batchSize: 64 } });
  const [first, second] = expandGrid(config);

  it('a job locked by a live process is left to it, reported, and not counted as failed', async () => {
    const outDir = tempDir();
    const claim = claimLock(outDir, first!.runId, locks);
    assert.ok(claim.claimed);
    const result = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    releaseLock(claim.lock);
    assert.deepEqual([result.ran, result.ok, result.failed], [1, 1, 0]);
    assert.deepEqual(result.runningElsewhere.map(({ job, holder }) => [job.runId, holder?.pid]), [[first!.runId, process.pid]]);
    assert.equal(existsSync(recordPath(outDir, first!.runId)), false);
    const rerun = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    assert.deepEqual([rerun.ran, rerun.skipped, rerun.runningElsewhere.length], [1, 1, 0]);
  });

  it('a finished record wins over a lock: a dead holder\'s lock and temp files are cleared, the job is not rerun', async () => {
    const outDir = tempDir();
    await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    const dead = deadPid();
    writeLock(outDir, second!.runId, { pid: dead, hostname: hostname(), startedAt: new Date().toISOString() });
    writeFileSync(join(outDir, 'runs', `.${second!.runId}.json.${dead}.0123456789ab.tmp`), '{');
    const rerun = await runSweep(config, { outDir, backend: 'wasm', progress: new QuietProgress() });
    assert.deepEqual([rerun.ran, rerun.skipped], [0, 2]);
    assert.deepEqual(leftovers(outDir), []);
  });
});

describe('crash safety of temper run', () => {
  // cnn-small for 3 epochs: about half a second per job, so kills land inside jobs and between them.
  const sweep = {
    name: 'crash',
    datasets: ['synthetic'],
    architectures: ['cnn-small'],
    temperatures: [1, 2, 3, 4, 5, 6, 7, 8],
    training: { epochs: 3, batchSize: 64 },
    attacks: [{ name: 'fgsm', eps: 0.1 }],
    eval: { samples: 64 },
  };

  it('a sweep killed with SIGKILL at random points, then rerun, ends with every run exactly once', async () => {
    const path = writeConfigFile(sweep);
    const outDir = join(tempDir(), 'out');
    const random = rng('crash-test');
    let killedMidway = 0;
    // Startup takes about half a second and each job about as long: a kill lands at startup, in a job, or between jobs.
    for (let trial = 0; trial < 8; trial++) {
      const { child, exited } = startTemper(['run', path, '--out', outDir, '--backend', 'wasm', '--quiet']);
      await Promise.race([sleep(300 + random() * 1700), exited]);
      if (child.exitCode === null && child.kill('SIGKILL')) killedMidway += 1;
      await exited;
    }
    assert.ok(killedMidway >= 4, `${killedMidway} of 8 runs were killed before they finished`);
    const savedBeforeFinal = recordFiles(outDir).length;

    const final = temperCli(['run', path, '--out', outDir, '--backend', 'wasm', '--json']);
    assert.equal(final.status, 0, final.stderr);
    const summary = JSON.parse(final.stdout);
    assert.deepEqual([summary.ok, summary.failed, summary.skipped], [8, 0, savedBeforeFinal], 'finished runs were kept, not rerun');
    assert.equal(recordFiles(outDir).length, 8, 'one record per job');
    assertOneRowPerCell(outDir, 8);
    assert.deepEqual(leftovers(outDir), [], 'no .tmp or .lock files left');
    const status = temperCli(['status', outDir, '--json']);
    assert.equal(status.status, 0, status.stderr);
    assert.deepEqual(
      (({ total, done, failed, running, pending }) => ({ total, done, failed, running, pending }))(JSON.parse(status.stdout)),
      { total: 8, done: 8, failed: 0, running: 0, pending: 0 },
    );
  });

  it('two concurrent temper run on one folder run every job exactly once', async () => {
    const path = writeConfigFile({ ...sweep, training: { epochs: 2, batchSize: 64 } });
    const outDir = join(tempDir(), 'out');
    const args = ['run', path, '--out', outDir, '--backend', 'wasm', '--json'];
    const results = await Promise.all([startTemper(args).exited, startTemper(args).exited]);
    for (const { code, stderr } of results) assert.equal(code, 0, stderr);
    const summaries = results.map(({ stdout }) => JSON.parse(stdout));
    assert.equal(summaries[0].ran + summaries[1].ran, 8, `ran ${summaries[0].ran} + ${summaries[1].ran}`);
    assert.equal(recordFiles(outDir).length, 8);
    assertOneRowPerCell(outDir, 8);
    assert.deepEqual(leftovers(outDir), []);
  });

  it('SIGTERM exits 143 after saving finished runs, leaving no lock behind', async () => {
    const path = writeConfigFile({ ...sweep, training: { epochs: 4, batchSize: 32 } });
    const outDir = join(tempDir(), 'out');
    const { child, exited } = startTemper(['run', path, '--out', outDir, '--backend', 'wasm']);
    while (recordFiles(outDir).length === 0 && child.exitCode === null) await sleep(50);
    child.kill('SIGTERM');
    const { code, stderr } = await exited;
    assert.equal(code, 143, stderr);
    assert.match(stderr, /resume with the same command/);
    const saved = recordFiles(outDir).length;
    assert.ok(saved >= 1 && saved < 8, `${saved} runs saved`);
    assertOneRowPerCell(outDir, saved);
    assert.deepEqual(leftovers(outDir), []);
  });

  it('--retry-failed reruns only the failed runs', () => {
    const path = writeConfigFile({ ...sweep, architectures: ['mlp'], temperatures: [1, 1e-45], training: { epochs: 1, batchSize: 64 } });
    const outDir = join(tempDir(), 'out');
    const run = (...flags: string[]) => {
      const result = temperCli(['run', path, '--out', outDir, '--backend', 'wasm', '--json', ...flags]);
      assert.equal(result.status, 1, result.stderr);
      return JSON.parse(result.stdout);
    };
    assert.deepEqual((({ ran, ok, failed }) => ({ ran, ok, failed }))(run()), { ran: 2, ok: 1, failed: 1 });
    const okRecord = recordFiles(outDir).map((name) => readFileSync(join(outDir, 'runs', name), 'utf8')).find((text) => text.includes('"status": "ok"'));
    assert.equal(run().ran, 0, 'a plain rerun reruns nothing');
    const retried = run('--retry-failed');
    assert.deepEqual([retried.ran, retried.skipped, retried.failed], [1, 1, 1]);
    assert.match(retried.failures[0].reason, /NaN/);
    assert.ok(recordFiles(outDir).some((name) => readFileSync(join(outDir, 'runs', name), 'utf8') === okRecord), 'the ok run was not rerun');
  });
});
