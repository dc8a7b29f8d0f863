// The test command on a machine without the optional system packages: skips that name the package, a summary line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unlessInstalled } from './system.js';
import { repoRoot, tempDir } from './helpers.js';

test('a test needing a missing package is skipped with the install command, but required when CI=true', () => {
  const saved = process.env.CI;
  try {
    delete process.env.CI;
    assert.equal(unlessInstalled(true, 'Chromium', 'apt-get install chromium'), false);
    const reason = unlessInstalled(false, 'Chromium', 'apt-get install chromium');
    assert.ok(typeof reason === 'string' && reason.includes('apt-get install chromium') && reason.includes('install-test-deps.sh'), String(reason));
    process.env.CI = 'true';
    assert.equal(unlessInstalled(false, 'Chromium', 'apt-get install chromium'), false);
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
});

test('the summary reporter ends with "N passed, N failed, N skipped" and lists each skip reason', () => {
  const dir = tempDir();
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(file, [
    "import { test, describe, it } from 'node:test';",
    "test('one', () => {});",
    "test('two', () => {});",
    "test('needs a thing', { skip: 'needs a thing: apt-get install thing' }, () => {});",
    "describe('a suite that needs another', { skip: 'needs another: apt-get install other' }, () => { it('x', () => {}); });",
    "test('fails', () => { throw new Error('no'); });",
  ].join('\n'));
  // Without NODE_TEST_CONTEXT, which node:test sets for its own children and which would make this run report to us.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const result = spawnSync(process.execPath, ['--test', '--test-reporter', join(repoRoot, 'scripts', 'test-summary.mjs'), file], { encoding: 'utf8', cwd: dir, env });
  assert.equal(result.status, 1, 'a failing test fails the run');
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines[lines.length - 1], '2 passed, 1 failed, 2 skipped');
  assert.match(result.stdout, /needs a thing: needs a thing: apt-get install thing/);
  assert.match(result.stdout, /a suite that needs another \(the whole suite\): needs another: apt-get install other/);
  assert.match(result.stdout, /failed \(1\):\n {2}- fails/);
});
