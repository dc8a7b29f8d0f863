// index.html: one self-contained page (inline SVG, inline CSS, no scripts, nothing fetched) with the summary and every plot.
import type { PivotTable } from './tables.js';
import type { Plot } from './plots.js';
import { formatNumber } from './runs-csv.js';
import { AUDIT_NOTE, CALIBRATION_NOTE, calibrationCells, comparisonTitle, tableNote, WARNINGS_NOTE, type SummaryModel } from './summary.js';
import { comparisonCells, comparisonNote, comparisonVerdict, groupTitle } from './paired.js';
import { cellKey, maskedCells, setupPart, type MaskingFinding } from './warnings.js';

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; line-height: 1.4; overflow-wrap: break-word; }
.description { font-size: 1.1rem; color: #444; }
.scroll { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #f4f4f4; }
td.masked, .swatch { background: repeating-linear-gradient(135deg, #fff 0 3px, #f2b36b 3px 5px); }
td.masked { outline: 2px solid #c9731c; outline-offset: -2px; font-weight: 600; }
.swatch { display: inline-block; width: 1.6em; height: 1em; vertical-align: -0.15em; border: 2px solid #c9731c; margin-right: 0.3em; }
.swatch-marker { display: inline-block; width: 0.7em; height: 0.7em; border: 2px solid #555; border-radius: 50%; margin-right: 0.4em; }
.note, figcaption { color: #444; font-size: 0.9rem; }
.ci { display: block; color: #555; font-size: 0.85em; }
td.yes { font-weight: 600; }
figure { margin: 1.5rem 0 2.5rem; }
figure h3 { margin: 0 0 0.5rem; }
figure svg { display: block; width: 100%; height: auto; }
.findings > li { margin-bottom: 0.6rem; }
code { font-size: 0.9em; }
`;

/** The page; `svgs[i]` is `model.plots[i]` rendered without its title and notes, which the page shows as text. */
export function reportHtml(model: SummaryModel, svgs: string[]): string {
  const masked = maskedCells(model.masking);
  const sections = model.tables.map((table) => {
    const figures = model.plots.flatMap((plot, i) =>
      plot.dataset === table.dataset && plot.architecture === table.architecture ? [htmlFigure(plot, svgs[i]!, `plot-${i + 1}`)] : [],
    );
    return [`<h2>${escapeHtml(`${table.dataset} / ${table.architecture}`)}</h2>`, pivotHtml(table, masked), ...figures].join('\n');
  });
  const title = `${model.experiment}: temperature sweep report`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${model.description ? `<p class="description">${escapeHtml(model.description)}</p>\n` : ''}<ul>
<li>Runs: ${model.ok} ok, ${model.failed} failed</li>
<li>Backend: ${escapeHtml(model.backends.join(', ') || 'none')}</li>
<li>Newest record: ${escapeHtml(model.newestRecord ?? 'none')}</li>
</ul>
<p>${escapeHtml(tableNote(model.tables))}</p>
${sections.join('\n')}
${comparisonSection(model)}
<h2>Failed runs</h2>
${htmlList(model.failures.map(escapeHtml))}
${maskingSection(model.masking)}
${calibrationSection(model)}
</body>
</html>
`;
}

function pivotHtml(table: PivotTable, masked: Map<string, string[]>): string {
  let flagged = 0;
  const setupColumn = table.columns.indexOf('setup');
  const temperatureColumn = table.columns.indexOf('temperature');
  const body = table.rows.map((row, r) => {
    const setup = setupColumn < 0 ? '' : row[setupColumn]!;
    const cells = row.map((cell, c) => {
      const interval = table.intervals[r]?.[c];
      const text = `${escapeHtml(cell)}${interval ? `<span class="ci">${escapeHtml(interval)}</span>` : ''}`;
      const checks = masked.get(cellKey(table.dataset, table.architecture, setup, row[temperatureColumn]!, table.columns[c]!));
      if (!checks) return `<td>${text}</td>`;
      flagged += 1;
      return `<td class="masked" title="${escapeHtml(`flagged by the gradient-masking audit: ${checks.join(', ')}`)}">${text}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  const note = flagged === 0 ? '' : `\n<p class="note"><span class="swatch"></span>${MASKED_CELL_NOTE}</p>`;
  return `${htmlTable(table.columns, body)}${note}`;
}

const MASKED_CELL_NOTE =
  'Hatched: a number the gradient-masking audit flagged; it may measure masked gradients, not robustness (see <a href="#masking">Gradient masking</a>).';

function htmlFigure(plot: Plot, svg: string, id: string): string {
  const notes = plot.notes.map(escapeHtml);
  if (plot.maskedPoints.length > 0) {
    notes.push(`<span class="swatch-marker"></span>Hollow markers, flagged by the <a href="#masking">gradient-masking audit</a>: ${plot.maskedPoints.map(escapeHtml).join('; ')}.`);
  }
  // Up to a quarter larger than drawn where the page has room; scaled down to fit where it has not (a phone).
  const width = Number(/^<svg[^>]* width="(\d+)"/.exec(svg)?.[1] ?? 0);
  const style = width > 0 ? ` style="max-width: ${Math.round(width * 1.25)}px"` : '';
  return `<figure aria-labelledby="${id}">
<h3 id="${id}">${escapeHtml(plot.title)}</h3>
<div class="plot"${style}>
${svg}
</div>
<figcaption>${notes.join('<br>\n')}</figcaption>
</figure>`;
}

// The audit and the zero-gradient warnings in one list, one entry per trained model (or per cell group for old records).
function maskingSection(findings: MaskingFinding[]): string {
  const items = findings.map((finding) => {
    const where = `${finding.dataset} / ${finding.architecture}${setupPart(finding.setup)}, T=${formatNumber(finding.temperature)}`;
    const who = finding.seed === undefined ? `${where}, mean over seeds` : `${where}, seed ${finding.seed}`;
    const flags = finding.flags.map((flag) => `<li><code>${escapeHtml(flag.check)}</code>: ${escapeHtml(flag.message)}</li>`);
    return `<strong>${escapeHtml(who)}</strong>\n<ul>\n${flags.join('\n')}\n</ul>`;
  });
  const unaudited = findings.some((finding) => finding.seed === undefined) ? ` Records written before the audit: ${WARNINGS_NOTE}` : '';
  return `<h2 id="masking">Gradient masking</h2>
<p>${escapeHtml(AUDIT_NOTE + unaudited)} Flagged numbers are hatched in the tables and drawn as hollow markers in the plots.</p>
${htmlList(items, 'findings')}`;
}

function comparisonSection(model: SummaryModel): string {
  if (model.comparisons.length === 0) return '';
  const groups = model.comparisons.map((group) => {
    const [header, ...rows] = comparisonCells(group);
    const body = rows.map((row) => `<tr>${row.map((cell, c) => `<td${c === row.length - 1 && cell === 'yes' ? ' class="yes"' : ''}>${escapeHtml(cell)}</td>`).join('')}</tr>`);
    const table = rows.length === 0 ? '' : `${htmlTable(header!, body)}\n`;
    return `<h3>${escapeHtml(groupTitle(group))}</h3>\n${table}<p>${escapeHtml(comparisonVerdict(group))}</p>`;
  });
  return `<h2 id="paired">${escapeHtml(comparisonTitle(model.baselineTemperature))}</h2>\n<p>${escapeHtml(comparisonNote(model.baselineTemperature))}</p>\n${groups.join('\n')}`;
}

function calibrationSection(model: SummaryModel): string {
  if (model.calibration.length === 0) return '';
  const [header, ...rows] = calibrationCells(model.calibration);
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`);
  return `<h2 id="calibration">Calibration</h2>\n<p>${escapeHtml(CALIBRATION_NOTE)}</p>\n${htmlTable(header!, body)}`;
}

// Wide tables scroll inside their own box, so the page itself never scrolls sideways on a phone.
function htmlTable(columns: string[], body: string[]): string {
  const head = `<tr>${columns.map((column) => `<th scope="col">${escapeHtml(column)}</th>`).join('')}</tr>`;
  return `<div class="scroll">\n<table>\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>\n</div>`;
}

/** `items` are HTML already. */
function htmlList(items: string[], className?: string): string {
  if (items.length === 0) return '<p>None.</p>';
  return `<ul${className ? ` class="${className}"` : ''}>\n${items.map((item) => `<li>${item}</li>`).join('\n')}\n</ul>`;
}

function escapeHtml(text: string): string {
  return text.replaceAll(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
