// What a person sees of a sweep: log lines in full above one sweep bar and one job bar on a terminal (checked on an
// emulated screen; test/progress-tty.test.ts checks a real pseudo-terminal), and few, useful lines in a log.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smallConfig } from './helpers.js';
import { TerminalScreen } from './terminal-screen.js';
import { expandGrid } from '../src/config/grid.js';
import { LiveLines } from '../src/runner/live-lines.js';
import { BarProgress, LineProgress, etaSeconds, formatDuration } from '../src/runner/progress.js';
import type { AttackResult, Job, RunRecord } from '../src/types.js';

/** A clock the test moves by hand, in milliseconds. */
function fakeClock() {
  let now = 0;
  return { now: () => now, advance: (seconds: number) => void (now += seconds * 1000) };
}

const jobs = expandGrid(smallConfig({ temperatures: [1, 10, 100] }));

function record(job: Job, status: 'ok' | 'failed' = 'ok'): RunRecord {
  return {
    runId: job.runId,
    status,
    job,
    ...(status === 'ok' ? { cleanAccuracy: 0.9 } : { failureReason: 'training loss became NaN' }),
    epochLosses: [],
    attacks: [],
    timings: { trainSeconds: 1, evalSeconds: 1, wallSeconds: 2 },
    backend: 'wasm',
    versions: {},
    startedAt: '',
    finishedAt: '',
  };
}

const result = (label: string): AttackResult =>
  ({ label, attack: 'pgd', eps: 0.3, loss: 'cw', lossTemperature: null, robustAccuracy: 0.25, n: 128, zeroGradFraction: 0, params: {}, wallSeconds: 3 }) as AttackResult;

/** The status rows at the bottom of the screen: every row that looks like a bar. */
function bars(screen: TerminalScreen) {
  const rows = screen.screenRows;
  return { sweep: rows.filter((row) => /^sweep \|[█░]+\|/.test(row)), job: rows.filter((row) => /^job +\|[█░]+\|/.test(row)) };
}

function assertOneOfEach(screen: TerminalScreen, when: string) {
  const { sweep, job } = bars(screen);
  assert.equal(sweep.length, 1, `${when}: one sweep bar in\n${screen.screenRows.join('\n')}`);
  assert.equal(job.length, 1, `${when}: one job bar in\n${screen.screenRows.join('\n')}`);
  for (const row of [...sweep, ...job]) assert.ok(Array.from(row).length < screen.columns, `${when}: "${row}" fits in one row`);
}

describe('LiveLines keeps status lines at the bottom of a terminal', () => {
  it('prints log lines longer than the terminal whole, above one copy of the status lines cut to one row each', () => {
    const screen = new TerminalScreen(40);
    const clock = fakeClock();
    let frame = [`first ${'x'.repeat(60)}`, 'second'];
    const lines = new LiveLines(screen.stream, () => frame, { now: clock.now });
    lines.log('before the lines');
    lines.start();
    assert.equal(screen.cursorVisible, false);
    const long = `a log line of 100 characters ${'y'.repeat(71)}`;
    lines.log(long);
    frame = ['first again', 'second again'];
    clock.advance(1);
    lines.update();
    lines.log('two lines\nin one message');
    lines.stop();
    assert.deepEqual(screen.lines, ['before the lines', long, 'two lines', 'in one message', 'first again', 'second again', '']);
    assert.equal(screen.cursorVisible, true);
    assert.equal(screen.cursorRow, screen.screenRows.length - 1, 'the cursor waits on the row below the lines');
  });

  it('cuts a status line one column short of the width, with an ellipsis', () => {
    const screen = new TerminalScreen(20);
    const lines = new LiveLines(screen.stream, () => ['0123456789012345678901234'], { now: () => 0 });
    lines.start();
    lines.stop();
    assert.deepEqual(screen.screenRows.slice(0, 1), ['012345678901234567…']);
  });

  it('draws updates at most once per minIntervalMs, but a log line at once', () => {
    const screen = new TerminalScreen(80);
    const clock = fakeClock();
    let draws = 0;
    const lines = new LiveLines(screen.stream, () => [`draw ${++draws}`], { now: clock.now, minIntervalMs: 100 });
    lines.start();
    for (let i = 0; i < 50; i++) lines.update();
    assert.equal(draws, 1, 'fifty updates within the same millisecond draw nothing new');
    clock.advance(0.1);
    lines.update();
    assert.equal(draws, 2);
    lines.log('a message');
    assert.equal(draws, 3);
    lines.stop();
  });
});

describe('BarProgress on a terminal', () => {
  it('shows exactly one sweep bar and one job bar through training, attacks, logs, workers and the end', () => {
    for (const columns of [80, 120]) {
      const screen = new TerminalScreen(columns);
      const clock = fakeClock();
      const progress = new BarProgress(screen.stream, { now: clock.now, minIntervalMs: 0 });
      const job = jobs[0]!;
      progress.message('backend: wasm (a line long enough to wrap at eighty columns, which it should do, not be cut off)');
      progress.sweepStart({ total: 3, toRun: 3, skipped: 0, outDir: `/tmp/${'long-folder/'.repeat(10)}out`, backend: 'wasm' });
      assertOneOfEach(screen, 'after sweepStart');
      progress.jobStart(job, 1, 3);
      for (let step = 1; step <= 8; step++) {
        clock.advance(1);
        progress.step({ epoch: 1, epochs: 2, step, steps: 8, loss: step % 2 === 0 ? 0.25 : 0.75 });
      }
      assertOneOfEach(screen, 'training');
      assert.match(bars(screen).job[0]!, /training epoch 1\/2 · step 8\/8 · loss 0\.5000 · ETA 8s/);
      assert.match(bars(screen).sweep[0]!, /0\/3 jobs · 8s · now 1\/3 synthetic mlp T=1 seed=0/);

      progress.attack({ label: 'pgd40-cw@0.3', kind: 'attack', index: 1, total: 3 });
      progress.attackProgress({ batch: 0, batches: 4 });
      clock.advance(10);
      progress.attackProgress({ batch: 1, batches: 4 });
      progress.attackProgress({ batch: 1, batches: 4, detail: 'member 2 of 3, 41 standing' });
      assertOneOfEach(screen, 'attacking');
      const attacking = bars(screen).job[0]!;
      assert.match(attacking, columns >= 100 ? /attack pgd40-cw@0\.3 \(2\/3\) · batch 2\/4 · ETA 30s · member 2 of 3, 41 standing$/ : /attack pgd40-cw@0\.3 \(2\/3\) · batch 2\/4 · ETA 30s · member/);
      progress.attackProgress({ batch: 2, batches: 4 });
      assert.doesNotMatch(bars(screen).job[0]!, /member/, "a finished batch's detail is not shown for the next batch");

      progress.attackResult(result('pgd40-cw@0.3'));
      progress.message(`synthetic mlp T=1 seed=0: possible gradient masking (iterative-not-stronger): ${'a long explanation '.repeat(8)}`);
      progress.jobEnd(record(jobs[1]!), 'worker 2');
      assertOneOfEach(screen, 'after a worker finished a job');
      assert.match(bars(screen).sweep[0]!, /1\/3 jobs/, "a worker's job counts on the sweep bar");
      progress.jobEnd(record(job));
      assert.match(bars(screen).sweep[0]!, /2\/3 jobs · 18s · ETA 9s/);
      assert.match(bars(screen).job[0]!, /done: synthetic mlp T=1 seed=0/);

      progress.jobStart(jobs[2]!, 3, 3);
      progress.attack({ label: 'gaussian_noise@s3', kind: 'corruption', index: 0, total: 1 });
      assert.match(bars(screen).job[0]!, /corruption gaussian_noise@s3 \(1\/1\)/);
      progress.sweepEnd();
      assertOneOfEach(screen, 'after sweepEnd');
      assert.match(bars(screen).job[0]!, /stopped in corruption gaussian_noise@s3: synthetic mlp/);
      assert.equal(screen.cursorVisible, true);

      const logged = screen.lines;
      for (const line of [
        'backend: wasm (a line long enough to wrap at eighty columns, which it should do, not be cut off)',
        `sweep: 3 jobs, 3 to run, 0 already done; backend wasm; writing to /tmp/${'long-folder/'.repeat(10)}out`,
        '  synthetic mlp T=1 seed=0: pgd40-cw@0.3 25.00% (3.0 s)',
        `synthetic mlp T=1 seed=0: possible gradient masking (iterative-not-stronger): ${'a long explanation '.repeat(8)}`.trimEnd(),
        `worker 2: synthetic mlp T=10 seed=0: done, clean accuracy 90.00% in 2.0 s (run ${jobs[1]!.runId})`,
        `synthetic mlp T=1 seed=0: done, clean accuracy 90.00% in 2.0 s (run ${job.runId})`,
      ]) {
        assert.ok(logged.includes(line), `${columns} columns: "${line}" in full in\n${logged.join('\n')}`);
      }
    }
  });
});

describe('LineProgress in a log', () => {
  it('writes at most one line per interval within an attack, none in its first interval', () => {
    const clock = fakeClock();
    const lines: string[] = [];
    const progress = new LineProgress((line) => lines.push(line), { intervalSeconds: 30, now: clock.now });
    progress.jobStart(jobs[0]!, 1, 2);
    progress.attack({ label: 'autoattack@0.03', index: 0, total: 1 });
    lines.length = 0;
    for (let second = 1; second <= 100; second++) {
      clock.advance(1);
      progress.attackProgress({ batch: 1, batches: 4, detail: `member 2 of 3 (apgd-dlr), ${100 - second} examples still standing` });
    }
    assert.deepEqual(lines, [
      '[1/2] synthetic mlp T=1 seed=0: autoattack@0.03: batch 2/4, member 2 of 3 (apgd-dlr), 70 examples still standing',
      '[1/2] synthetic mlp T=1 seed=0: autoattack@0.03: batch 2/4, member 2 of 3 (apgd-dlr), 40 examples still standing',
      '[1/2] synthetic mlp T=1 seed=0: autoattack@0.03: batch 2/4, member 2 of 3 (apgd-dlr), 10 examples still standing',
    ]);
  });

  it('writes at most one line per interval within an epoch, none in its first interval', () => {
    const clock = fakeClock();
    const lines: string[] = [];
    const progress = new LineProgress((line) => lines.push(line), { intervalSeconds: 30, now: clock.now });
    progress.jobStart(jobs[0]!, 1, 2);
    for (let step = 1; step <= 50; step++) {
      clock.advance(1);
      progress.step({ epoch: 1, epochs: 2, step, steps: 50, loss: 1 / step });
    }
    progress.epoch({ epoch: 1, epochs: 2, meanLoss: 0.09 });
    clock.advance(20);
    progress.step({ epoch: 2, epochs: 2, step: 1, steps: 50, loss: 0.1 });
    assert.deepEqual(lines, [
      '[1/2] synthetic mlp T=1 seed=0: training (2 epochs)',
      '[1/2] synthetic mlp T=1 seed=0: epoch 1/2 step 30/50 loss 0.0333',
      '[1/2] synthetic mlp T=1 seed=0: epoch 1/2 loss 0.0900',
    ]);
  });

  it("names the worker that finished a job, and says why a job failed", () => {
    const lines: string[] = [];
    const progress = new LineProgress((line) => lines.push(line));
    progress.jobEnd(record(jobs[1]!, 'failed'), 'worker 3');
    assert.deepEqual(lines, [`worker 3: synthetic mlp T=10 seed=0: FAILED: training loss became NaN (run ${jobs[1]!.runId})`]);
  });
});

describe('durations and ETAs', () => {
  it('reads as seconds, minutes or hours', () => {
    assert.deepEqual([0.4, 42, 185, 7620].map(formatDuration), ['0s', '42s', '3m 05s', '2h 07m']);
  });

  it('has an ETA only once some work is done and a second has passed', () => {
    assert.equal(etaSeconds(0, 10), undefined);
    assert.equal(etaSeconds(0.5, 0.5), undefined);
    assert.equal(etaSeconds(1, 10), undefined);
    assert.equal(etaSeconds(0.25, 10), 30);
  });
});
