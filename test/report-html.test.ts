import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { auditMasking, markRows } from '../src/eval/masking.js';
import { plotSpecs, rebuildReport, summaryModel, writeReport } from '../src/report/index.js';
import { reportHtml } from '../src/report/html.js';
import { writeRecord } from '../src/runner/store.js';
import type { RunRecord } from '../src/types.js';
import { LABELS, record } from './fixtures.js';
import { unlessInstalled } from './system.js';

const root = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
/** Every browser test's skip: Chromium missing outside CI (under CI=true they run and fail on the missing browser). */
const NO_CHROMIUM = unlessInstalled(existsSync(CHROMIUM), "Debian's Chromium", 'apt-get install chromium');
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

/** The record as `temper run` writes it now: audited for gradient masking (MNIST: 10 classes, 28x28), with calibration. */
function audited(each: RunRecord, ece = 0.01 * each.job.temperature): RunRecord {
  if (each.status !== 'ok') return each;
  const masking = auditMasking(each.attacks, { classes: 10, imageSize: 784 });
  const calibration = { trainTemperature: { ece, nll: 2 * ece }, unitTemperature: { ece: 3 * ece, nll: 4 * ece }, bins: 15 };
  return { ...each, attacks: markRows(each.attacks, masking), masking, calibration };
}

// RECORDS as the audit sees them: at T = 100 both FGSM rows saw 79% / 77% exactly-zero gradients, so the audit flags
// them; the CW attack's gradients never vanish and it leaves 0% at every T.
const AUDITED = [
  record({ temperature: 0.5, seed: 0, accuracies: [0.96, 0.81, 0.05, 0.0], zeroGradFractions: [0, 0, 0] }),
  record({ temperature: 0.5, seed: 1, accuracies: [0.95, 0.79, 0.04, 0.0], zeroGradFractions: [0, 0, 0] }),
  record({ temperature: 5, seed: 0, accuracies: [0.94, 0.76, 0.71, 0.001], zeroGradFractions: [0, 0, 0] }),
  record({ temperature: 5, seed: 1, failureReason: 'training loss became NaN at epoch 2, step 17' }),
  record({ temperature: 100, seed: 0, accuracies: [0.88, 0.86, 0.86, 0.0], zeroGradFractions: [0.79, 0.79, 0] }),
  record({ temperature: 100, seed: 1, accuracies: [0.87, 0.85, 0.84, 0.0], zeroGradFractions: [0.77, 0.77, 0] }),
  record({ dataset: 'synthetic', architecture: 'mlp', temperature: 1, accuracies: [0.7, 0.4], zeroGradFractions: [0] }),
  record({ dataset: 'synthetic', architecture: 'mlp', temperature: 10, accuracies: [0.6, 0.5], zeroGradFractions: [0] }),
].map((each) => audited(each));
const DESCRIPTION = 'Embedded MNIST, cnn-small, T in {0.5, 5, 100}: compare <fgsm> with pgd40-cw & see masking.';

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

test('the same records give byte-identical files, in under 2 s of CPU', async () => {
  const first = tempDir();
  // CPU time, not wall time: a busy machine stretches the wall clock, not the work (each plot is drawn twice, file and page).
  const started = process.cpuUsage();
  await writeReport(first, RECORDS);
  const { user, system } = process.cpuUsage(started);
  const seconds = (user + system) / 1e6;
  const second = tempDir();
  await writeReport(second, RECORDS);
  assert.deepEqual(derivedFiles(second), derivedFiles(first));
  assert.ok(seconds < 2, `writeReport took ${seconds.toFixed(2)} s of CPU`);
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

test('the HTML report renders in headless Chromium with every plot present', { skip: NO_CHROMIUM }, async () => {
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
    const headings = await page.locator('figure h3').allTextContents();
    assert.deepEqual(headings, titles);
    // An accuracy table per dataset / architecture, and a paired comparison against T = 1 where T = 1 was trained:
    // mnist was not (T = 0.5, 5, 100), so it gets a sentence instead.
    assert.deepEqual(await page.locator('table').count(), 3);
    assert.ok((await page.locator('body').textContent())!.includes('Nothing to compare: no model finished at the baseline T = 1.'));
    assert.deepEqual(await page.locator('#paired ~ h3').allTextContents(), ['mnist / cnn-small', 'synthetic / mlp']);
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

test('the masking section lists every audit flag once, and zero-gradient warnings only for records written before the audit', () => {
  const html = reportHtml(summaryModel(AUDITED), []);
  assert.deepEqual([...html.matchAll(/<h2[^>]*>([^<]*masking[^<]*)<\/h2>/gi)].map((match) => match[1]), ['Gradient masking']);
  const messages = AUDITED.flatMap((each) => each.masking?.flags.map((flag) => flag.message) ?? []);
  assert.equal(messages.length, 4, 'two seeds at T = 100, two FGSM rows each');
  const text = html.replaceAll(/<[^>]*>/g, '');
  for (const message of messages) assert.equal(text.split(message).length - 1, 1, `"${message}" is not on the page exactly once`);

  // Without audits, the same T = 100 cells are found from their zero-gradient shares (mean over seeds), once each.
  const old = reportHtml(summaryModel(RECORDS), []).replaceAll(/<[^>]*>/g, '');
  assert.equal(old.split('mnist / cnn-small, T=100, mean over seeds').length - 1, 1);
  assert.equal(old.split('78.0% of input gradients were exactly zero under fgsm-ce(T=1)@0.1').length - 1, 1);
});

/** `playwright-core` against Debian's Chromium, one browser for every check of a page. */
async function withBrowser(run: (browser: Browser) => Promise<void>): Promise<void> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing; this test needs Debian's Chromium: apt-get update && apt-get install -y chromium`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

/** The text of each pivot cell the page hatches, as "T <temperature> <column>", and whether a hatch is painted. */
async function hatchedCells(page: Page): Promise<{ cells: string[]; painted: boolean[] }> {
  return page.evaluate(() => {
    const cells = [...document.querySelectorAll('td.masked')].map((cell) => {
      const table = cell.closest('table')!;
      const column = table.querySelectorAll('th')[(cell as HTMLTableCellElement).cellIndex]!.textContent;
      return `T ${cell.parentElement!.firstElementChild!.textContent} ${column}`;
    });
    const painted = [...document.querySelectorAll('td.masked')].map((cell) => getComputedStyle(cell).backgroundImage.includes('repeating-linear-gradient'));
    return { cells, painted };
  });
}

describe('index.html in Chromium at 1400 px shows the finding', { skip: NO_CHROMIUM }, () => {
  let browser: Browser;
  let page: Page;
  const titles = plotSpecs(AUDITED).map((plot) => plot.title);
  const temperaturePlot = () => page.locator('figure').first();

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing; this test needs Debian's Chromium: apt-get update && apt-get install -y chromium`);
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ name: 'quickstart', description: DESCRIPTION }));
    const { html } = await writeReport(dir, AUDITED);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // The page is static once loaded: a missing element should fail fast, not after playwright's 30 s.
    page.setDefaultTimeout(5_000);
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
  });
  after(() => browser?.close());

  test("the config's description is shown under the title", async () => {
    assert.equal(await page.evaluate(() => document.querySelector('h1 + p.description')?.textContent), DESCRIPTION);
  });

  test('each plot title appears once (a heading; the drawing leaves it out)', async () => {
    const text = (await page.locator('body').textContent()) ?? '';
    for (const title of titles) assert.equal(text.split(title).length - 1, 1, `"${title}" is on the page ${text.split(title).length - 1} times`);
    assert.deepEqual(await page.locator('figure h3').allTextContents(), titles);
  });

  test('one gradient-masking section, after the paired comparison and the failed runs, before calibration', async () => {
    assert.deepEqual(await page.locator('h2').allTextContents(), [
      'mnist / cnn-small',
      'synthetic / mlp',
      'Each temperature against T = 1, paired by seed',
      'Failed runs',
      'Gradient masking',
      'Calibration',
    ]);
  });

  test('the cells the audit flagged are hatched, and only those', async () => {
    // Both FGSM rows at T = 100 (both seeds).
    const { cells, painted } = await hatchedCells(page);
    assert.deepEqual(cells, ['T 100 fgsm-ce(T=1)@0.1', 'T 100 fgsm-ce(T=1)@0.3']);
    assert.deepEqual(painted, [true, true]);
    assert.match((await page.locator('h2 + .scroll + p.note').first().textContent()) ?? '', /^Hatched: a number the gradient-masking audit flagged/);
  });

  test('the points the audit flagged are hollow markers, named under the plot', async () => {
    const hollow = await temperaturePlot()
      .locator('[aria-roledescription="point"][fill="white"]')
      .evaluateAll((points) => points.map((point) => point.getAttribute('aria-label')));
    assert.deepEqual(hollow.map((label) => /T \(log scale\): (\S+);.*: (\S+)$/.exec(label ?? '')?.slice(1).join(' ')), ['100 fgsm-ce(T=1)@0.1', '100 fgsm-ce(T=1)@0.3']);
    assert.match(
      (await temperaturePlot().locator('figcaption').textContent()) ?? '',
      /Hollow markers, flagged by the gradient-masking audit: T=100 fgsm-ce\(T=1\)@0\.1 \(zero-gradient\); T=100 fgsm-ce\(T=1\)@0\.3 \(zero-gradient\)\./,
    );
    assert.equal(await page.locator('figure').nth(1).locator('[aria-roledescription="point"][fill="white"]').count(), 2, 'accuracy-vs-eps: T=100 at both eps');
  });

  test('the CW line at 0% is dashed and its markers sit clear of the x axis', async () => {
    const dashed = await temperaturePlot()
      .locator('[aria-roledescription="line mark"]')
      .evaluateAll((lines) => lines.filter((line) => line.getAttribute('stroke-dasharray') !== '1,0').map((line) => line.getAttribute('aria-label')!.split(': ').at(-1)));
    assert.deepEqual(dashed, ['pgd40-cw@0.3']);
    const { zeros, gap } = await temperaturePlot().evaluate((figure) => {
      const axis = [...figure.querySelectorAll('.role-axis-domain line')].find((line) => line.getAttribute('y2') === '0')!.getBoundingClientRect();
      const points = [...figure.querySelectorAll('[aria-roledescription="point"]')];
      const atZero = points.filter((point) => /Accuracy \(%\): 0;/.test(point.getAttribute('aria-label') ?? ''));
      return { zeros: atZero.length, gap: Math.min(...atZero.map((point) => axis.top - point.getBoundingClientRect().bottom)) };
    });
    assert.equal(zeros, 2, 'pgd40-cw@0.3 at T = 0.5 and T = 100 each have a marker at 0%');
    assert.ok(gap >= 3, `a 0% marker is ${gap.toFixed(1)} px above the x axis`);
  });

  test('the calibration table is there, as summary.md has it (mean over the ok seeds per temperature)', async () => {
    const calibration = page.locator('#calibration ~ .scroll table');
    assert.equal(await calibration.count(), 1);
    assert.deepEqual((await calibration.locator('th').allTextContents()).slice(4), ['ECE (train T)', 'NLL (train T)', 'ECE (T=1)', 'NLL (T=1)']);
    assert.deepEqual(await calibration.locator('tbody tr').first().locator('td').allTextContents(), ['mnist', 'cnn-small', '0.5', '2', '0.0050', '0.0100', '0.0150', '0.0200']);
    assert.equal(await calibration.locator('tbody tr').count(), 5);
  });
});

test('index.html at phone width (390 px) never scrolls sideways: wide tables scroll in their own box, plots shrink', { skip: NO_CHROMIUM }, async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ name: 'quickstart', description: DESCRIPTION }));
  const { html } = await writeReport(dir, AUDITED);
  await withBrowser(async (browser) => {
    const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth }));
    assert.ok(widths.page <= widths.view, `the page is ${widths.page} px wide in a ${widths.view} px window`);
    const outside = await page.evaluate(() =>
      [...document.body.querySelectorAll('*')]
        .filter((element) => !element.closest('.scroll') && element.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .map((element) => element.tagName),
    );
    assert.deepEqual(outside, []);
    const scrolls = await page.locator('.scroll').evaluateAll((boxes) => boxes.map((box) => box.scrollWidth > box.clientWidth));
    assert.ok(scrolls.includes(true), 'the mnist table is wider than a phone, so its box should scroll');
  });
});
