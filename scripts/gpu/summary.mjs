// One page from what scripts/gpu/device-check.sh wrote into DIR: temper's webgpu step times against PyTorch fp32 eager
// on the same card, and their ratios next to PERF.md's targets. Plain Node.js, no dependencies (it runs with the
// Node.js that .gpu/ carries).
//   node scripts/gpu/summary.mjs DIR     prints the page; writes DIR/summary.json
// Reads DIR/webgpu-*.json (`temper bench --json`), DIR/torch.json (torch_reference.py) and, for any step whose
// JSON is missing (a step stopped by its timeout prints none), the progress lines in DIR/device-check.log.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/gpu/summary.mjs DIR\n');
  process.exit(2);
}

/** PERF.md: what webgpu took before (H100, stock tfjs), what PyTorch took there, and the train-step target. */
const PERF = {
  'cnn-small train': { webgpuMs: 201, torchMs: 2.13, target: 3 },
  'vgg6-bn train': { webgpuMs: 762, torchMs: 4.82, target: 3 },
  'cnn-small pgd': { webgpuMs: null, torchMs: null, target: null },
  'vgg6-bn pgd': { webgpuMs: null, torchMs: 3.81, target: null },
};
const notes = [];

function readJson(path) {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    notes.push(`${path}: not JSON (${error.message.split('\n')[0]}); the step was probably cut short`);
    return null;
  }
}

// webgpu: one `temper bench --json` report per model.
const webgpu = new Map();
let webgpuInfo = null;
for (const name of existsSync(dir) ? readdirSync(dir).filter((f) => /^webgpu-.*\.json$/.test(f)).sort() : []) {
  const report = readJson(join(dir, name));
  for (const backend of report?.backends ?? []) {
    if (backend.error) notes.push(`${name}: webgpu not measured: ${backend.error}`);
    webgpuInfo ??= { device: backend.device, provider: `${backend.provider} ${backend.providerVersion ?? ''}`.trim(), projectKernels: backend.projectKernels, versions: report.versions, kernels: report.kernels };
    for (const m of backend.measurements ?? []) {
      webgpu.set(`${m.model} ${m.what}`, { ms: m.msPerStep, batch: m.batch, steps: m.steps, capped: m.capped, error: m.error, memory: m.memory, profile: m.profile ?? null, source: name });
    }
  }
}

// torch: torch_reference.py's report, strict fp32 first.
const torch = new Map();
const torchReport = readJson(join(dir, 'torch.json'));
for (const m of torchReport?.measurements ?? []) {
  torch.set(`${m.variant} ${m.model} ${m.what}`, { ms: m.msPerStep, batch: m.batch, steps: m.steps, capped: m.capped, error: m.error, source: 'torch.json' });
}

// Fallback: progress lines of steps whose JSON never came (e.g. "bench webgpu: vgg6-bn pgd: 41.2 ms/step, ...").
const logPath = join(dir, 'device-check.log');
if (existsSync(logPath)) {
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    let match = /^bench webgpu: (\S+) (train|pgd): ([\d.]+) ms\/step.* over (\d+) steps?/.exec(line);
    if (match && !webgpu.has(`${match[1]} ${match[2]}`)) {
      webgpu.set(`${match[1]} ${match[2]}`, { ms: Number(match[3]), batch: null, steps: Number(match[4]), capped: line.includes('(capped)'), error: null, source: 'log' });
    }
    match = /^torch (strict|defaults): (\S+) (train|pgd): ([\d.]+) ms\/step.* over (\d+) steps?/.exec(line);
    if (match && !torch.has(`${match[1]} ${match[2]} ${match[3]}`)) {
      torch.set(`${match[1]} ${match[2]} ${match[3]}`, { ms: Number(match[4]), batch: null, steps: Number(match[5]), capped: line.includes('(capped)'), error: null, source: 'log' });
    }
  }
}

const torchVersions = (v) => [`torch ${v.torch}`, v.cuda && `CUDA ${v.cuda}`, v.cudnn && `cuDNN ${v.cudnn}`].filter(Boolean).join(', ');
const ms = (value, digits = 1) => (value == null ? '-' : value.toFixed(digits));
const rows = [];
for (const key of Object.keys(PERF)) {
  const [model, what] = key.split(' ');
  const w = webgpu.get(key);
  const strict = torch.get(`strict ${key}`);
  const defaults = torch.get(`defaults ${key}`);
  const ratio = w?.ms != null && strict?.ms != null ? w.ms / strict.ms : null;
  const { target } = PERF[key];
  const verdict = ratio == null || target == null ? '-' : ratio <= target ? 'met' : 'missed';
  rows.push({ model, what, batch: w?.batch ?? strict?.batch ?? null, webgpuMs: w?.ms ?? null, torchStrictMs: strict?.ms ?? null, torchDefaultsMs: defaults?.ms ?? null, ratio, target, verdict, perf: PERF[key] });
  if (w?.error) notes.push(`webgpu ${key}: failed: ${w.error}`);
  if (strict?.error) notes.push(`torch ${key}: failed: ${strict.error}`);
  if (w?.capped) notes.push(`webgpu ${key}: capped by --max-seconds after ${w.steps} steps (fewer than asked)`);
  if (w?.source === 'log') notes.push(`webgpu ${key}: from the progress line in device-check.log (its JSON is missing)`);
  if (strict?.source === 'log') notes.push(`torch ${key}: from the progress line in device-check.log (torch.json is missing)`);
  if (w?.batch != null && strict?.batch != null && w.batch !== strict.batch) notes.push(`${key}: batch differs (webgpu ${w.batch}, torch ${strict.batch}): the ratio compares unlike steps`);
  const before = w?.memory?.before?.numTensors;
  const after = w?.memory?.after?.numTensors;
  if (before != null && after != null && before !== after) notes.push(`webgpu ${key}: tensors ${before} -> ${after} over the timed steps (a leak)`);
  if (!w) notes.push(`webgpu ${key}: no measurement`);
  if (!strict) notes.push(`torch ${key}: no measurement${torchReport || existsSync(logPath) ? '' : ' (no torch.json)'}`);
}
if (webgpuInfo && /software adapter/.test(webgpuInfo.device ?? '')) notes.push(`webgpu ran on a software adapter (${webgpuInfo.device}): these are not GPU numbers`);

const table = [['model', 'what', 'batch', 'webgpu ms', 'torch ms', 'ratio', 'target', 'PERF.md webgpu', 'torch defaults ms']];
for (const r of rows) {
  table.push([
    r.model, r.what, String(r.batch ?? '-'), ms(r.webgpuMs), ms(r.torchStrictMs, 2), r.ratio == null ? '-' : `${r.ratio.toFixed(1)}x`,
    r.target == null ? '-' : `<= ${r.target}x ${r.verdict}`, r.perf.webgpuMs == null ? '-' : `${r.perf.webgpuMs} ms (${(r.perf.webgpuMs / r.perf.torchMs).toFixed(0)}x)`, ms(r.torchDefaultsMs, 2),
  ]);
}
// `temper bench --profile`: where one more step's time went, the five largest kernels (GPU times where timed).
const profiles = [];
for (const [key, w] of webgpu) {
  const p = w.profile;
  if (!p) continue;
  const top = [...p.kernels].sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0) || b.calls - a.calls).slice(0, 5);
  profiles.push({ step: key, kernelCount: p.kernelCount, timed: p.timed, kernelMs: p.timed ? p.kernelMs : null, wallMs: p.wallMs, top });
}
const profileLines = profiles.map(({ step, kernelCount, timed, kernelMs, wallMs, top }) =>
  `${step}: ${kernelCount} kernels, ${timed ? `${ms(kernelMs)} ms in kernels of ${ms(wallMs)} ms` : `untimed, ${ms(wallMs)} ms`}; ` +
  top.map((k) => (timed ? `${k.name} ${ms(k.ms)} (${(100 * k.share).toFixed(0)}%)` : `${k.name} x${k.calls}`)).join(', '));

const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
const lines = [
  'temper webgpu against PyTorch fp32 eager, same machine (median ms per step; ratio = webgpu / torch strict fp32)',
  `webgpu: ${webgpuInfo ? `${webgpuInfo.device}; ${webgpuInfo.provider}; temper ${webgpuInfo.versions?.temper}, node ${webgpuInfo.versions?.node}, tfjs ${webgpuInfo.versions?.['tfjs-core']}; project kernels: ${webgpuInfo.projectKernels?.join(', ') || 'none'}` : 'no report'}`,
  `torch:  ${torchReport ? `${torchReport.device}; ${torchVersions(torchReport.versions)}; strict = TF32 off + cudnn.benchmark, defaults = as installed` : 'no torch.json'}`,
  '',
  ...table.map((row) => row.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd()),
  '',
  ...(profileLines.length ? ['where one profiled step\'s time went (temper bench --profile; the wall time includes profiling):', ...profileLines.map((line) => `- ${line}`), ''] : []),
  ...(notes.length ? ['notes:', ...[...new Set(notes)].map((note) => `- ${note}`)] : ['notes: none']),
];
process.stdout.write(`${lines.join('\n')}\n`);
writeFileSync(join(dir, 'summary.json'), `${JSON.stringify({ webgpu: webgpuInfo, torch: torchReport ? { device: torchReport.device, versions: torchReport.versions } : null, rows, profiles, notes: [...new Set(notes)] }, null, 2)}\n`);
