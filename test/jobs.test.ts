// `--jobs N`: worker processes share the grid; the results are the same as with one process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { tempDir, temperCli, writeConfigFile } from './helpers.js';

// Long enough that the main process is still busy when its worker has started (a worker takes a second or two to load
// tfjs): with 1 epoch the main process once finished all 8 jobs first, and the worker had none to report. The slower
// architecture comes first in the grid, so the main process is on it while the worker starts (8 epochs: about 1 s a
// job, 5 s for the grid on one process).
const config = writeConfigFile({
  name: 'jobs-test',
  datasets: ['synthetic'],
  architectures: ['cnn-small', 'mlp'],
  temperatures: [1, 10],
  seeds: [0, 1],
  training: { epochs: 8, batchSize: 64 },
  attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: 0.1, steps: 3, stepSize: 0.04, loss: 'cw' }],
  eval: { samples: 64, batchSize: 64 },
});

// Everything but the timings, which differ from run to run.
function numbers(outDir: string): string[] {
  const rows = parse(readFileSync(join(outDir, 'runs.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  return rows.map(({ train_seconds, eval_seconds, ...rest }) => JSON.stringify(rest)).sort();
}

describe('temper run --jobs', () => {
  it('runs the jobs in two processes and writes exactly what one process writes', () => {
    const one = tempDir();
    const two = tempDir();
    const single = temperCli(['run', config, '--out', one, '--backend', 'wasm', '--jobs', '1']);
    assert.equal(single.status, 0, single.stderr);
    const double = temperCli(['run', config, '--out', two, '--backend', 'wasm', '--jobs', '2', '--json']);
    assert.equal(double.status, 0, double.stderr);
    assert.equal(JSON.parse(double.stdout).jobs, 2);
    // With --json the progress is quiet; the records say which jobs ran, and all 8 did, once each.
    const summary = JSON.parse(double.stdout);
    assert.equal(summary.ok, 8);
    assert.equal(summary.ran, 8, 'jobs run by the worker count as run');
    assert.equal(summary.skipped, 0, 'jobs run by the worker are not "skipped"');
    assert.deepEqual(numbers(two), numbers(one));
  });

  it('reports the worker and the jobs it finished', () => {
    const out = tempDir();
    const result = temperCli(['run', config, '--out', out, '--backend', 'wasm', '--jobs', '2']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /--jobs 2: 1 worker process \(pids \d+\) share the jobs/);
    assert.match(result.stderr, /worker 2: synthetic \S+ T=\d+ seed=\d: done, clean accuracy/);
    assert.doesNotMatch(result.stderr, /running in another process/, 'our own worker is not "another process"');
  });

  it('rejects a job count that is not a whole number >= 1 with exit 2', () => {
    for (const bad of ['0', '-1', '1.5']) {
      const result = temperCli(['run', config, '--out', tempDir(), '--jobs', bad]);
      assert.equal(result.status, 2, `--jobs ${bad}: ${result.stderr}`);
      assert.match(result.stderr, /--jobs/);
    }
  });
});
