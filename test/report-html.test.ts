import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { plotSpecs, rebuildReport, writeReport } from '../src/report/index.js';
import { writeRecord } from '../src/runner/store.js';
import type { RunRecord } from '../src/types.js';
import { LABELS, record } from './fixtures.js';
import { unlessInstalled } from './system.js';

const root = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Two models, two seeds at three temperatures (one seed failed), and a second model measured at one eps only.
const RECORDS: RunRecord[] = [
  record({ temperature: 0.5, seed: 0, accuracies: [0.96, 0.81, 0.05, 0.0] }),
  record({ temperature: 0.5, seed: 1, accuracies: [0.95, 0.79, 0.04, 0.0] }),
  record({ temperature: 5, seed: 0, accuracies: [0.94, 0.76, 0.71, 0.001] }),
  record({ temperature: 5, seed: 1, failureReason: 'training loss became NaN at epoch 2, step 17' }),
  record({ temperature: 100, seed: 0, accuracies: [0.88, 0.86, 0.86, 0.0], zeroGradFractions: [0.79, 0.79, 0] }),
  record({ temperature: 100, seed: 1, accuracies: [0.87, 0.85, 0.84, 0.0], zeroGradFractions: [0.77, 0.77, 0] }),
  record({ dataset: 'synthetic', architecture: 'mlp', temperature: 1, accuracies: [0.7, 0.4] }),
  record({ dataset: 'synthetic', architecture: 'mlp', temperature: 10, accuracies: [0.6, 0.5] }),
];

const temper = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin', 'temper.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } });

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'temper-report-html-'));
}

/** A results folder that holds nothing but the run records. */
function recordsOnly(records: RunRecord[]): string {
  const dir = tempDir();
  for (const [index, each] of records.entries()) writeRecord(dir, { ...each, job: { ...each.job, index } });
  return dir;
}

/** Every file under `dir` except the records, as relative path -> contents. */
function derivedFiles(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .filter((path) => !path.startsWith('runs'))
    .sort();
  return new Map(files.map((path) => [path, readFileSync(join(dir, path), 'utf8')]));
}

test('each model gets an accuracy-vs-temperature plot, and an accuracy-vs-eps plot only if an attack has 2+ eps', () => {
  assert.deepEqual(
    plotSpecs(RECORDS).map((plot) => [plot.file, plot.series]),
    [
      ['mnist__cnn-small__accuracy-vs-temperature.svg', ['clean', ...LABELS]],
      ['mnist__cnn-small__accuracy-vs-eps.svg', ['T=0.5', 'T=5', 'T=100']],
      ['synthetic__mlp__accuracy-vs-temperature.svg', ['clean', LABELS[0]]],
    ],
  );
});

test('every plot file is an SVG document that names its title, axes and series', async () => {
  const dir = tempDir();
  const { plots } = await writeReport(dir, RECORDS);
  const specs = plotSpecs(RECORDS);
  assert.equal(plots.length, specs.length);
  for (const [i, path] of plots.entries()) {
    const svg = readFileSync(path, 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="\d+" height="\d+"/, path);
    assert.ok(svg.endsWith('</svg>'), path);
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/, path);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
    for (const name of [specs[i].title, 'Accuracy (%)', ...specs[i].series]) assert.ok(texts.includes(name), `${path} has no text "${name}"`);
  }
});

test('a single model at one temperature still plots, without NaN', async () => {
  const { plots } = await writeReport(tempDir(), [record({ accuracies: [0.9, 0.5, 0.2, 0.1] })]);
  for (const path of plots) assert.doesNotMatch(readFileSync(path, 'utf8'), /NaN/, path);
});

test('the same records give byte-identical files, in under 2 s', async () => {
  const first = tempDir();
  const started = performance.now();
  await writeReport(first, RECORDS);
  const seconds = (performance.now() - started) / 1000;
  const second = tempDir();
  await writeReport(second, RECORDS);
  assert.deepEqual(derivedFiles(second), derivedFiles(first));
  assert.ok(seconds < 2, `writeReport took ${seconds.toFixed(2)} s`);
});

test('rebuildReport rewrites every view from the records alone', async () => {
  const reference = tempDir();
  await writeReport(reference, RECORDS);
  const dir = recordsOnly(RECORDS);
  const rebuilt = await rebuildReport(dir);
  assert.deepEqual([rebuilt.ok, rebuilt.failed], [7, 1]);
  assert.deepEqual(derivedFiles(dir), derivedFiles(reference));
});

test('temper report <dir> rebuilds runs.csv, tables, summary, plots and index.html from the records only', async () => {
  const reference = tempDir();
  const written = await writeReport(reference, RECORDS);
  const dir = recordsOnly(RECORDS);
  const result = temper('report', dir);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(derivedFiles(dir), derivedFiles(reference));
  const paths = [written.runsCsv, ...written.tables, written.summary, ...written.plots, written.html].map((path) => join(dir, relative(reference, path)));
  for (const path of paths) assert.ok(result.stdout.includes(`wrote ${path}\n`), `stdout does not name ${path}:\n${result.stdout}`);

  for (const path of ['runs.csv', 'tables', 'plots', 'summary.md', 'index.html']) rmSync(join(dir, path), { recursive: true });
  const json = temper('report', dir, '--json');
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).files, paths);
  assert.deepEqual(derivedFiles(dir), derivedFiles(reference));
});

test('temper report on a folder without records exits 2 and says what it expected', () => {
  const empty = tempDir();
  const result = temper('report', empty);
  assert.equal(result.status, 2, result.stderr);
  assert.ok(result.stderr.includes(`${empty}: no run records in ${join(empty, 'runs')}`), result.stderr);
  assert.match(result.stderr, /expected one <run_id>\.json per trained model/);
  assert.deepEqual(readdirSync(empty), []);
});

test('the HTML report renders in headless Chromium with every plot present', { skip: unlessInstalled(existsSync(CHROMIUM), "Debian's Chromium", 'apt-get install chromium') }, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing; this test needs Debian's Chromium: apt-get update && apt-get install -y chromium`,
  );
  const dir = tempDir();
  const { html, plots } = await writeReport(dir, RECORDS);
  const titles = plotSpecs(RECORDS).map((plot) => plot.title);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });

    const svgs = page.locator('svg');
    assert.equal(await svgs.count(), plots.length);
    for (const svg of await svgs.all()) {
      const box = await svg.boundingBox();
      assert.ok(box && box.width > 0 && box.height > 0, `an <svg> has no size: ${JSON.stringify(box)}`);
    }
    const headings = await page.locator('h3').allTextContents();
    assert.deepEqual(headings, titles);
    assert.deepEqual(await page.locator('table').count(), 2);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((url) => !url.startsWith('file:')), []);

    // The plot files on their own must parse as XML in a browser, not just look like SVG.
    for (const path of plots) {
      const problems = await page.evaluate(
        (text) => new DOMParser().parseFromString(text, 'image/svg+xml').getElementsByTagName('parsererror').length,
        readFileSync(path, 'utf8'),
      );
      assert.equal(problems, 0, `${path} is not well-formed SVG`);
    }
  } finally {
    await browser.close();
  }
});
