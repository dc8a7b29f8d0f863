// Vega-lite specs to SVG text, rendered headless by vega (no canvas needed for SVG).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One SVG document per spec, in order. */
export async function renderSvgs(specs: TopLevelSpec[]): Promise<string[]> {
  const svgs: string[] = [];
  // One after another: vega numbers clip paths and gradients globally, so a fixed order keeps the ids (and files) identical.
  for (const spec of specs) {
    svgs.push(await new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' }).toSVG());
  }
  return svgs;
}
