// The docs are a contract: every shell block in README.md and docs/*.md runs as written (or says why it cannot run
// here), and the config reference is the one the schema generates.
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DOC_FILE, renderConfigDoc } from '../src/config/write-docs.js';
import { registeredNames } from '../src/cli/names.js';
import { repoRoot, tempDir } from './helpers.js';

/** A fenced shell block of a doc, with the reason it is not run when the line above it says `<!-- not run: ... -->`. */
export interface ShellBlock {
  file: string;
  line: number;
  script: string;
  notRun: string | null;
}

const NOT_RUN = /^<!--\s*not run:\s*(.*?)\s*-->$/;

/** The ```sh / ```bash / ```shell blocks of a Markdown text, in order. */
export function shellBlocks(file: string, text: string): ShellBlock[] {
  const lines = text.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|bash|shell)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let above = start - 1;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const marker = above >= 0 ? NOT_RUN.exec(lines[above]!.trim()) : null;
    blocks.push({ file, line: start + 1, script: body.join('\n'), notRun: marker ? marker[1]! : null });
  }
  return blocks;
}

const DOCS = ['README.md', ...(existsSync(join(repoRoot, 'docs')) ? readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`) : [])];

/**
 * A folder like a user's clone: the repository's configs, and `temper` on the PATH (as `npm link` puts it), so the
 * blocks run as pasted. One for all the docs, README first, blocks in order: a later block may read what an earlier
 * one wrote (the README's taste run is the results folder the other docs' examples read).
 */
function workspace(): { cwd: string; env: NodeJS.ProcessEnv } {
  const cwd = tempDir('temper-docs-');
  symlinkSync(join(repoRoot, 'configs'), join(cwd, 'configs'));
  const bin = join(cwd, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'temper'), `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'bin', 'temper.js')}" "$@"\n`);
  chmodSync(join(bin, 'temper'), 0o755);
  return { cwd, env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, TEMPER_DATA_DIR: join(cwd, 'data') } };
}

test('the shell-block reader finds blocks and their not-run reasons', () => {
  const blocks = shellBlocks('x.md', ['text', '<!-- not run: trains for an hour -->', '', '```sh', 'temper run a', '```', '```bash', 'temper status b', '```', '```jsonc', '{}', '```'].join('\n'));
  assert.deepEqual(blocks.map((b) => [b.line, b.script, b.notRun]), [[4, 'temper run a', 'trains for an hour'], [7, 'temper status b', null]]);
});

test(`${CONFIG_DOC_FILE} is what the schema generates (npm run build rewrites it)`, () => {
  assert.equal(readFileSync(join(repoRoot, CONFIG_DOC_FILE), 'utf8'), renderConfigDoc(registeredNames()));
});

let space: ReturnType<typeof workspace> | undefined;
for (const doc of DOCS) {
  const blocks = shellBlocks(doc, readFileSync(join(repoRoot, doc), 'utf8'));
  if (blocks.length === 0) continue;
  describe(`${doc}: every shell block runs as written`, () => {
    for (const block of blocks) {
      const title = `${doc}:${block.line}: ${block.script.split('\n')[0]}${block.script.includes('\n') ? ' ...' : ''}`;
      if (block.notRun !== null) {
        it(`${title} (not run here: the doc says why)`, () => {
          assert.ok(block.notRun!.length >= 10, `${doc}:${block.line}: a block marked "not run" must say why`);
        });
        continue;
      }
      it(title, () => {
        space ??= workspace();
        const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block.script], { cwd: space.cwd, env: space.env, encoding: 'utf8', timeout: 300_000 });
        assert.equal(result.status, 0, `${doc}:${block.line} exited ${result.status ?? result.signal}:\n${block.script}\n--- stderr\n${result.stderr.slice(-3000)}\n--- stdout\n${result.stdout.slice(-2000)}`);
      });
    }
  });
}
