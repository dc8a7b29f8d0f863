// The command line a newcomer meets: help that wraps on word boundaries, mistakes answered with the way forward,
// and `temper` run through a global link from another folder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir, temperCli as temper, writeConfigFile } from './helpers.js';
import { COMMANDS, temperCli } from '../src/cli/parser.js';
import { commandSpec, diagnose } from '../src/cli/mistakes.js';
import { helpWidth } from '../src/cli/help.js';
import { loadConfig } from '../src/config/load.js';
import { registeredNames } from '../src/cli/names.js';
import { dawnNotes } from '../src/backend/index.js';

/** What `temper <words> --help` prints with help wrapped to `width` columns. */
function helpOf(words: string[], width: number): string {
  let text = '';
  temperCli(width).parse([...words, '--help'], (_error: Error | undefined, _argv: unknown, output: string) => {
    text = output;
  });
  assert.notEqual(text, '', `temper ${words.join(' ')} --help printed nothing`);
  return text;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).sort();
const commandNames = COMMANDS.map((command) => String(command.command).split(' ')[0]!);
const specs = COMMANDS.map(commandSpec);
const quickstart = join(repoRoot, 'configs', 'quickstart.json');

describe('help', () => {
  for (const command of [[], ...commandNames.map((name) => [name])]) {
    it(`temper ${[...command, '--help'].join(' ')} splits no word or flag at 80 or 120 columns, and keeps each example on one line`, () => {
      // Wrapping only moves whole words to the next line: the same words as when nothing wraps, none cut in two.
      const unwrapped = words(helpOf(command, 1000));
      const examples = command.length === 0 ? [] : COMMANDS[commandNames.indexOf(command[0]!)]!.examples;
      for (const width of [80, 120]) {
        const help = helpOf(command, width);
        assert.deepEqual(words(help), unwrapped, `at ${width} columns:\n${help}`);
        for (const line of help.split('\n')) assert.ok(line.length <= width, `a line of ${line.length} > ${width} columns: ${JSON.stringify(line)}`);
        const lines = help.split('\n').map((line) => line.trim());
        for (const { command: example } of examples) assert.ok(lines.includes(example.replace('$0', 'temper')), `example on a line of its own: ${example}`);
      }
    });
  }

  it('run --help says --set values are YAML and that paths into lists work', () => {
    const help = helpOf(['run'], 80);
    assert.match(help, /VALUE is read as\s+YAML/);
    assert.match(help, /attacks\[1\]\.steps/);
    assert.match(help, /--set 'attacks\[1\]\.steps=100'/);
  });

  it('merge --help marks its folders required without a default', () => {
    const help = helpOf(['merge'], 80);
    assert.match(help, /dirs .*\[array\] \[required\]\n/);
    assert.doesNotMatch(help, /\[default: \[\]\]/);
  });

  it('is wrapped to the terminal, else to COLUMNS, else to 80 columns when piped', () => {
    assert.equal(helpWidth({ isTTY: true, columns: 132 }, {}), 132);
    assert.equal(helpWidth({ isTTY: true, columns: 132 }, { COLUMNS: '90' }), 132);
    assert.equal(helpWidth({}, { COLUMNS: '100' }), 100);
    assert.equal(helpWidth({}, {}), 80);
    assert.equal(helpWidth({}, { COLUMNS: 'wide' }), 80);
  });

  it('the installed command wraps piped help at 80 columns on word boundaries', () => {
    const piped = temper(['run', '--help'], { COLUMNS: '' });
    assert.equal(piped.status, 0, piped.stderr);
    for (const line of piped.stdout.split('\n')) assert.ok(line.length <= 80, JSON.stringify(line));
    assert.deepEqual(words(piped.stdout), words(temper(['run', '--help'], { COLUMNS: '1000' }).stdout));
  });
});

describe('mistakes on the command line get a way forward', () => {
  const problemsOf = (args: string[]) => diagnose(args, specs);

  it('an unknown flag that names a config key suggests the --set path the schema has for it', async () => {
    assert.deepEqual(await problemsOf(['run', 'configs/quickstart.json', '--epoch', '1']), [
      'unknown flag --epoch 1: epochs is a config key; use --set training.epochs=1',
    ]);
    const [batch] = await problemsOf(['run', 'configs/quickstart.json', '--batch-size=32']);
    assert.match(batch!, /use --set training\.batchSize=32 or --set eval\.batchSize=32$/);
    const [temperatures] = await problemsOf(['validate', 'configs/quickstart.json', '--temperatures', '1,5']);
    assert.match(temperatures!, /use --set 'temperatures=\[1,5\]'$/);
    const [steps] = await problemsOf(['run', 'configs/quickstart.json', '--steps', '100']);
    assert.match(steps!, /--set 'attacks\[0\]\.steps=100'/);
  });

  it('every --set it suggests for a flag-like key loads with the quickstart config', async () => {
    const flags: Array<[string, string]> = [
      ['epochs', '1'], ['epoch', '2'], ['lr', '0.01'], ['learning-rate', '0.01'], ['batch-size', '32'], ['samples', '100'],
      ['seeds', '3'], ['seed', '1,2'], ['temperature', '1,5'], ['label-smoothing', '0.1'], ['train-samples', '500'], ['warmup', '1'],
    ];
    for (const [flag, value] of flags) {
      const [line] = await problemsOf(['run', 'configs/quickstart.json', `--${flag}`, value]);
      const suggested = [...(line ?? '').matchAll(/--set (?:'([^']*)'|(\S+))/g)].map((m) => m[1] ?? m[2]!);
      assert.ok(suggested.length > 0, `--${flag}: ${line}`);
      for (const override of suggested) assert.doesNotThrow(() => loadConfig(quickstart, { overrides: [override], names: registeredNames() }), `--${flag} ${value} → --set ${override}`);
    }
  });

  it('an unknown flag that is no config key suggests the nearest real flag', async () => {
    assert.deepEqual(await problemsOf(['run', 'x.json', '--job', '2']), ['unknown flag --job 2: did you mean --jobs 2?']);
    assert.deepEqual(await problemsOf(['run', 'x.json', '--jsn']), ['unknown flag --jsn: did you mean --json?']);
    assert.deepEqual(await problemsOf(['merge', 'a', '--output', 'b']), ['unknown flag --output b: did you mean --out b?']);
    const [none] = await problemsOf(['status', 'results/x', '--frobnicate']);
    assert.match(none!, /^unknown flag --frobnicate: temper status takes --shard, --json \(temper status --help says what each does\)$/);
  });

  it('a value off a list suggests the one meant, with what the caller adds (what auto would pick)', async () => {
    const note = async (flag: string, value: string) => `[note for --${flag} ${value}]`;
    assert.deepEqual(await diagnose(['run', 'x.json', '--backend', 'gpu'], specs, note), [
      '--backend gpu: expected one of: auto, tensorflow, webgpu, wasm, cpu; did you mean --backend webgpu? [note for --backend gpu]',
    ]);
    assert.deepEqual(await diagnose(['bench', '--backend', 'nope'], specs, note), [
      '--backend nope: expected one of: auto, tensorflow, webgpu, wasm, cpu. [note for --backend nope]',
    ]);
    assert.deepEqual(await problemsOf(['data', 'lst']), ['data <action> "lst": expected one of: list, fetch; did you mean list?']);
  });

  it('a missing argument prints one line: the usage and an example', async () => {
    assert.deepEqual(await problemsOf(['run']), ['run needs <config>; usage: temper run <config> [options]; e.g. temper run configs/quickstart.json']);
    assert.deepEqual(await problemsOf(['merge', 'results/qs-1', 'results/qs-2']), [
      'merge needs --out; usage: temper merge <dirs..> --out <out> [options]; e.g. temper merge results/qs-1 results/qs-2 results/qs-3 --out results/qs',
    ]);
    assert.deepEqual(await problemsOf(['run', 'a.json', 'b.json']), [
      'unexpected "b.json": run takes <config>; usage: temper run <config> [options]; e.g. temper run configs/quickstart.json',
    ]);
    assert.match((await problemsOf([]))[0]!, /^name a command: run, validate, .*; e.g. temper run configs\/quickstart\.json/);
    assert.match((await problemsOf(['--versoin']))[0]!, /^unknown flag --versoin: did you mean --version\? flags go after a command/);
    assert.deepEqual(await problemsOf(['merg', 'a']), [`unknown command "merg"; expected one of: ${commandNames.join(', ')}; did you mean temper merge?`]);
  });

  it('--set repeats without swallowing the config file after it, and counts read as English', () => {
    const path = writeConfigFile({ name: 'set', datasets: ['synthetic'], architectures: ['mlp'], temperatures: [1, 5], attacks: [{ name: 'fgsm', eps: 0.1 }] });
    const result = temper(['validate', '--set', 'training.epochs=1', path, '--set', 'temperatures=[1]']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /ok — 1 job \(1 dataset x 1 architecture x 1 temperature x 1 seed\), 1 attack evaluation per job\n/);
  });

  it('the command exits 2 with one line per mistake and writes nothing', () => {
    const out = join(tempDir(), 'out');
    const result = temper(['run', '--epoch', '1', '--out', out]);
    assert.equal(result.status, 2, result.stderr);
    assert.deepEqual(result.stderr.trim().split('\n'), [
      'temper: unknown flag --epoch 1: epochs is a config key; use --set training.epochs=1',
      'temper: run needs <config>; usage: temper run <config> [options]; e.g. temper run configs/quickstart.json',
    ]);
    assert.equal(existsSync(out), false);
  });

  it('--backend gpu exits 2, suggests webgpu and says what auto would pick here', () => {
    const out = join(tempDir(), 'out');
    const result = temper(['run', 'configs/quickstart.json', '--backend', 'gpu', '--out', out]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^temper: --backend gpu: expected one of: auto, tensorflow, webgpu, wasm, cpu; did you mean --backend webgpu\? Here auto would pick (tensorflow|webgpu|wasm) \(.+\)\.\n$/);
    assert.doesNotMatch(result.stderr, /\.cpp:\d+/, 'no source path of Dawn');
    assert.equal(existsSync(out), false);
  });
});

describe('Dawn on stderr, for people', () => {
  it('a missing Vulkan loader reads "no Vulkan loader (libvulkan1)", without the source path of Dawn\'s build', () => {
    const stderr =
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
      '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)\n\n';
    assert.deepEqual(dawnNotes(stderr), ['no Vulkan loader (libvulkan1): webgpu unavailable']);
  });

  it('other warnings keep their first line, without source locations', () => {
    const stderr = 'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n    at CreateInstance (/build/dawn/src/dawn/native/vulkan/BackendVk.cpp:512)\n';
    assert.deepEqual(dawnNotes(stderr), ['vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER']);
  });
});

describe('temper on the PATH, from another folder', () => {
  it('the bin shim runs through a global link (npm link / npm install -g .) from any working folder', () => {
    // The layout npm makes in a prefix for a linked folder: lib/node_modules/temper -> the clone, bin/temper -> its bin.
    const prefix = tempDir('temper-prefix-');
    mkdirSync(join(prefix, 'lib', 'node_modules'), { recursive: true });
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(repoRoot, join(prefix, 'lib', 'node_modules', 'temper'));
    symlinkSync(join('..', 'lib', 'node_modules', 'temper', 'bin', 'temper.js'), join(prefix, 'bin', 'temper'));
    const elsewhere = tempDir('temper-cwd-');
    // Run as the shell would: the link itself is the program, found through PATH, its shebang choosing node.
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}` };
    const shown = spawnSync('temper', ['--version'], { cwd: elsewhere, env, encoding: 'utf8' });
    assert.equal(shown.status, 0, shown.stderr);
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(shown.stdout.trim(), version);
  });
});
