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
import { DEFAULT_BASELINE_TEMPERATURE } from './paired.js';

export interface ReportFiles {
  runsCsv: string;
  tables: string[];
  summary: string;
  plots: string[];
  html: string;
}

export interface ReportOptions {
  /** The temperature the others are compared with; default: the folder config's `report.baselineTemperature`, else 1. */
  baselineTemperature?: number;
}

/** Writes runs.csv, tables/*.csv, summary.md, plots/*.svg and index.html into `outDir`; returns their paths. */
export async function writeReport(outDir: string, records: RunRecord[], options: ReportOptions = {}): Promise<ReportFiles> {
  const settings = folderSettings(outDir);
  const model = summaryModel(records, settings.description, options.baselineTemperature ?? settings.baselineTemperature);
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

/** The report settings of a folder's config.json: its description and baseline temperature (1 where it sets none). */
export function folderSettings(outDir: string): { description: string | undefined; baselineTemperature: number } {
  // `temper run` and `temper merge` write the resolved config beside the records; a folder without one (or with one
  // that does not parse) simply has no description to show and the default baseline, which is no reason to fail the report.
  let config: { description?: unknown; report?: { baselineTemperature?: unknown } } = {};
  try {
    config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')) as typeof config;
  } catch {
    // Defaults below.
  }
  const { description } = config;
  const baseline = config.report?.baselineTemperature;
  return {
    description: typeof description === 'string' && description.trim() !== '' ? description.trim() : undefined,
    baselineTemperature: typeof baseline === 'number' && baseline > 0 ? baseline : DEFAULT_BASELINE_TEMPERATURE,
  };
}
