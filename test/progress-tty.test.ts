// `temper run` in a real pseudo-terminal (a tmux pane of fixed width), its screen captured every 100 ms while it runs:
// never more than one sweep bar and one job bar, the sweep bar still there while attacks run, long log lines whole in
// the scrollback, and after Ctrl-C the cursor shown and the messages in full.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEnv, repoRoot, tempDir } from './helpers.js';
import { jobName } from '../src/runner/progress.js';
import type { RunRecord } from '../src/types.js';
import { unlessInstalled } from './system.js';

const TMUX_MISSING = 'tmux is not installed, so progress bars cannot be checked in a terminal: apt-get install tmux';
const probe = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
const tmuxMissing = probe.error !== undefined || probe.status !== 0;

// Two jobs, a few quick rows and one slow enough (PGD-20) to be caught on screen; the 3-step PGD with a tiny step is
// deliberately weaker than FGSM, so each job prints a long gradient-masking warning.
const CONFIG = {
  name: 'pty',
  datasets: ['synthetic'],
  architectures: ['mlp'],
  temperatures: [1, 100],
  seeds: [0],
  training: { epochs: 1, batchSize: 64 },
  attacks: [
    { name: 'fgsm', eps: [0.02, 0.3] },
    { name: 'pgd', eps: 0.02, steps: 3, stepSize: 0.00001, randomStart: false, loss: 'ce', lossTemperature: 1 },
    { name: 'pgd', eps: 0.3, steps: 20, stepSize: 0.02, loss: 'cw' },
  ],
  eval: { samples: 96, batchSize: 32 },
};

// Runs temper with the pane as its terminal, ignores the Ctrl-C meant for temper, prints how temper ended and stays
// alive, so that the pane (and its cursor state) can still be read.
const WRAPPER = `import { spawn } from 'node:child_process';
process.on('SIGINT', () => {});
const child = spawn(process.execPath, process.argv.slice(2), { stdio: 'inherit' });
child.on('exit', (code, signal) => {
  process.stdout.write('[temper exited: ' + (code ?? signal) + ']\\n');
  setInterval(() => {}, 1000);
});
`;
const EXITED = /^\[temper exited: (\w+)\]$/m;

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const SWEEP_BAR = /^sweep \|[█░]+\|/;
const JOB_BAR = /^job +\|[█░]+\|/;
const ATTACK_BAR = /^job +\|[█░]+\| attack /;

/** One tmux server of its own (a private socket) running one pane `columns` wide. */
class Pane {
  private readonly socket = `temper-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(readonly columns: number) {}

  tmux(...args: string[]): string {
    const env = cliEnv();
    delete env.TMUX;
    const result = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr || result.error?.message}`);
    return result.stdout;
  }

  start(command: string, dir: string) {
    const conf = join(dir, 'tmux.conf');
    writeFileSync(conf, 'set -g history-limit 10000\nset -g status off\n');
    this.tmux('-f', conf, 'new-session', '-d', '-s', 'temper', '-x', String(this.columns), '-y', '30', command);
  }

  /** The visible rows. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p', '-t', 'temper').split('\n');
  }

  /** Every line since the start, rows the terminal wrapped joined back into one. */
  history(): string[] {
    return this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'temper').split('\n').map((line) => line.trimEnd());
  }

  cursorVisible(): boolean {
    return this.tmux('display', '-p', '-t', 'temper', '#{cursor_flag}').trim() === '1';
  }

  kill() {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
  }
}

interface Watched {
  captures: string[][];
  exit: string;
}

/** Captures the screen every 100 ms until temper has exited; `onCapture` may act on what it sees (send Ctrl-C). */
async function watch(pane: Pane, onCapture: (screen: string[]) => void = () => {}): Promise<Watched> {
  const captures: string[][] = [];
  const deadline = Date.now() + 150_000;
  for (;;) {
    const screen = pane.screen();
    captures.push(screen);
    const exited = EXITED.exec(screen.join('\n'));
    if (exited) return { captures, exit: exited[1]! };
    if (Date.now() > deadline) assert.fail(`temper still running after 150 s; the screen:\n${screen.join('\n')}`);
    onCapture(screen);
    await sleep(100);
  }
}

/** The scrollback keeps exactly one sweep bar and one job bar, the last ones drawn: none left behind by earlier frames. */
function assertOneFinalPair(history: string[], columns: number) {
  const shown = `${columns} columns, the scrollback:\n${history.join('\n')}`;
  assert.equal(history.filter((line) => SWEEP_BAR.test(line)).length, 1, shown);
  assert.equal(history.filter((line) => JOB_BAR.test(line)).length, 1, shown);
}

/** At every capture: at most one sweep bar and one job bar, and the sweep bar whenever an attack's job bar is shown. */
function assertBarsSound(captures: string[][], columns: number): number {
  let attacking = 0;
  for (const screen of captures) {
    const shown = `${columns} columns, the screen:\n${screen.join('\n')}`;
    const sweep = screen.filter((row) => SWEEP_BAR.test(row)).length;
    assert.ok(sweep <= 1, `more than one sweep bar at ${shown}`);
    assert.ok(screen.filter((row) => JOB_BAR.test(row)).length <= 1, `more than one job bar at ${shown}`);
    if (screen.some((row) => ATTACK_BAR.test(row))) {
      attacking += 1;
      assert.equal(sweep, 1, `no sweep bar while an attack runs at ${shown}`);
    }
  }
  return attacking;
}

function maskingLines(outDir: string): string[] {
  const runs = join(outDir, 'runs');
  const records = readdirSync(runs).filter((file) => file.endsWith('.json')).map((file) => JSON.parse(readFileSync(join(runs, file), 'utf8')) as RunRecord);
  return records.flatMap((record) => (record.masking?.flags ?? []).map((flag) => `${jobName(record.job)}: possible gradient masking (${flag.check}): ${flag.message}`));
}

describe('temper run in a pseudo-terminal', { skip: unlessInstalled(!tmuxMissing, 'tmux (progress bars checked in a real terminal)', 'apt-get install tmux') }, () => {
  const panes: Pane[] = [];
  after(() => panes.forEach((pane) => pane.kill()));

  function launch(columns: number) {
    assert.ok(!tmuxMissing, TMUX_MISSING);
    const dir = tempDir('temper-tty-');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    const wrapper = join(dir, 'wrapper.mjs');
    writeFileSync(wrapper, WRAPPER);
    // Long enough that the line naming it wraps even at 120 columns.
    const outDir = join(dir, 'results-in-a-folder-whose-name-is-long-enough-to-wrap-the-line-that-names-it');
    const pane = new Pane(columns);
    panes.push(pane);
    const args = [process.execPath, wrapper, join(repoRoot, 'bin', 'temper.js'), 'run', config, '--out', outDir, '--backend', 'wasm'];
    pane.start(`cd ${quote(repoRoot)} && exec ${args.map(quote).join(' ')}`, dir);
    return { pane, outDir, writingTo: `sweep: 2 jobs, 2 to run, 0 already done; backend wasm; writing to ${outDir}` };
  }

  it('at 120 columns: one sweep bar and one job bar at every moment, and long log lines whole', { timeout: 180_000 }, async () => {
    const { pane, outDir, writingTo } = launch(120);
    const { captures, exit } = await watch(pane);
    assert.equal(exit, '0', pane.history().join('\n'));
    const attacking = assertBarsSound(captures, 120);
    assert.ok(attacking > 0, 'no capture caught an attack running; nothing was checked');
    const history = pane.history();
    assertOneFinalPair(history, 120);
    const masking = maskingLines(outDir);
    assert.ok(masking.length > 0 && masking.every((line) => line.length > 120), 'the config raises long masking warnings');
    for (const line of [writingTo, ...masking]) assert.ok(history.includes(line), `"${line}" in full in the scrollback:\n${history.join('\n')}`);
    assert.ok(pane.cursorVisible(), 'the cursor is shown after the run');
  });

  it('at 80 columns: Ctrl-C during an attack leaves the cursor shown, the bars finished and the messages in full', { timeout: 180_000 }, async () => {
    const { pane, writingTo } = launch(80);
    let interrupted = false;
    const { captures, exit } = await watch(pane, (screen) => {
      if (!interrupted && screen.some((row) => ATTACK_BAR.test(row))) {
        pane.tmux('send-keys', '-t', 'temper', 'C-c');
        interrupted = true;
      }
    });
    assert.ok(interrupted, 'no capture caught an attack running, so Ctrl-C was never sent');
    assert.equal(exit, '130', pane.history().join('\n'));
    assertBarsSound(captures, 80);
    const history = pane.history();
    assertOneFinalPair(history, 80);
    for (const line of [writingTo, 'SIGINT: stopping after saving finished runs (press again to quit at once)', 'interrupted: 0 of 2 runs saved; resume with the same command']) {
      assert.ok(history.includes(line), `"${line}" in full in the scrollback:\n${history.join('\n')}`);
    }
    assert.match(history.find((line) => JOB_BAR.test(line)) ?? '', /stopped in attack /, 'the job bar says where the run stopped');
    assert.ok(pane.cursorVisible(), 'the cursor is shown after Ctrl-C');
  });
});
