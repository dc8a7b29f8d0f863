#!/usr/bin/python3
"""Temper's robust accuracy next to the reference AutoAttack's, on the same checkpoint and the same images.

For every finished run of a temper results folder, this loads the run's checkpoint into PyTorch (temper_torch.py),
checks that PyTorch's clean logits equal temper's on the images temper evaluated (the first eval.samples test images,
exported by export_inputs.mjs), then runs the reference implementation of Croce & Hein (github.com/fra31/auto-attack)
on the logits z:

  matched   for each of temper's rows that AutoAttack has a counterpart for, the reference attack with the same
            settings: apgd (CE or DLR, steps, restarts, rho; CE at temperature t attacks z / t), apgd targeted
            (APGD-T with as many target classes as temper's restarts: the reference targets the most likely wrong
            classes, temper a random one per restart), square (queries, p_init, restarts, margin loss, schedule
            rescaled to the queries as temper's is) and autoattack (the reference ensemble run with temper's members)
  standard  AutoAttack's standard Linf evaluation: APGD-CE (100 steps), APGD-T (9 targets x 100), FAB-T (9 targets
            x 100), Square (5000 queries), each on every image, and the ensemble itself

and prints one table per model: attack, eps, temper's robust accuracy, the reference's, the difference.

Usage (PyTorch from Debian: use /usr/bin/python3, not a pyenv python3):
  npm run build
  node bin/temper.js run CONFIG --out results/x          # checkpoints are on by default (training.checkpoint)
  PYTHONPATH=/path/to/auto-attack /usr/bin/python3 tools/reference-check/reference_check.py compare results/x
  /usr/bin/python3 tools/reference-check/reference_check.py logits --checkpoint DIR --inputs DIR   # clean logits only
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

INSTALL_TORCH = ('PyTorch is not importable by {python}. Install it (Debian/Ubuntu: apt-get install python3-torch, then run '
                 'this tool with /usr/bin/python3; elsewhere: pip install torch)')
INSTALL_AUTOATTACK = ('the reference AutoAttack is not importable. Install it (pip install git+https://github.com/fra31/auto-attack) '
                      'or point at a checkout: --autoattack PATH or PYTHONPATH=PATH (the folder that contains autoattack/)')
# Clean logits agree when every |z_torch - z_temper| <= this share of the largest |z| of the example (float32 sums in
# another order differ by a few units in the last place, times the depth of the network).
LOGIT_TOLERANCE = 1e-4


def fail(message: str, code: int = 2):
    print(f'reference_check.py: {message}', file=sys.stderr)
    sys.exit(code)


def import_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        fail(INSTALL_TORCH.format(python=sys.executable))
    import torch
    return torch


def import_autoattack(path: str | None):
    if path:
        sys.path.insert(0, os.path.abspath(path))
    try:
        from autoattack import AutoAttack  # noqa: F401
    except ImportError as error:
        fail(f'{INSTALL_AUTOATTACK} ({error})')
    import autoattack
    return autoattack


# ------------------------------------------------------------------------------------------------------------------
# Inputs and clean logits

def read_inputs(folder: str):
    """Images (NCHW float32 tensor), labels (int64) and temper's logits, as export_inputs.mjs wrote them."""
    import numpy as np
    torch = import_torch()
    with open(os.path.join(folder, 'meta.json')) as f:
        meta = json.load(f)
    n, (h, w, c), k = meta['samples'], meta['imageShape'], meta['numClasses']
    images = np.fromfile(os.path.join(folder, 'images_f32.bin'), dtype='<f4').reshape(n, h, w, c)
    labels = np.fromfile(os.path.join(folder, 'labels_i32.bin'), dtype='<i4')
    logits = np.fromfile(os.path.join(folder, 'logits_f32.bin'), dtype='<f4').reshape(n, k)
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x, torch.from_numpy(labels.astype('int64')), torch.from_numpy(logits), meta


def predict(model, x, batch: int = 250):
    torch = import_torch()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def compare_logits(model, x, y, temper_logits) -> dict:
    """How closely PyTorch's logits follow temper's on the same images."""
    ours = predict(model, x)
    scale = temper_logits.abs().max(dim=1, keepdim=True).values.clamp(min=1.0)
    relative = ((ours - temper_logits).abs() / scale).max().item()
    return {
        'samples': int(x.shape[0]),
        'maxAbsDifference': (ours - temper_logits).abs().max().item(),
        'maxRelativeDifference': relative,
        'largestLogit': temper_logits.abs().max().item(),
        'argmaxAgreement': (ours.argmax(1) == temper_logits.argmax(1)).float().mean().item(),
        'cleanAccuracyTorch': (ours.argmax(1) == y).float().mean().item(),
        'cleanAccuracyTemper': (temper_logits.argmax(1) == y).float().mean().item(),
        'agree': relative <= LOGIT_TOLERANCE and bool((ours.argmax(1) == temper_logits.argmax(1)).all()),
    }


def export_inputs(checkpoint: str, dataset: str, samples: int, out: str, data_dir: str | None, record: str | None = None) -> dict:
    """Runs export_inputs.mjs (temper's own data loading and forward pass) into `out`."""
    command = ['node', os.path.join(HERE, 'export_inputs.mjs'), '--checkpoint', checkpoint, '--dataset', dataset,
               '--samples', str(samples), '--out', out]
    if data_dir:
        command += ['--data-dir', data_dir]
    if record:
        command += ['--record', record]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f'{" ".join(command)} failed (exit {done.returncode}); is temper built (npm run build)?\n{done.stderr.strip()}')
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------------------------
# Temper's attack configs -> the reference's

def loss_temperature(config: dict, model_temperature: float) -> float:
    t = config.get('lossTemperature', 1)
    return model_temperature if t == 'train' else float(t)


def member_of(config: dict, model_temperature: float) -> tuple[dict | None, str]:
    """The reference counterpart of one temper attack config (no eps), or None and why not."""
    name = config['name']
    if name == 'apgd':
        loss, target = config.get('loss', 'ce'), config.get('target', 'none')
        common = {'n_iter': config['steps'], 'rho': config.get('rho', 0.75)}
        if target == 'none' and loss in ('ce', 'dlr'):
            t = loss_temperature(config, model_temperature) if loss == 'ce' else 1.0
            return {'kind': 'apgd-' + loss, 'n_restarts': config.get('restarts', 1), 'temperature': t, **common}, ''
        if target == 'top' and loss == 'dlr':
            return {'kind': 'apgd-t', 'n_target_classes': config.get('restarts', 1), **common}, ''
        if target == 'random' and loss == 'dlr':
            note = 'reference targets the most likely wrong classes, temper random ones'
            return {'kind': 'apgd-t', 'n_target_classes': config.get('restarts', 1), **common}, note
        return None, f'AutoAttack has no APGD with loss {loss} and target {target}'
    if name == 'fab':
        target = config.get('target', 'none')
        common = {'n_iter': config['steps'], 'alpha_max': config.get('alphaMax', 0.1), 'eta': config.get('eta', 1.05), 'beta': config.get('beta', 0.9)}
        if target == 'none':
            return {'kind': 'fab', 'n_restarts': config.get('restarts', 1), **common}, ''
        if target == 'top':
            return {'kind': 'fab-t', 'n_target_classes': config.get('restarts', 1), **common}, ''
        return None, f'AutoAttack has no FAB with target {target}'
    if name == 'square':
        loss = {'cw': 'margin', 'ce': 'ce'}.get(config.get('loss', 'cw'))
        if loss is None or (loss == 'ce' and loss_temperature(config, model_temperature) != 1):
            return None, f'AutoAttack\'s Square has no loss {config.get("loss")} at this temperature'
        return {'kind': 'square', 'n_queries': config['queries'], 'p_init': config.get('pInit', 0.8),
                'n_restarts': config.get('restarts', 1), 'loss': loss, 'resc_schedule': config.get('rescaleSchedule', True)}, \
            ('' if config.get('squares') == 'shared' else 'temper draws a square per example (squares: per-example), the reference one per batch')
    return None, f'AutoAttack has no counterpart of temper\'s {name}'


STANDARD = [
    {'kind': 'apgd-ce', 'n_iter': 100, 'n_restarts': 1, 'rho': 0.75, 'temperature': 1.0},
    {'kind': 'apgd-t', 'n_iter': 100, 'n_target_classes': 9, 'rho': 0.75},
    {'kind': 'fab-t', 'n_iter': 100, 'n_target_classes': 9, 'alpha_max': 0.1, 'eta': 1.05, 'beta': 0.9},
    {'kind': 'square', 'n_queries': 5000, 'p_init': 0.8, 'n_restarts': 1, 'loss': 'margin', 'resc_schedule': False},
]


def describe(member: dict) -> str:
    kind = member['kind']
    if kind in ('apgd-ce', 'apgd-dlr'):
        t = '' if member.get('temperature', 1.0) == 1.0 else f' on z/{member["temperature"]:g}'
        return f'{kind.upper()} {member["n_iter"]} steps x {member["n_restarts"]} restarts{t}'
    if kind == 'apgd-t':
        return f'APGD-T {member["n_target_classes"]} targets x {member["n_iter"]} steps'
    if kind == 'fab-t':
        return f'FAB-T {member["n_target_classes"]} targets x {member["n_iter"]} steps'
    if kind == 'fab':
        return f'FAB {member["n_iter"]} steps x {member["n_restarts"]} restarts'
    if kind == 'square':
        return f'Square {member["n_queries"]} queries, p_init {member["p_init"]}{", rescaled schedule" if member["resc_schedule"] else ""}'
    raise AssertionError(kind)


def key_of(members: list[dict]) -> str:
    return json.dumps(members, sort_keys=True)


class Scaled:
    """z / t, for a CE attack at loss temperature t (argmax, and so accuracy, is unchanged)."""

    def __init__(self, model, temperature: float):
        self.model, self.temperature = model, temperature

    def __call__(self, x):
        return self.model(x) / self.temperature


def run_reference(autoattack, model, x, y, eps: float, members: list[dict], seed: int, batch: int,
                  resume: tuple[list[dict], object] | None = None) -> tuple[object, float, list[str]]:
    """
    Per-example robustness (bool tensor) under the reference ensemble of `members` (one member: that attack alone),
    the seconds it took, and the warnings of AutoAttack's own checks (zero gradients, Square stronger than the rest). `resume` = (the first members, their robustness): the rest of the ensemble then runs on
    the examples those left standing, in their order, which is what AutoAttack itself does after them (same batches,
    same seed per attack), without running them again.
    """
    torch = import_torch()
    if resume is not None:
        done, robust = resume
        members = members[len(done):]
        standing = robust.nonzero().flatten()
        if standing.numel() == 0:
            return robust.clone(), 0.0, []
        rest, seconds, warnings = run_reference(autoattack, model, x[standing], y[standing], eps, members, seed, batch)
        combined = robust.clone()
        combined[standing] = rest
        return combined, seconds, warnings
    kinds = [m['kind'] for m in members]
    # apgd-ce and apgd-dlr share the reference's one APGD instance, so they must share its settings.
    untargeted = {(m['n_iter'], m['n_restarts'], m['rho'], m.get('temperature', 1.0)) for m in members if m['kind'] in ('apgd-ce', 'apgd-dlr')}
    fabs = {(m['n_iter'], m['alpha_max'], m['eta'], m['beta']) for m in members if m['kind'] in ('fab', 'fab-t')}
    if len(set(kinds)) != len(kinds) or len(untargeted) > 1 or len(fabs) > 1:
        raise ValueError(f'the reference ensemble cannot run these members together: {", ".join(describe(m) for m in members)}')
    aa = autoattack.AutoAttack(model, norm='Linf', eps=eps, version='custom', attacks_to_run=kinds, seed=seed, device='cpu', verbose=False)
    for m in members:
        if m['kind'] in ('apgd-ce', 'apgd-dlr'):
            aa.apgd.n_iter, aa.apgd.n_iter_orig, aa.apgd.n_restarts, aa.apgd.thr_decr = m['n_iter'], m['n_iter'], m['n_restarts'], m['rho']
            if m.get('temperature', 1.0) != 1.0:
                aa.apgd.model = Scaled(model, m['temperature'])
        elif m['kind'] == 'apgd-t':
            t = aa.apgd_targeted
            t.n_iter, t.n_iter_orig, t.n_target_classes, t.n_restarts, t.thr_decr = m['n_iter'], m['n_iter'], m['n_target_classes'], 1, m['rho']
        elif m['kind'] in ('fab', 'fab-t'):
            # fab and fab-t share the reference's one FAB instance (AutoAttack sets `targeted` per run).
            f = aa.fab
            f.n_iter, f.alpha_max, f.eta, f.beta = m['n_iter'], m['alpha_max'], m['eta'], m['beta']
            f.n_target_classes, f.n_restarts = (m['n_target_classes'], 1) if m['kind'] == 'fab-t' else (f.n_target_classes, m['n_restarts'])
        elif m['kind'] == 'square':
            q = aa.square
            q.n_queries, q.p_init, q.n_restarts, q.loss, q.rescale_schedule = m['n_queries'], m['p_init'], m['n_restarts'], m['loss'], m['resc_schedule']
    started = time.time()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        adversarial = aa.run_standard_evaluation(x, y, bs=batch)
    seconds = time.time() - started
    warnings = sorted({line.strip() for line in printed.getvalue().splitlines() if line.strip().lower().startswith('warning')})
    # Checked rather than trusted: every adversarial image within eps of its clean image and in [0, 1].
    distance = (adversarial - x).abs().reshape(x.shape[0], -1).max(1).values.max().item()
    if distance > eps + 1e-6 or adversarial.min().item() < 0 or adversarial.max().item() > 1:
        raise ValueError(f'reference adversarials leave the eps-ball or [0, 1]: max Linf distance {distance}')
    return predict(model, adversarial).argmax(1) == y, seconds, warnings


# ------------------------------------------------------------------------------------------------------------------
# Commands

def latest_records(results: str) -> list[dict]:
    """The finished runs of a temper results folder (runs/*.json), newest per run id, in grid order."""
    records = []
    for path in sorted(glob.glob(os.path.join(results, 'runs', '*.json'))):
        with open(path) as f:
            record = json.load(f)
        if record.get('status') == 'ok':
            record['_file'] = path
            records.append(record)
    if not records:
        fail(f'{results}: no finished runs under {os.path.join(results, "runs")}; run temper first (node bin/temper.js run CONFIG --out {results})')
    return sorted(records, key=lambda r: (r['job'].get('index', 0), r['runId']))


def checkpoint_of(record: dict, results: str) -> str:
    candidates = [(record.get('checkpoint') or {}).get('path'), os.path.join(results, 'checkpoints', record['job']['trainingId'])]
    for path in candidates:
        if path and os.path.exists(os.path.join(path, 'model.json')):
            return path
    fail(f'{record["_file"]}: no checkpoint at {" or ".join(p for p in candidates if p)}; '
         'temper saves one when training.checkpoint is true (the default); rerun with it on')


def percent(value) -> str:
    return '—' if value is None else f'{100 * value:.1f}%'


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def cell(value, seeds: list[float]) -> str:
    """A robust accuracy; with several seeds, their mean and then each seed's value."""
    if value is None or len(seeds) < 2:
        return percent(value)
    return f'{percent(value)} ({" / ".join(f"{100 * v:.1f}" for v in seeds)})'


def table(rows: list[dict]) -> str:
    head = '| attack | eps | temper robust | reference robust | difference | reference attack |\n| --- | --- | --- | --- | --- | --- |\n'
    lines = []
    for r in rows:
        diff = '—' if r['temper'] is None or r['reference'] is None else f'{round(100 * (r["temper"] - r["reference"]), 6) + 0.0:+.1f}'
        lines.append(f'| {r["attack"]} | {r["eps"]:g} | {cell(r["temper"], r["temperSeeds"])} | {cell(r["reference"], r["referenceSeeds"])} | {diff} | {r["referenceAttack"]} |')
    return head + '\n'.join(lines)


def compare(args) -> int:
    if args.seeds < 1:
        fail(f'--seeds must be at least 1 (found {args.seeds})')
    torch = import_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    autoattack = import_autoattack(args.autoattack)
    work = args.work or tempfile.mkdtemp(prefix='temper-reference-')
    report = {'tool': 'tools/reference-check/reference_check.py', 'results': os.path.abspath(args.results), 'torch': torch.__version__,
              'autoattack': os.path.dirname(autoattack.__file__), 'seed': args.seed, 'seeds': args.seeds, 'models': []}
    status = 0
    models = []
    for record in latest_records(args.results):
        job = record['job']
        name = f'{job["dataset"]} / {job["architecture"]}, T={job["temperature"]:g}, seed {job["seed"]}'
        samples = args.samples or record.get('evalSamples') or job['eval']['samples']
        checkpoint = checkpoint_of(record, args.results)
        folder = os.path.join(work, record['runId'])
        log(f'{name}: exporting {samples} test images and temper\'s logits ({checkpoint})')
        export_inputs(checkpoint, job['dataset'], samples, folder, args.data_dir, record['_file'])
        x, y, temper_logits, meta = read_inputs(folder)
        model = load(checkpoint)
        logits = compare_logits(model, x, y, temper_logits)
        log(f'{name}: clean logits {"agree" if logits["agree"] else "DISAGREE"}: max |difference| {logits["maxAbsDifference"]:.2e} '
            f'(largest |z| {logits["largestLogit"]:.1f}), clean accuracy {percent(logits["cleanAccuracyTorch"])} torch / '
            f'{percent(logits["cleanAccuracyTemper"])} temper')
        entry = {'model': name, 'runId': record['runId'], 'checkpoint': checkpoint, 'samples': meta['samples'], 'logits': logits, 'rows': []}
        report['models'].append(entry)
        write_report(report, args.json)
        if not logits['agree']:
            status = 1
            continue
        with open(os.path.join(folder, 'attacks.json')) as f:
            attacks = json.load(f)
        models.append({'name': name, 'job': job, 'entry': entry, 'model': model, 'x': x, 'y': y, 'attacks': attacks, 'folder': folder,
                       'results': {r['label']: r for r in record['attacks']}, 'cache': {}, 'record': record['_file'], 'checkpoint': checkpoint,
                       'samples': meta['samples']})

    wanted = set(args.eps) if args.eps else None
    # Cheapest and most telling first: temper's own rows, then the standard ensemble, then its members one by one.
    for phase in ('matched', 'standard', 'components'):
        if phase not in args.rows:
            continue
        for m in models:
            for attack, eps, temper, members, note in phase_rows(phase, m, wanted):
                row = {'attack': attack, 'eps': eps, 'temper': temper, 'temperSeeds': [] if temper is None else [temper], 'reference': None,
                       'referenceSeeds': [], 'referenceSeconds': None, 'referenceWarnings': [],
                       'referenceAttack': note if members is None else ' + '.join(describe(x) for x in members) + (f' ({note})' if note else '')}
                m['entry']['rows'].append(row)
                if members is not None:
                    try:
                        for k in range(args.seeds):
                            robust, seconds, warnings = reference(m, members, eps, args, autoattack, args.seed + k)
                            row['referenceSeeds'].append(robust.float().mean().item())
                            row['referenceSeconds'] = (row['referenceSeconds'] or 0) + seconds
                            row['referenceWarnings'] = sorted(set(row['referenceWarnings']) | set(warnings))
                            row['reference'] = mean(row['referenceSeeds'])
                            write_report(report, args.json)
                    except ValueError as error:
                        row['referenceAttack'] = f'not compared: {error}'
                # temper's own number is the run's (its job seed); further seeds rerun the row with the next job seeds.
                for k in range(1, args.seeds if temper is not None else 0):
                    row['temperSeeds'].append(temper_row(m, attack, m['job']['seed'] + k, args))
                    row['temper'] = mean(row['temperSeeds'])
                    write_report(report, args.json)
                write_report(report, args.json)
    for m in models:
        notes = [f'- {r["attack"]} at eps {r["eps"]:g}: AutoAttack says: {w}' for r in m['entry']['rows'] for w in r['referenceWarnings']]
        print(f'\n### {m["name"]} ({m["entry"]["samples"]} test images)\n\n{table(m["entry"]["rows"])}\n' + ''.join(f'{n}\n' for n in notes), flush=True)
    write_report(report, args.json)
    return status


def phase_rows(phase: str, m: dict, wanted):
    """(attack, eps, temper's robust accuracy or None, reference members or None, note) for one model and phase."""
    linf = [a for a in m['attacks'] if a['config']['name'] not in ('pgd-l2', 'cw-l2', 'fab-l2') and (wanted is None or a['eps'] in wanted)]
    if phase == 'matched':
        for attack in linf:
            result = m['results'].get(attack['label'])
            temper = None if result is None else result['robustAccuracy']
            mapped = [member_of(c, m['job']['temperature']) for c in attack.get('members') or [attack['config']]]
            missing = [why for member, why in mapped if member is None]
            if missing:
                yield attack['label'], attack['eps'], temper, None, f'not compared: {missing[0]}'
            else:
                yield attack['label'], attack['eps'], temper, [member for member, _ in mapped], '; '.join(sorted({why for _, why in mapped if why}))
        return
    for eps in sorted(wanted) if wanted else sorted({a['eps'] for a in linf}):
        if phase == 'standard':
            yield 'standard autoattack', eps, None, STANDARD, ''
        else:
            for member in STANDARD:
                yield f'standard {member["kind"]}', eps, None, [member], ''


def temper_row(m: dict, label: str, seed: int, args) -> float:
    """temper's robust accuracy for row `label` of model `m`, rerun with job seed `seed` (temper_rows.mjs)."""
    command = ['node', os.path.join(HERE, 'temper_rows.mjs'), '--record', m['record'], '--checkpoint', m['checkpoint'], '--seed', str(seed),
               '--label', label, '--samples', str(m['samples'])]
    if args.data_dir:
        command += ['--data-dir', args.data_dir]
    log(f'{m["name"]}: temper {label} with job seed {seed}...')
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f'{" ".join(command)} failed (exit {done.returncode}); is temper built (npm run build)?\n{done.stderr.strip()}')
    row = json.loads(done.stdout.strip().splitlines()[-1])['rows'][0]
    log(f'{m["name"]}: temper {label} with job seed {seed}: {percent(row["robustAccuracy"])} ({row["seconds"]:.0f} s)')
    return row['robustAccuracy']


def reference(m: dict, members: list[dict], eps: float, args, autoattack, seed: int):
    """The reference result for `members` at `eps` on model `m` with `seed`, run once and kept; an ensemble resumes from its
    longest prefix already run with that seed."""
    cache = m['cache']
    key = lambda ms: key_of(ms) + f'@{eps}#{seed}'
    if key(members) in cache:
        return cache[key(members)]
    resume = next(((members[:j], cache[key(members[:j])][0]) for j in range(len(members) - 1, 0, -1) if key(members[:j]) in cache), None)
    label = ' + '.join(describe(x) for x in members)
    label += '' if args.seeds == 1 else f', seed {seed}'
    log(f'{m["name"]}: reference {label} at eps {eps:g}' + (f' (resuming after {len(resume[0])} members already run)' if resume else '') + '...')
    robust, seconds, warnings = run_reference(autoattack, m['model'], m['x'], m['y'], eps, members, seed, args.batch, resume)
    cache[key(members)] = (robust, seconds, warnings)
    log(f'{m["name"]}: reference {label} at eps {eps:g}: {percent(robust.float().mean().item())} ({seconds:.0f} s)')
    for warning in warnings:
        log(f'{m["name"]}: reference {label} at eps {eps:g}: AutoAttack says: {warning}')
    return robust, seconds, warnings


def log(line: str):
    print(line, file=sys.stderr, flush=True)


def load(checkpoint: str):
    """The checkpoint as a PyTorch module, or exit 2 naming the layer this tool does not translate."""
    from temper_torch import UnsupportedLayer, load_checkpoint
    try:
        return load_checkpoint(checkpoint)
    except UnsupportedLayer as error:
        fail(f'{error} (the tool translates mlp, cnn-small, vgg, resnet and wide-resnet checkpoints)')


def write_report(report: dict, path: str | None):
    if path:
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, path)


def logits(args) -> int:
    """Clean-logit agreement only: one JSON line per --checkpoint/--inputs pair; exit 1 if any disagrees."""
    torch = import_torch()
    torch.set_num_threads(args.threads or 1)
    if len(args.checkpoint) != len(args.inputs):
        fail(f'give one --inputs per --checkpoint (found {len(args.checkpoint)} and {len(args.inputs)})')
    status = 0
    for checkpoint, folder in zip(args.checkpoint, args.inputs):
        x, y, temper_logits, _ = read_inputs(folder)
        result = {'checkpoint': checkpoint, **compare_logits(load(checkpoint), x, y, temper_logits)}
        print(json.dumps(result), flush=True)
        status |= 0 if result['agree'] else 1
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    sub = parser.add_subparsers(dest='command', required=True)
    c = sub.add_parser('compare', help='clean logits, then temper\'s attacks next to the reference AutoAttack, for every run of a results folder')
    c.add_argument('results', help='temper output folder (the --out of temper run), with runs/ and checkpoints/')
    c.add_argument('--rows', nargs='+', choices=('matched', 'standard', 'components'), default=['matched', 'standard', 'components'],
                   help='matched: temper\'s rows, the reference with the same settings; standard: AutoAttack\'s standard Linf ensemble; '
                        'components: each of its four attacks alone on every image')
    c.add_argument('--eps', type=float, nargs='+', help='only these eps values (default: every Linf eps of temper\'s rows)')
    c.add_argument('--samples', type=int, help='test images (default: the run\'s eval.samples, the images temper attacked)')
    c.add_argument('--autoattack', help='folder that contains the autoattack package (default: installed, or PYTHONPATH)')
    c.add_argument('--data-dir', help='temper data folder, for datasets that are not embedded')
    c.add_argument('--work', help='folder for the exported images and logits (default: a new temporary folder)')
    c.add_argument('--json', help='also write every number to this JSON file (rewritten after each row)')
    c.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s choice; 1 on a shared machine)')
    c.add_argument('--batch', type=int, default=250, help='reference batch size')
    c.add_argument('--seed', type=int, default=0, help='the reference\'s seed (its first, with --seeds)')
    c.add_argument('--seeds', type=int, default=1, help='run every row at this many seeds and give their mean: the reference with --seed, '
                   '--seed + 1, ...; temper\'s rows with the run\'s job seed (its own number), then job seed + 1, ... (temper_rows.mjs). '
                   'Random starts move the last few examples of an ensemble; one seed each can differ by that much')
    c.set_defaults(run=compare)
    l = sub.add_parser('logits', help='only check that PyTorch\'s clean logits equal temper\'s (exported by export_inputs.mjs)')
    l.add_argument('--checkpoint', action='append', required=True)
    l.add_argument('--inputs', action='append', required=True, help='folder written by export_inputs.mjs for that checkpoint')
    l.add_argument('--threads', type=int)
    l.set_defaults(run=logits)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
