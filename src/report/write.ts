// Writes every file of the report into a results folder; rendering is deterministic, so equal records give equal bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { reportHtml } from './html.js';
import { pageSpec } from './plots.js';
import { renderSvgs } from './render-svg.js';
import { writeRunsCsv } from './runs-csv.js';
import { summaryMarkdown, summaryModel } from './summary.js';
import { writeTables } from './tables.js';

export interface ReportFiles {
  runsCsv: string;
  tables: string[];
  summary: string;
  plots: string[];
  html: string;
}

/** Writes runs.csv, tables/*.csv, summary.md, plots/*.svg and index.html into `outDir`; returns their paths. */
export async function writeReport(outDir: string, records: RunRecord[]): Promise<ReportFiles> {
  const model = summaryModel(records, configDescription(outDir));
  const svgs = await renderSvgs(model.plots.map((plot) => plot.spec));
  const pageSvgs = await renderSvgs(model.plots.map(pageSpec));
  const plots = model.plots.map((plot, i) => {
    const path = join(outDir, 'plots', plot.file);
    writeFileAtomic(path, svgs[i]);
    return path;
  });
  const summary = join(outDir, 'summary.md');
  writeFileAtomic(summary, summaryMarkdown(model));
  const html = join(outDir, 'index.html');
  writeFileAtomic(html, reportHtml(model, pageSvgs));
  return { runsCsv: writeRunsCsv(outDir, records), tables: writeTables(outDir, records), summary, plots, html };
}

/** Every written path, in the order a person reads them: data, tables, summary, plots, page. */
export function reportFileList(files: ReportFiles): string[] {
  return [files.runsCsv, ...files.tables, files.summary, ...files.plots, files.html];
}

// `temper run` and `temper merge` write the resolved config beside the records; a folder without one (or with one
// that does not parse) simply has no description to show, which is no reason to fail the report.
function configDescription(outDir: string): string | undefined {
  try {
    const { description } = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')) as { description?: unknown };
    return typeof description === 'string' && description.trim() !== '' ? description.trim() : undefined;
  } catch {
    return undefined;
  }
}
