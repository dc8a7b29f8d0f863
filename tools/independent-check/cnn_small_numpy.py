#!/usr/bin/env python3
"""Independent numpy re-implementation of temper's cnn-small forward pass, input gradients and PGD-Linf.

No TensorFlow / PyTorch: weights are read straight from weights.bin per the weightsManifest in model.json, the
network is conv3x3(32, same)-relu-maxpool2 - conv3x3(64, same)-relu-maxpool2 - flatten(NHWC) - dense(128, relu) -
dense(10), written by hand (conv as im2col + matmul, max-pool with argmax routing).

Usage:
  python3 cnn_small_numpy.py                    # forward check, gradient check, PGD for every run in /tmp/judged/runs
  python3 cnn_small_numpy.py --samples 200      # fewer images (quick)
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
F32 = np.float32

# exp(x) rounds to 0 in float32 (with subnormals) for x < ln(2^-150) ~= -103.97; to 0 with flush-to-zero below ln(2^-126) ~= -87.34.
F32_EXP_UNDERFLOW = float(np.log(2.0) * -150)


# ----------------------------------------------------------------------------------------------------------------
# Data and weights
# ----------------------------------------------------------------------------------------------------------------

def load_test_set(n):
    images = np.fromfile(os.path.join(HERE, 'test_images_f32.bin'), dtype='<f4')
    labels = np.fromfile(os.path.join(HERE, 'test_labels_i32.bin'), dtype='<i4')
    images = images.reshape(-1, 28, 28, 1)
    if images.shape[0] < n:
        raise SystemExit(f'only {images.shape[0]} images exported; run: node export_mnist.mjs {n}')
    return images[:n].astype(F32), labels[:n].astype(np.int64)


EXPECTED_LAYERS = [
    ('Conv2D', dict(filters=32, kernel_size=[3, 3], strides=[1, 1], padding='same', activation='relu', data_format='channels_last')),
    ('MaxPooling2D', dict(pool_size=[2, 2], strides=[2, 2], padding='valid', data_format='channels_last')),
    ('Conv2D', dict(filters=64, kernel_size=[3, 3], strides=[1, 1], padding='same', activation='relu', data_format='channels_last')),
    ('MaxPooling2D', dict(pool_size=[2, 2], strides=[2, 2], padding='valid', data_format='channels_last')),
    ('Flatten', dict()),
    ('Dense', dict(units=128, activation='relu')),
    ('Dense', dict(units=10, activation='linear')),
]


def load_weights(checkpoint_dir):
    """Returns the list of float32 arrays in manifest order, after checking the topology is cnn-small (no Normalize)."""
    with open(os.path.join(checkpoint_dir, 'model.json')) as f:
        model = json.load(f)
    layers = model['modelTopology']['config']['layers']
    names = [l['class_name'] for l in layers]
    if names != [n for n, _ in EXPECTED_LAYERS]:
        raise SystemExit(f'{checkpoint_dir}: unexpected layers {names} (a Normalize layer would show up here)')
    for layer, (_, want) in zip(layers, EXPECTED_LAYERS):
        for key, value in want.items():
            if layer['config'].get(key) != value:
                raise SystemExit(f"{checkpoint_dir}: {layer['class_name']}.{key} = {layer['config'].get(key)}, expected {value}")
    flatten_format = layers[4]['config'].get('data_format', 'channels_last')
    assert flatten_format in (None, 'channels_last'), flatten_format
    assert layers[0]['config']['batch_input_shape'] == [None, 28, 28, 1]
    raw = b''
    for group in model['weightsManifest']:
        for path in group['paths']:
            with open(os.path.join(checkpoint_dir, path), 'rb') as f:
                raw += f.read()
    specs = [w for group in model['weightsManifest'] for w in group['weights']]
    arrays, offset = [], 0
    for spec in specs:
        assert spec['dtype'] == 'float32' and 'quantization' not in spec, spec
        count = int(np.prod(spec['shape']))
        arrays.append(np.frombuffer(raw, dtype='<f4', count=count, offset=offset).reshape(spec['shape']).astype(F32))
        offset += 4 * count
    assert offset == len(raw), (offset, len(raw))
    want_shapes = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (3136, 128), (128,), (128, 10), (10,)]
    assert [a.shape for a in arrays] == want_shapes, [a.shape for a in arrays]
    return arrays


# ----------------------------------------------------------------------------------------------------------------
# The network, forward and backward (input gradient only), in any float dtype
# ----------------------------------------------------------------------------------------------------------------

def im2col3x3_same(x):
    """(N, H, W, C) -> (N*H*W, 9*C) patches ordered (kh, kw, cin), matching a (3, 3, cin, cout) kernel reshaped."""
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # 'same' for k=3, stride 1: one pixel each side
    cols = np.empty((n, h, w, 3, 3, c), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, :, i, j, :] = xp[:, i:i + h, j:j + w, :]
    return cols.reshape(n * h * w, 9 * c)


def col2im3x3_same(dcols, shape):
    """Adjoint of im2col3x3_same: (N*H*W, 9*C) -> (N, H, W, C), scatter-adding each patch entry back."""
    n, h, w, c = shape
    d = dcols.reshape(n, h, w, 3, 3, c)
    dxp = np.zeros((n, h + 2, w + 2, c), dtype=dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, i:i + h, j:j + w, :] += d[:, :, :, i, j, :]
    return dxp[:, 1:-1, 1:-1, :]


def maxpool2(x):
    """2x2 stride-2 max-pool; returns the output and the argmax (0..3, row-major in the window) for routing."""
    n, h, w, c = x.shape
    win = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, h // 2, w // 2, c, 4)
    idx = win.argmax(-1)
    out = np.take_along_axis(win, idx[..., None], -1)[..., 0]
    return out, idx


def unpool2(g, idx):
    """Routes the pooled gradient g (N, H/2, W/2, C) back to the argmax position of each window."""
    n, h2, w2, c = g.shape
    win = np.zeros((n, h2, w2, c, 4), dtype=g.dtype)
    np.put_along_axis(win, idx[..., None], g[..., None], -1)
    return win.reshape(n, h2, w2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(n, 2 * h2, 2 * w2, c)


class CnnSmall:
    def __init__(self, arrays, dtype=F32):
        k1, b1, k2, b2, w3, b3, w4, b4 = [a.astype(dtype) for a in arrays]
        self.dtype = dtype
        self.k1 = k1.reshape(9 * 1, 32)
        self.k2 = k2.reshape(9 * 32, 64)
        self.b1, self.b2, self.w3, self.b3, self.w4, self.b4 = b1, b2, w3, b3, w4, b4

    def forward(self, x, keep=False):
        x = x.astype(self.dtype, copy=False)
        n = x.shape[0]
        a1 = (im2col3x3_same(x) @ self.k1 + self.b1).reshape(n, 28, 28, 32)
        r1 = np.maximum(a1, 0)
        p1, i1 = maxpool2(r1)                                     # (n, 14, 14, 32)
        a2 = (im2col3x3_same(p1) @ self.k2 + self.b2).reshape(n, 14, 14, 64)
        r2 = np.maximum(a2, 0)
        p2, i2 = maxpool2(r2)                                     # (n, 7, 7, 64)
        flat = p2.reshape(n, 7 * 7 * 64)                          # NHWC flatten, as tfjs Flatten on channels_last
        a3 = flat @ self.w3 + self.b3
        h3 = np.maximum(a3, 0)
        z = h3 @ self.w4 + self.b4
        if not keep:
            return z
        return z, dict(a1=a1, i1=i1, a2=a2, i2=i2, a3=a3, n=n)

    def backward(self, cache, dz):
        """d(sum_i L_i)/dx given dz = dL/dz (n, 10)."""
        n = cache['n']
        dz = dz.astype(self.dtype, copy=False)
        dh3 = dz @ self.w4.T
        da3 = dh3 * (cache['a3'] > 0)                             # relu'(a) = 1 where a > 0, else 0 (tfjs: step(x))
        dflat = da3 @ self.w3.T
        dp2 = dflat.reshape(n, 7, 7, 64)
        dr2 = unpool2(dp2, cache['i2'])
        da2 = dr2 * (cache['a2'] > 0)
        dp1 = col2im3x3_same(da2.reshape(n * 196, 64) @ self.k2.T, (n, 14, 14, 32))
        dr1 = unpool2(dp1, cache['i1'])
        da1 = dr1 * (cache['a1'] > 0)
        return col2im3x3_same(da1.reshape(n * 784, 32) @ self.k1.T, (n, 28, 28, 1))


# ----------------------------------------------------------------------------------------------------------------
# Loss gradients with respect to the logits
# ----------------------------------------------------------------------------------------------------------------

def onehot(y, k, dtype):
    o = np.zeros((y.shape[0], k), dtype=dtype)
    o[np.arange(y.shape[0]), y] = 1
    return o


def dce_prob(z, y, temperature=1.0):
    """'prob' formulation: d CE(softmax(z/T), y)/dz = (softmax(z/T) - onehot(y)) / T, softmax = exp(u - max u) / sum."""
    u = z / z.dtype.type(temperature) if temperature != 1 else z
    e = np.exp(u - u.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    g = p - onehot(y, z.shape[1], z.dtype)
    return g / z.dtype.type(temperature) if temperature != 1 else g


def dce_logsoftmax(z, y, temperature=1.0):
    """'logsoftmax' formulation (what tfjs' LogSoftmax gradient computes): exp(logsoftmax(u)) - onehot(y),
    logsoftmax(u) = (u - max u) - log(sum(exp(u - max u)))."""
    u = z / z.dtype.type(temperature) if temperature != 1 else z
    s = u - u.max(1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(1, keepdims=True))
    g = np.exp(logp) - onehot(y, z.shape[1], z.dtype)
    return g / z.dtype.type(temperature) if temperature != 1 else g


def dce_accurate(z, y):
    """Same derivative as dce_prob (T = 1), written without the cancellation in p_y - 1: the label component is
    -sum_{j != y} p_j. Used only as the float64 reference in the gradient check; at saturation p_y - 1 rounds to 0
    even in float64 while the true value is ~ -exp(z_j - z_y)."""
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    rows = np.arange(z.shape[0])
    p[rows, y] = 0
    p[rows, y] = -p.sum(1)
    return p


def best_other(z, y):
    masked = z.copy()
    masked[np.arange(z.shape[0]), y] = -np.inf
    return masked.argmax(1)


def dcw(z, y):
    """d(max_{j != y} z_j - z_y)/dz = onehot(j*) - onehot(y), j* the first arg-max among the other classes."""
    g = onehot(best_other(z, y), z.shape[1], z.dtype)
    g[np.arange(z.shape[0]), y] -= 1
    return g


GRADS = {'ce-prob': dce_prob, 'ce-logsoftmax': dce_logsoftmax, 'ce-accurate': dce_accurate, 'cw': dcw}


def ce_loss_accurate(z, y):
    """CE(softmax(z), y) per example in float64 with full relative precision even when it is ~1e-60
    (log1p of the sum of the other classes' exp(z_j - z_y)), for the finite-difference check."""
    z = z.astype(np.float64)
    rows = np.arange(z.shape[0])
    zy = z[rows, y]
    m = z.max(1)
    shifted = np.exp(z - m[:, None])
    others = shifted.copy()
    others[rows, y] = 0
    # when y is the arg-max: log(1 + sum_{j != y} exp(z_j - z_y)), exact to full relative precision via log1p
    return np.where(zy == m, np.log1p(others.sum(1)), np.log(shifted.sum(1)) - (zy - m))


def cw_loss(z, y):
    z = z.astype(np.float64)
    return z[np.arange(z.shape[0]), best_other(z, y)] - z[np.arange(z.shape[0]), y]


def input_grad(model, x, y, loss):
    z, cache = model.forward(x, keep=True)
    return model.backward(cache, GRADS[loss](z, y)), z


# ----------------------------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------------------------

def clean_accuracy(model, images, labels, batch=250):
    correct, logits = 0, []
    for s in range(0, len(images), batch):
        z = model.forward(images[s:s + batch])
        logits.append(z)
        correct += int((z.argmax(1) == labels[s:s + batch]).sum())
    return correct, np.concatenate(logits)


def pool_ties(model, x):
    """Per example: number of 2x2 pooling windows (either pool) whose positive maximum is attained more than once.
    At such points the network is not differentiable (the max switches under perturbation), so a central
    difference need not equal the routed (first-argmax) gradient that frameworks and this code use."""
    n = len(x)
    counts = np.zeros(n, dtype=int)
    a = x.astype(model.dtype)
    for k, b, size in ((model.k1, model.b1, 28), (model.k2, model.b2, 14)):
        r = np.maximum((im2col3x3_same(a) @ k + b).reshape(n, size, size, -1), 0)
        c = r.shape[-1]
        win = r.reshape(n, size // 2, 2, size // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, size // 2, size // 2, c, 4)
        mx = win.max(-1, keepdims=True)
        counts += (((win == mx).sum(-1) > 1) & (mx[..., 0] > 0)).reshape(n, -1).sum(1)
        a, _ = maxpool2(r)
    return counts


def activation_pattern(model, x, y):
    z, c = model.forward(x, keep=True)
    return [c['a1'] > 0, c['a2'] > 0, c['a3'] > 0, c['i1'], c['i2'], best_other(z, y)]


def same_pattern(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


def gradient_check(arrays, x, y, rng, h=1e-6, coords=12):
    """Analytic float64 input gradients of CE(T=1) (dce_accurate) and CW against central differences (float64), along
    3 random Gaussian directions and the 12 largest-|grad| coordinate directions per example; also the float32
    gradient the attack uses (dce_prob / dcw) vs the float64 one. Error of a probe: |fd - analytic| / max(|fd|, |analytic|)."""
    m64, m32 = CnnSmall(arrays, np.float64), CnnSmall(arrays, F32)
    x64 = x.astype(np.float64)
    out = dict(pool_ties_per_example=[int(v) for v in pool_ties(m64, x64)])
    for loss, fn, grad64, grad32 in (('ce', ce_loss_accurate, 'ce-accurate', 'ce-prob'), ('cw', cw_loss, 'cw', 'cw')):
        g64, _ = input_grad(m64, x64, y, grad64)
        g32, _ = input_grad(m32, x.astype(F32), y, grad32)
        per_example, kinks = [], []
        for i in range(x.shape[0]):
            xi, yi, gi = x64[i:i + 1], y[i:i + 1], g64[i]
            dirs = [rng.standard_normal(xi.shape[1:]) for _ in range(3)]
            for c in np.argsort(-np.abs(gi).ravel())[:coords]:
                e = np.zeros(gi.size)
                e[c] = 1
                dirs.append(e.reshape(gi.shape))
            errs, crossing = [], 0
            base = activation_pattern(m64, xi, yi)
            for d in dirs:
                zp, cp = m64.forward(xi + h * d[None], keep=True)
                zm, cm = m64.forward(xi - h * d[None], keep=True)
                # a probe whose +-h segment crosses a ReLU or max-pool switch (or a change of the best other class)
                # measures a kink, not the gradient: counted, left out of the error
                if not (same_pattern(base, activation_pattern(m64, xi + h * d[None], yi))
                        and same_pattern(base, activation_pattern(m64, xi - h * d[None], yi))):
                    crossing += 1
                    continue
                fd = (fn(zp, yi)[0] - fn(zm, yi)[0]) / (2 * h)
                an = float((gi * d).sum())
                errs.append(abs(fd - an) / max(abs(fd), abs(an), 1e-300))
            per_example.append(max(errs) if errs else float('nan'))
            kinks.append(crossing)
        flat64 = np.abs(g64).reshape(len(x), -1)
        rel32 = np.abs(g32.astype(np.float64) - g64).reshape(len(x), -1).max(1) / np.maximum(flat64.max(1), 1e-300)
        out[loss] = dict(probes_per_example=3 + coords, fd_max_rel_err_per_example=[float(v) for v in per_example],
                         probes_crossing_a_kink_per_example=kinks,
                         grad_max_abs_f64_per_example=[float(v) for v in flat64.max(1)],
                         f32_vs_f64_max_rel_err_per_example=[float(v) for v in rel32],
                         f32_all_zero_per_example=[bool(v) for v in (g32.reshape(len(x), -1) == 0).all(1)],
                         f64_all_zero_per_example=[bool(v) for v in (flat64 == 0).all(1)])
    return out


# ----------------------------------------------------------------------------------------------------------------
# PGD-Linf
# ----------------------------------------------------------------------------------------------------------------

FLT_EPS = F32(np.finfo(np.float32).eps)  # 2^-23 ~= 1.19e-7


def sign_exact(g):
    return np.sign(g)


def sign_wasm(g):
    """tfjs-backend-wasm's Sign kernel (tfjs-backend-wasm/src/cc/kernels/Sign.cc): 0 where |x| < FLT_EPSILON."""
    s = np.sign(g)
    s[np.abs(g) < FLT_EPS] = 0
    return s


SIGNS = {'exact': sign_exact, 'wasm-eps': sign_wasm}


def project(adv, clean, eps):
    return np.clip(np.minimum(np.maximum(adv, clean - eps), clean + eps), F32(0), F32(1))


def pgd(model, images, labels, loss, eps, steps, step_size, rng, batch=250, extra_first_step=(), sign=sign_exact):
    """PGD-Linf from a uniform random start; returns the robust mask (correct after the last step), the
    first-step all-zero-gradient mask, and, for each name in extra_first_step, the all-zero mask that gradient
    formulation would give at the same first point (float32) plus the float64 'prob' formulation."""
    eps, step_size = F32(eps), F32(step_size)
    robust, zero, extra, margins = [], [], {k: [] for k in extra_first_step + ('sign-all-zero[wasm-eps]',)}, []
    for s in range(0, len(images), batch):
        x0, y = images[s:s + batch], labels[s:s + batch]
        adv = project(x0 + rng.uniform(-eps, eps, size=x0.shape).astype(F32), x0, eps)
        for step in range(steps):
            z, cache = model.forward(adv, keep=True)
            g = model.backward(cache, GRADS[loss](z, y))
            assert g.dtype == F32
            if step == 0:
                zero.append((g.reshape(len(y), -1) == 0).all(1))
                zy = z[np.arange(len(y)), y].astype(np.float64)
                margins.append(zy - z[np.arange(len(y)), best_other(z, y)].astype(np.float64))
                for name in extra_first_step + ('sign-all-zero[wasm-eps]',):
                    if name == 'sign-all-zero[wasm-eps]':
                        extra[name].append((sign_wasm(g).reshape(len(y), -1) == 0).all(1))
                        continue
                    if name == 'ce-prob-float64':
                        m64 = model_f64(model)
                        z64, c64 = m64.forward(adv.astype(np.float64), keep=True)
                        g2 = m64.backward(c64, dce_prob(z64, y))
                    else:
                        g2 = model.backward(cache, GRADS[name](z, y))
                    extra[name].append((g2.reshape(len(y), -1) == 0).all(1))
            adv = project(adv + step_size * sign(g), x0, eps)
        assert np.all(np.abs(adv - x0) <= eps + 1e-7) and adv.min() >= 0 and adv.max() <= 1
        robust.append(model.forward(adv).argmax(1) == y)
    return (np.concatenate(robust), np.concatenate(zero), {k: np.concatenate(v) for k, v in extra.items()},
            np.concatenate(margins))


_f64_cache = {}


def model_f64(model):
    key = id(model)
    if key not in _f64_cache:
        _f64_cache[key] = CnnSmall(model.arrays, np.float64)
    return _f64_cache[key]


# ----------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', default='/tmp/judged/runs')
    ap.add_argument('--checkpoints', default='/tmp/judged/checkpoints')
    ap.add_argument('--samples', type=int, default=1000)
    ap.add_argument('--batch', type=int, default=250)
    ap.add_argument('--eps', type=float, default=0.3)
    ap.add_argument('--steps', type=int, default=40)
    ap.add_argument('--step-size', type=float, default=0.01)
    ap.add_argument('--seed', type=int, default=12345)
    ap.add_argument('--ce-grad', choices=['ce-prob', 'ce-logsoftmax'], default='ce-prob',
                    help='formulation of the CE gradient used in the attack')
    ap.add_argument('--skip-gradcheck', action='store_true')
    ap.add_argument('--sign', choices=list(SIGNS), default='exact',
                    help="sign used in the PGD step: 'exact' (numpy) or 'wasm-eps' (tfjs-backend-wasm: 0 where |g| < 2^-23)")
    ap.add_argument('--losses', default='ce,cw', help='which attacks to run: ce, cw or both')
    ap.add_argument('--out', default=os.path.join(HERE, 'results.json'))
    args = ap.parse_args()

    images, labels = load_test_set(args.samples)
    runs = []
    for path in sorted(glob.glob(os.path.join(args.runs, '*.json'))):
        with open(path) as f:
            r = json.load(f)
        runs.append(r)
    runs.sort(key=lambda r: r['job']['temperature'])
    results = dict(settings=vars(args), models=[])
    t_all = time.time()
    for r in runs:
        T, tid = r['job']['temperature'], r['job']['trainingId']
        assert r['job']['architecture'] == 'cnn-small' and r['job']['dataset'] == 'mnist'
        arrays = load_weights(os.path.join(args.checkpoints, tid))
        model = CnnSmall(arrays, F32)
        model.arrays = arrays
        rec = dict(temperature=T, trainingId=tid, runId=r['runId'])
        print(f'\n=== T = {T}  (checkpoint {tid}, run {r["runId"]}) ===', flush=True)

        t0 = time.time()
        correct, logits = clean_accuracy(model, images, labels, args.batch)
        temper_correct = round(r['cleanAccuracy'] * r['evalSamples'])
        rec['forward'] = dict(correct=correct, n=len(labels), temper_correct=temper_correct if r['evalSamples'] == len(labels) else None,
                              seconds=time.time() - t0, logit_abs_max=float(np.abs(logits).max()),
                              median_top_margin=float(np.median(np.sort(logits, 1)[:, -1] - np.sort(logits, 1)[:, -2])))
        print(f'clean: {correct}/{len(labels)} = {correct / len(labels):.2%}   temper: {r["cleanAccuracy"]:.2%} '
              f'({temper_correct}/{r["evalSamples"]})   max|z| = {rec["forward"]["logit_abs_max"]:.1f}', flush=True)

        if not args.skip_gradcheck:
            t0 = time.time()
            gc_rng = np.random.default_rng(7)
            # 3 correctly classified test images and the first misclassified one
            pick = np.concatenate([np.arange(3), [int(np.argmax(logits.argmax(1) != labels))]])
            x0 = images[pick]
            x_rand = project(x0 + gc_rng.uniform(-0.3, 0.3, x0.shape).astype(F32), x0, F32(0.3))
            # generic points: no pixel at a bound, all pixels distinct, so no exactly-tied pooling windows
            x_gen = (F32(0.02) + F32(0.96) * x_rand + gc_rng.uniform(0, 0.01, x0.shape).astype(F32)).astype(F32)
            rec['gradcheck'] = dict(generic=gradient_check(arrays, x_gen, labels[pick], gc_rng),
                                    random_start=gradient_check(arrays, x_rand, labels[pick], gc_rng),
                                    indices=[int(i) for i in pick])
            # saturated points: clean images + U(0, 0.003) (breaks exact ties) whose float32 CE gradient is all zero;
            # the float64 gradient there is tiny but not zero, and finite differences confirm it
            x_sat = (images[:250] + gc_rng.uniform(0, 0.003, images[:250].shape).astype(F32)).astype(F32)
            g_sat, _ = input_grad(model, x_sat, labels[:250], 'ce-prob')
            sat = np.flatnonzero((g_sat.reshape(250, -1) == 0).all(1))[:2]
            if len(sat):
                rec['gradcheck']['saturated'] = gradient_check(arrays, x_sat[sat], labels[sat], gc_rng)
                rec['gradcheck']['saturated_indices'] = [int(i) for i in sat]
            rec['gradcheck']['seconds'] = time.time() - t0
            for where in ('generic', 'random_start', 'saturated'):
                if where not in rec['gradcheck']:
                    continue
                g = rec['gradcheck'][where]
                for loss in ('ce', 'cw'):
                    print(f'gradcheck {where:12s} {loss}: pool ties {g["pool_ties_per_example"]}; kink-crossing probes '
                          f'{g[loss]["probes_crossing_a_kink_per_example"]}/{g[loss]["probes_per_example"]}; max FD rel err per ex '
                          f'{["%.1e" % v for v in g[loss]["fd_max_rel_err_per_example"]]}; max|grad| f64 '
                          f'{["%.1e" % v for v in g[loss]["grad_max_abs_f64_per_example"]]}; f32-vs-f64 '
                          f'{["%.1e" % v for v in g[loss]["f32_vs_f64_max_rel_err_per_example"]]}; f32 all-zero '
                          f'{g[loss]["f32_all_zero_per_example"]}', flush=True)

        rng = np.random.default_rng([args.seed, int(T)])
        for loss in [l for l in (args.ce_grad, 'cw') if ('ce' if l.startswith('ce') else 'cw') in args.losses.split(',')]:
            t0 = time.time()
            extra = ('ce-logsoftmax' if loss == 'ce-prob' else 'ce-prob', 'ce-prob-float64') if loss.startswith('ce') else ()
            robust, zero, extra_zero, margins = pgd(model, images, labels, loss, args.eps, args.steps, args.step_size, rng,
                                                    args.batch, extra, SIGNS[args.sign])
            row = dict(loss=loss, robust_accuracy=float(robust.mean()), zero_grad_share=float(zero.mean()),
                       seconds=time.time() - t0,
                       first_step_margin_over_f32_underflow_share=float((margins > -F32_EXP_UNDERFLOW).mean()),
                       zero_grad_and_robust=int((zero & robust).sum()),
                       robust_among_nonzero_grad=int((~zero & robust).sum()))
            for k, v in extra_zero.items():
                row[f'zero_grad_share[{k}]'] = float(v.mean())
            rec[loss] = row
            print(f'PGD {loss:14s}: robust {row["robust_accuracy"]:.2%}  zero-grad(first step) {row["zero_grad_share"]:.2%}  '
                  f'(margin z_y - max_other > {-F32_EXP_UNDERFLOW:.2f} at first step: {row["first_step_margin_over_f32_underflow_share"]:.2%}; '
                  + ''.join(f'{k}: {v.mean():.2%}; ' for k, v in extra_zero.items())
                  + f'zero&robust {row["zero_grad_and_robust"]}, robust with nonzero grad {row["robust_among_nonzero_grad"]})  '
                  f'{row["seconds"]:.1f}s', flush=True)
        rec['temper'] = {a['label']: dict(robust=a['robustAccuracy'], zero=a['zeroGradFraction']) for a in r['attacks']}
        results['models'].append(rec)
    results['total_seconds'] = time.time() - t_all

    print('\n| T | clean (numpy / temper) | PGD CE(T=1) robust (numpy / temper) | zero-grad share first step (numpy / temper) | PGD CW robust (numpy / temper) |')
    print('|---|---|---|---|---|')
    for rec in results['models']:
        tp = rec['temper']
        na = dict(robust_accuracy=float('nan'), zero_grad_share=float('nan'))
        ce, cw = rec.get(args.ce_grad, na), rec.get('cw', na)
        tce = next(v for k, v in tp.items() if 'ce' in k)
        tcw = next(v for k, v in tp.items() if 'cw' in k)
        n = rec['forward']['n']
        tc = rec['forward']['temper_correct']
        print(f"| {rec['temperature']} | {rec['forward']['correct'] / n:.2%} / {(tc / n if tc is not None else float('nan')):.2%} | "
              f"{ce['robust_accuracy']:.2%} / {tce['robust']:.2%} | {ce['zero_grad_share']:.2%} / {tce['zero']:.2%} | "
              f"{cw['robust_accuracy']:.2%} / {tcw['robust']:.2%} |")
    print(f'total {results["total_seconds"]:.1f}s')
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
