// index.html: one self-contained page (inline SVG, inline CSS, no scripts, nothing fetched) with the summary and every plot.
import type { PivotTable } from './tables.js';
import { AUDIT_NOTE, tableNote, WARNINGS_NOTE, type SummaryModel } from './summary.js';

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
figure { margin: 1rem 0 2rem; }
figure svg { max-width: 100%; height: auto; }
`;

/** The page; `svgs[i]` is the rendered `model.plots[i]`. */
export function reportHtml(model: SummaryModel, svgs: string[]): string {
  const sections = model.tables.map((table) => {
    const figures = model.plots.flatMap((plot, i) =>
      plot.dataset === table.dataset && plot.architecture === table.architecture
        ? [`<h3>${escapeHtml(plot.title)}</h3>\n<figure aria-label="${escapeHtml(plot.title)}">\n${svgs[i]}\n</figure>`]
        : [],
    );
    return [`<h2>${escapeHtml(`${table.dataset} / ${table.architecture}`)}</h2>`, htmlTable(table), ...figures].join('\n');
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
<ul>
<li>Runs: ${model.ok} ok, ${model.failed} failed</li>
<li>Backend: ${escapeHtml(model.backends.join(', ') || 'none')}</li>
<li>Newest record: ${escapeHtml(model.newestRecord ?? 'none')}</li>
</ul>
<p>${escapeHtml(tableNote(model.tables))}</p>
${sections.join('\n')}
<h2>Failed runs</h2>
${htmlList(model.failures)}
<h2>Gradient-masking warnings</h2>
<p>${escapeHtml(WARNINGS_NOTE)}</p>
${htmlList(model.warnings)}
<h2>Gradient-masking audit</h2>
<p>${escapeHtml(AUDIT_NOTE)}</p>
${htmlList(model.audit)}
</body>
</html>
`;
}

function htmlTable(table: PivotTable): string {
  const head = `<tr>${table.columns.map((column) => `<th scope="col">${escapeHtml(column)}</th>`).join('')}</tr>`;
  const body = table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`);
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function htmlList(lines: string[]): string {
  return lines.length === 0 ? '<p>None.</p>' : `<ul>\n${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('\n')}\n</ul>`;
}

function escapeHtml(text: string): string {
  return text.replaceAll(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
