#!/usr/bin/env python3
"""Generates the Winograd F(4x4, 3x3) transforms of src/backend/kernels: the WebAssembly SIMD functions (four channels
or four tiles at a time) that simd/kernels.wat holds from `winograd4_filter` on, and their JavaScript twins that
winograd.ts holds from `winograd4FilterJs` on (Math.fround after every operation). Both come from one list of float
operations per 1-D transform, so they do the same operations in the same order; test/winograd.test.ts checks them
against each other bit for bit. A developer tool, not part of the build: after changing a transform here, run

    python3 tools/winograd/gen_winograd4.py /tmp/out

and put forward.wat and filter-grad.wat in place of those functions in kernels.wat (then `node scripts/build-simd.mjs`),
forward.ts and filter-grad.ts in place of the twins in winograd.ts.
"""
import os
import sys
import struct
def f32(x): return struct.unpack('f', struct.pack('f', x))[0]
SIXTH = f32(1/6)

def wconst(c):
    return f'(v128.const f32x4 {c!r} {c!r} {c!r} {c!r})'

class Prog:
    def __init__(self, prefix):
        self.ops = []  # (dest, kind, a, b)
        self.n = 0
        self.prefix = prefix
    def tmp(self):
        self.n += 1
        return f'{self.prefix}{self.n}'
    def add(self, a, b): d = self.tmp(); self.ops.append((d, 'add', a, b)); return d
    def sub(self, a, b): d = self.tmp(); self.ops.append((d, 'sub', a, b)); return d
    def mul(self, a, c): d = self.tmp(); self.ops.append((d, 'mul', a, c)); return d

# 1-D transforms. Input: B^T d for d0..d5.
def input1d(p, d):
    q = p.sub(d[3], p.mul(d[1], 4.0))
    r = p.sub(d[4], p.mul(d[2], 4.0))
    s = p.sub(d[4], d[2])
    w = p.mul(p.sub(d[3], d[1]), 2.0)
    return [
        p.sub(p.add(p.mul(d[0], 4.0), d[4]), p.mul(d[2], 5.0)),
        p.add(r, q),
        p.sub(r, q),
        p.add(s, w),
        p.sub(s, w),
        p.sub(p.add(p.mul(d[1], 4.0), d[5]), p.mul(d[3], 5.0)),
    ]
# Output: A^T m for m0..m5.
def output1d(p, m):
    a = p.add(m[1], m[2]); b = p.sub(m[1], m[2]); c = p.add(m[3], m[4]); d = p.sub(m[3], m[4])
    return [p.add(p.add(m[0], a), c), p.add(b, p.mul(d, 2.0)), p.add(a, p.mul(c, 4.0)), p.add(p.add(b, p.mul(d, 8.0)), m[5])]
# Filter: G g for g0..g2.
def filter1d(p, g):
    e = p.add(g[0], g[2])
    h = p.add(p.mul(g[0], 0.25), g[2])
    half = p.mul(g[1], 0.5)
    return [p.mul(g[0], 0.25), p.mul(p.add(e, g[1]), -SIXTH), p.mul(p.sub(e, g[1]), -SIXTH),
            p.mul(p.add(h, half), SIXTH), p.mul(p.sub(h, half), SIXTH), g[2]]

def two_d(p, inputs, rows, cols, f):
    # inputs[i][j] (rows x cols); column pass (over i) then row pass (over j): out[a][b].
    cols_out = [f(p, [inputs[i][j] for i in range(rows)]) for j in range(cols)]  # cols_out[j][a]
    ra = len(cols_out[0])
    return [f(p, [cols_out[j][a] for j in range(cols)]) for a in range(ra)]

def wat_ops(p, indent):
    out = []
    for d, k, a, b in p.ops:
        if k == 'mul': e = f'(f32x4.mul (local.get ${a}) {wconst(b)})'
        else: e = f'(f32x4.{k} (local.get ${a}) (local.get ${b}))'
        out.append(f'{indent}(local.set ${d} {e})')
    return out
def js_ops(p, indent):
    out = []
    for d, k, a, b in p.ops:
        if k == 'mul': e = f'f({a} * {b!r})'
        else: e = f'f({a} {"+" if k == "add" else "-"} {b})'
        out.append(f'{indent}const {d} = {e};')
    return out
def locals_decl(names):
    return ' '.join(f'(local ${n} v128)' for n in names)

W = []
J = []
# ---------------- filter ----------------
p = Prog('q')
g = [[f'g{3*r+s}' for s in range(3)] for r in range(3)]
u = two_d(p, g, 3, 3, filter1d)  # u[a][b] 6x6
W.append(''';; Winograd F(4x4, 3x3), filter transform: u[xi][e] = (G g G^T)[xi] for every e of $taps (a multiple of 4), where
;; g is [3][3][taps] and u [36][taps]; G = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6], [1/24, 1/12, 1/6],
;; [1/24, -1/12, 1/6], [0, 0, 1]], applied as (G g)_1 = -(g0 + g2 + g1) / 6, (G g)_3 = (g0 / 4 + g2 + g1 / 2) / 6 and so
;; on (the JavaScript twin winograd4FilterJs does the same operations in the same order). $flip = 1 reads the taps in
;; reverse order (the filter rotated by 180 degrees: the input gradient's).
  (func (export "winograd4_filter") (param $g i32) (param $u i32) (param $taps i32) (param $flip i32)
    (local $e i32) (local $tap i32)
    ''' + ' '.join(f'(local $a{k} i32)' for k in range(9)) + '''
    ''' + locals_decl([f'g{k}' for k in range(9)]) + '''
    ''' + locals_decl([d for d, *_ in p.ops]))
W.append('    (local.set $tap (i32.shl (local.get $taps) (i32.const 2)))')
for k in range(9):
    W.append(f'    (local.set $a{k} (i32.add (local.get $g) (i32.mul (local.get $tap) (select (i32.const {8-k}) (i32.const {k}) (local.get $flip)))))')
W.append('''    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $e) (local.get $tap)))''')
for k in range(9):
    W.append(f'      (local.set $g{k} (v128.load (i32.add (local.get $a{k}) (local.get $e))))')
W += wat_ops(p, '      ')
for a in range(6):
    for b in range(6):
        W.append(f'      (v128.store (i32.add (i32.add (local.get $u) (i32.mul (local.get $tap) (i32.const {6*a+b}))) (local.get $e)) (local.get ${u[a][b]}))')
W.append('''      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $each))))''')

J.append('''/** winograd4_filter: g [3][3][taps] -> u [36][taps] (G g G^T); `flip` reads the taps in reverse order. */
export function winograd4FilterJs(g: Float32Array, u: Float32Array, taps: number, flip: boolean): void {
  for (let e = 0; e < taps; e++) {''')
for k in range(9):
    J.append(f'    const g{k} = g[{k} * taps + e]!;'.replace(f'g[{k} * taps', f'g[(flip ? {8-k} : {k}) * taps'))
J += js_ops(p, '    ')
J.append('    ' + ' '.join(f'u[{6*a+b} * taps + e] = {u[a][b]};' for a in range(6) for b in range(6)))
J.append('  }\n}')

# ---------------- input ----------------
p = Prog('t')
d = [[f'd{6*i+j}' for j in range(6)] for i in range(6)]
v = two_d(p, d, 6, 6, input1d)
# The WebAssembly goes a column and then a row at a time through the same 1-D program: the column pass stores its
# outputs to the planes of their rows, the row pass reads them back (still in cache) and writes over them. The whole
# 2-D program at once (264 values) spilled most of them; each output is still the same operations in the same order.
p1 = Prog('u')
cell = input1d(p1, [f'a{k}' for k in range(6)])
def input_pass(load, store):
    out = [f'            (local.set $a{k} {load(k)})' for k in range(6)]
    out += wat_ops(p1, '            ')
    out += [f'            (v128.store {store(k)} (local.get ${cell[k]}))' for k in range(6)]
    return out
def v_at(xi):
    return f'(i32.add (i32.add (local.get $out) (i32.mul (local.get $plane) (i32.const {xi}))) (local.get $c))'
W.append('''
;; Winograd F(4x4, 3x3), input transform: for every 6x6 input tile d (tiles 4 apart, tile (ty, tx) starting at input
;; row 4 ty - padTop, column 4 tx - padLeft; outside the image reads zeros) and every channel, v = B^T d B with
;; B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0],
;; [0, 4, 0, -5, 0, 1]] (as winograd4InputJs computes it), written to v[xi][tile][channel] (36 planes of "tiles" rows,
;; planeFloats apart): each column's transform first, to the planes of its rows, then each row's, read back from there
;; (a register-sized working set: the whole 6x6 transform at once spilled most of its 264 values). x is NHWC; $zeros
;; points at "channels" zeros. $geometry points at 9 int32: N, H, W, channels (a multiple of 4), tilesHigh, tilesWide,
;; padTop, padLeft, planeFloats (tiles x channels or more: see winograd.ts paddedPlane).
  (func (export "winograd4_input") (param $x i32) (param $v i32) (param $zeros i32) (param $geometry i32)
    (local $n i32) (local $h i32) (local $w i32) (local $bytes i32) (local $th i32) (local $tw i32) (local $pt i32) (local $pl i32)
    (local $plane i32) (local $b i32) (local $ty i32) (local $tx i32) (local $c i32) (local $out i32) (local $ih i32) (local $iw i32)
    (local $image i32)
    ''' + ' '.join(f'(local $p{k} i32)' for k in range(36)) + '''
    ''' + locals_decl([f'a{k}' for k in range(6)]) + '''
    ''' + locals_decl([dd for dd, *_ in p1.ops]) + '''
    (local.set $n (i32.load (local.get $geometry)))
    (local.set $h (i32.load offset=4 (local.get $geometry)))
    (local.set $w (i32.load offset=8 (local.get $geometry)))
    (local.set $bytes (i32.shl (i32.load offset=12 (local.get $geometry)) (i32.const 2)))
    (local.set $th (i32.load offset=16 (local.get $geometry)))
    (local.set $tw (i32.load offset=20 (local.get $geometry)))
    (local.set $pt (i32.load offset=24 (local.get $geometry)))
    (local.set $pl (i32.load offset=28 (local.get $geometry)))
    (local.set $plane (i32.shl (i32.load offset=32 (local.get $geometry)) (i32.const 2)))
    (local.set $out (local.get $v))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $image (i32.add (local.get $x) (i32.mul (i32.mul (i32.mul (local.get $b) (local.get $h)) (local.get $w)) (local.get $bytes))))
      (local.set $ty (i32.const 0))
      (block $ydone (loop $yl
        (br_if $ydone (i32.ge_u (local.get $ty) (local.get $th)))
        (local.set $tx (i32.const 0))
        (block $xdone (loop $xl
          (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tw)))
          ;; The 36 cells' addresses; cells outside the image (unsigned compares reject negatives) read the zeros.''')
for i in range(6):
    W.append(f'          (local.set $ih (i32.add (i32.sub (i32.shl (local.get $ty) (i32.const 2)) (local.get $pt)) (i32.const {i})))')
    for j in range(6):
        W.append(f'''          (local.set $iw (i32.add (i32.sub (i32.shl (local.get $tx) (i32.const 2)) (local.get $pl)) (i32.const {j})))
          (local.set $p{6*i+j} (select
            (i32.add (local.get $image) (i32.mul (i32.add (i32.mul (local.get $ih) (local.get $w)) (local.get $iw)) (local.get $bytes)))
            (local.get $zeros)
            (i32.and (i32.lt_u (local.get $ih) (local.get $h)) (i32.lt_u (local.get $iw) (local.get $w)))))''')
W.append('''          (local.set $c (i32.const 0))
          (block $cdone (loop $cl
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $bytes)))
            ;; Columns: column j's output k goes to plane 6 k + j.''')
for j in range(6):
    W += input_pass(lambda i, j=j: f'(v128.load (i32.add (local.get $p{6*i+j}) (local.get $c)))', lambda k, j=j: v_at(6 * k + j))
W.append('            ;; Rows: row k from planes 6 k .. 6 k + 5, its outputs over them.')
for k in range(6):
    W += input_pass(lambda l, k=k: f'(v128.load {v_at(6 * k + l)})', lambda l, k=k: v_at(6 * k + l))
W.append('''            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $out (i32.add (local.get $out) (local.get $bytes)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))''')

J.append('''
/** winograd4_input on arrays: x [N][H][W][C] -> v [36][N * tilesHigh * tilesWide][C] (B^T d B over 6x6 tiles 4 apart). */
export function winograd4InputJs(
  x: Float32Array, v: Float32Array, [n, h, w, c]: number[], tilesHigh: number, tilesWide: number, padTop: number, padLeft: number,
): void {
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {
          const at = (i: number, j: number) => {
            const ih = 4 * ty - padTop + i;
            const iw = 4 * tx - padLeft + j;
            return ih >= 0 && ih < h && iw >= 0 && iw < w ? x[((b * h + ih) * w + iw) * c + ch]! : 0;
          };''')
for i in range(6):
    J.append('          ' + ' '.join(f'const d{6*i+j} = at({i}, {j});' for j in range(6)))
J += js_ops(p, '          ')
J.append('          const out = tile * c + ch;')
J.append('          ' + ' '.join(f'v[{6*a+b} * plane + out] = {v[a][b]};' for a in range(6) for b in range(6)))
J.append('''        }
      }
    }
  }
}''')

# ---------------- output ----------------
p = Prog('s')
m = [[f'm{6*i+j}' for j in range(6)] for i in range(6)]
y = two_d(p, m, 6, 6, output1d)  # y[a][b] 4x4
W.append('''
;; Winograd F(4x4, 3x3), output transform: for every tile and channel, the 4x4 outputs A^T m A with
;; A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]] (as winograd4OutputJs
;; computes it), where m[xi] is row "tile" of product xi ($m points at 36 int32: the byte offsets of the 36 products
;; [tiles][channels]); plus bias[channel], then max(., 0) if $relu. y is NHWC [N][OH][OW][channels]; outputs past its
;; bottom or right edge go to $sink, "channels" floats of scratch. $geometry points at 7 int32: N, OH, OW, channels (a
;; multiple of 4), tilesHigh, tilesWide, relu (0 or 1).
  (func (export "winograd4_output") (param $m i32) (param $y i32) (param $bias i32) (param $sink i32) (param $geometry i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $bytes i32) (local $th i32) (local $tw i32)
    (local $b i32) (local $ty i32) (local $tx i32) (local $c i32) (local $in i32) (local $rowBytes i32) (local $base i32)
    (local $floor v128) (local $bv v128)
    ''' + ' '.join(f'(local $q{k} i32)' for k in range(36)) + '''
    ''' + ' '.join(f'(local $r{k} i32)' for k in range(16)) + '''
    ''' + locals_decl([f'm{k}' for k in range(36)]) + '''
    ''' + locals_decl([dd for dd, *_ in p.ops]) + '''
    (local.set $n (i32.load (local.get $geometry)))
    (local.set $oh (i32.load offset=4 (local.get $geometry)))
    (local.set $ow (i32.load offset=8 (local.get $geometry)))
    (local.set $bytes (i32.shl (i32.load offset=12 (local.get $geometry)) (i32.const 2)))
    (local.set $th (i32.load offset=16 (local.get $geometry)))
    (local.set $tw (i32.load offset=20 (local.get $geometry)))
    ;; ReLU: max(y, 0); linear: max(y, -infinity), which is y (NaN included).
    (local.set $floor (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (i32.load offset=24 (local.get $geometry))))
    (local.set $rowBytes (i32.mul (local.get $ow) (local.get $bytes)))''')
for k in range(36):
    W.append(f'    (local.set $q{k} (i32.load offset={4*k} (local.get $m)))')
W.append('''    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $ty (i32.const 0))
      (block $ydone (loop $yl
        (br_if $ydone (i32.ge_u (local.get $ty) (local.get $th)))
        (local.set $tx (i32.const 0))
        (block $xdone (loop $xl
          (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tw)))
          (local.set $base (i32.add (local.get $y) (i32.add
            (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (i32.shl (local.get $ty) (i32.const 2))) (local.get $rowBytes))
            (i32.mul (i32.shl (local.get $tx) (i32.const 2)) (local.get $bytes)))))''')
for r in range(4):
    for cc in range(4):
        W.append(f'''          (local.set $r{4*r+cc} (select (i32.add (local.get $base) (i32.add (i32.mul (local.get $rowBytes) (i32.const {r})) (i32.mul (local.get $bytes) (i32.const {cc})))) (local.get $sink)
            (i32.and (i32.lt_u (i32.add (i32.shl (local.get $ty) (i32.const 2)) (i32.const {r})) (local.get $oh)) (i32.lt_u (i32.add (i32.shl (local.get $tx) (i32.const 2)) (i32.const {cc})) (local.get $ow)))))''')
W.append('''          (local.set $c (i32.const 0))
          (block $cdone (loop $cl
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $bytes)))''')
for k in range(36):
    W.append(f'            (local.set $m{k} (v128.load (i32.add (local.get $q{k}) (i32.add (local.get $in) (local.get $c)))))')
W += wat_ops(p, '            ')
W.append('            (local.set $bv (v128.load (i32.add (local.get $bias) (local.get $c))))')
for a in range(4):
    for b in range(4):
        W.append(f'            (v128.store (i32.add (local.get $r{4*a+b}) (local.get $c)) (f32x4.max (f32x4.add (local.get ${y[a][b]}) (local.get $bv)) (local.get $floor)))')
W.append('''            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $cl)))
          (local.set $in (i32.add (local.get $in) (local.get $bytes)))
          (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))''')

J.append('''
/** winograd4_output on arrays: m [36][tiles][C] -> y [N][OH][OW][C] (A^T m A per 4x4 block), plus bias, then ReLU if asked. */
export function winograd4OutputJs(
  m: Float32Array, y: Float32Array, bias: Float32Array | undefined, [n, oh, ow, c]: number[], relu: boolean,
): void {
  const tilesHigh = Math.ceil(oh / 4);
  const tilesWide = Math.ceil(ow / 4);
  const plane = n * tilesHigh * tilesWide * c;
  let tile = 0;
  for (let b = 0; b < n; b++) {
    for (let ty = 0; ty < tilesHigh; ty++) {
      for (let tx = 0; tx < tilesWide; tx++, tile++) {
        for (let ch = 0; ch < c; ch++) {''')
J.append('          ' + ' '.join(f'const m{k} = m[{k} * plane + tile * c + ch]!;' for k in range(36)))
J += js_ops(p, '          ')
J.append('          const values = [' + ', '.join(y[a][b] for a in range(4) for b in range(4)) + '];')
J.append('''          for (let k = 0; k < 16; k++) {
            const oy = 4 * ty + Math.floor(k / 4);
            const ox = 4 * tx + (k % 4);
            if (oy >= oh || ox >= ow) continue;
            const value = f(values[k]! + (bias ? bias[ch]! : 0));
            y[((b * oh + oy) * ow + ox) * c + ch] = relu ? Math.max(value, 0) : value;
          }
        }
      }
    }
  }
}''')
FORWARD_WAT = '\n'.join(W) + '\n'
FORWARD_TS = '\n'.join(J) + '\n'

# ---------------- filter gradient ----------------
TWELFTH = f32(1/12); TWENTYFOURTH = f32(1/24)

def dy1d(p, d):
    e = p.add(d[0], d[2]); o = p.add(d[1], d[3])
    e2 = p.add(d[0], p.mul(d[2], 4.0)); o2 = p.add(p.mul(d[1], 2.0), p.mul(d[3], 8.0))
    return [d[0], p.add(e, o), p.sub(e, o), p.add(e2, o2), p.sub(e2, o2), d[3]]
def gout1d(p, m):
    a = p.add(m[1], m[2]); b = p.sub(m[1], m[2]); c = p.add(m[3], m[4]); d = p.sub(m[3], m[4])
    a6 = p.mul(a, -SIXTH)
    return [p.add(p.add(p.mul(m[0], 0.25), a6), p.mul(c, TWENTYFOURTH)),
            p.add(p.mul(b, -SIXTH), p.mul(d, TWELFTH)),
            p.add(p.add(a6, p.mul(c, SIXTH)), m[5])]

W = []; J = []
# ---------- dy planes ----------
p = Prog('t')
dd = [[f'd{4*i+j}' for j in range(4)] for i in range(4)]
w = two_d(p, dd, 4, 4, dy1d)  # 6x6
W.append(''';; Winograd F(4x4, 3x3), filter gradient, dy transform: w[xi][k][tile] = (A dy A^T)[xi] for every 4x4 tile of dy and
;; every channel k, A = [[1, 0, 0, 0], [1, 1, 1, 1], [1, -1, 1, -1], [1, 2, 4, 8], [1, -2, 4, -8], [0, 0, 0, 1]] (the
;; output transform's A^T, transposed; as winograd4DyPlanesJs computes it). dy comes as channel planes
;; [K][N][rows][cols], zero past the real dy, rows >= 4 tilesHigh and cols >= 16 ceil(tilesWide / 4): each row of four
;; tiles is four 4-float loads, turned into columns by a 4x4 transpose. w is [36][K][N * tilesHigh * tilesWide].
;; $geometry points at 8 int32: K, N, rows, cols, tilesHigh, tilesWide, then the channels of w's planes (0: K), so
;; that a call can transform channels [k0, k0 + K) of a larger w (dy and w then start at channel k0), and floats of
;; padding after each plane (0: none; see winograd.ts paddedPlane).
  (func (export "winograd4_dy_planes") (param $dy i32) (param $w i32) (param $geometry i32)
    (local $k i32) (local $b i32) (local $ty i32) (local $tx i32) (local $channels i32) (local $n i32) (local $rows i32)
    (local $cols i32) (local $th i32) (local $tw i32) (local $rowBytes i32) (local $in i32) (local $out i32) (local $plane i32)
    (local $tiles i32) (local $left i32) (local $row i32)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $u0 v128) (local $u1 v128) (local $u2 v128) (local $u3 v128)
    ''' + locals_decl([f'd{k}' for k in range(16)]) + '''
    ''' + locals_decl([x for x, *_ in p.ops]) + '''
    (local.set $channels (i32.load (local.get $geometry)))
    (local.set $n (i32.load offset=4 (local.get $geometry)))
    (local.set $rows (i32.load offset=8 (local.get $geometry)))
    (local.set $cols (i32.load offset=12 (local.get $geometry)))
    (local.set $th (i32.load offset=16 (local.get $geometry)))
    (local.set $tw (i32.load offset=20 (local.get $geometry)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $tiles (i32.mul (i32.mul (local.get $n) (local.get $th)) (local.get $tw)))
    (local.set $plane (i32.shl (i32.add (i32.mul (select (i32.load offset=24 (local.get $geometry)) (local.get $channels) (i32.load offset=24 (local.get $geometry))) (local.get $tiles)) (i32.load offset=28 (local.get $geometry))) (i32.const 2)))
    (block $kdone (loop $kl
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $channels)))
      (local.set $b (i32.const 0))
      (block $bdone (loop $bl
        (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $ty (i32.const 0))
        (block $ydone (loop $yl
          (br_if $ydone (i32.ge_u (local.get $ty) (local.get $th)))
          (local.set $tx (i32.const 0))
          (block $xdone (loop $xl
            (br_if $xdone (i32.ge_u (local.get $tx) (local.get $tw)))
            (local.set $in (i32.add (local.get $dy) (i32.shl (i32.add
              (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $k) (local.get $n)) (local.get $b)) (local.get $rows))
                (i32.shl (local.get $ty) (i32.const 2))) (local.get $cols))
              (i32.shl (local.get $tx) (i32.const 2))) (i32.const 2))))
            (local.set $out (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $tiles))
              (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $th)) (local.get $ty)) (local.get $tw)) (local.get $tx))) (i32.const 2))))''')
for i in range(4):
    W.append(f'''            ;; Row {i} of four tiles: d[{i}][j] holds column j of each.
            (local.set $row (i32.add (local.get $in) (i32.mul (local.get $rowBytes) (i32.const {i}))))
            (local.set $l0 (v128.load (local.get $row)))
            (local.set $l1 (v128.load offset=16 (local.get $row)))
            (local.set $l2 (v128.load offset=32 (local.get $row)))
            (local.set $l3 (v128.load offset=48 (local.get $row)))
            (local.set $u0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $l0) (local.get $l1)))
            (local.set $u1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $l0) (local.get $l1)))
            (local.set $u2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $l2) (local.get $l3)))
            (local.set $u3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $l2) (local.get $l3)))
            (local.set $d{4*i} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u0) (local.get $u2)))
            (local.set $d{4*i+1} (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u0) (local.get $u2)))
            (local.set $d{4*i+2} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u1) (local.get $u3)))
            (local.set $d{4*i+3} (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u1) (local.get $u3)))''')
W += wat_ops(p, '            ')
W.append('            (local.set $left (i32.sub (local.get $tw) (local.get $tx)))')
W.append('            (if (i32.ge_u (local.get $left) (i32.const 4))')
W.append('              (then')
for a in range(6):
    for b in range(6):
        W.append(f'                (v128.store (i32.add (local.get $out) (i32.mul (local.get $plane) (i32.const {6*a+b}))) (local.get ${w[a][b]}))')
W.append('              )')
W.append('              (else')
for a in range(6):
    for b in range(6):
        W.append(f'                (call $put_lanes (i32.add (local.get $out) (i32.mul (local.get $plane) (i32.const {6*a+b}))) (local.get ${w[a][b]}) (local.get $left))')
W.append('              ))')
W.append('''            (local.set $tx (i32.add (local.get $tx) (i32.const 4)))
            (br $xl)))
          (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
          (br $yl)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bl)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl))))''')
J.append('''/** winograd4_dy_planes on arrays: dy [K][N][OH][OW] (unpadded) -> w [36][K][N * tilesHigh * tilesWide] (A dy A^T per 4x4 tile). */
export function winograd4DyPlanesJs(dy: Float32Array, w: Float32Array, [k, n, oh, ow]: number[]): void {
  const tilesHigh = Math.ceil(oh / 4);
  const tilesWide = Math.ceil(ow / 4);
  const tiles = n * tilesHigh * tilesWide;
  const plane = k * tiles;
  for (let ch = 0; ch < k; ch++) {
    for (let b = 0; b < n; b++) {
      for (let ty = 0; ty < tilesHigh; ty++) {
        for (let tx = 0; tx < tilesWide; tx++) {
          const at = (i: number, j: number) => {
            const r = 4 * ty + i;
            const c = 4 * tx + j;
            return r < oh && c < ow ? dy[((ch * n + b) * oh + r) * ow + c]! : 0;
          };''')
for i in range(4):
    J.append('          ' + ' '.join(f'const d{4*i+j} = at({i}, {j});' for j in range(4)))
J += js_ops(p, '          ')
J.append('          const out = ch * tiles + (b * tilesHigh + ty) * tilesWide + tx;')
J.append('          ' + ' '.join(f'w[{6*a+b} * plane + out] = {w[a][b]};' for a in range(6) for b in range(6)))
J.append('''        }
      }
    }
  }
}''')
# ---------- output ----------
p = Prog('s')
mm = [[f'm{6*i+j}' for j in range(6)] for i in range(6)]
o = two_d(p, mm, 6, 6, gout1d)  # 3x3
W.append('''
;; Winograd F(4x4, 3x3), filter gradient, output transform: dw[r][s][e] = (G^T m G)[r][s] for every e of $taps (a
;; multiple of 4), where m [36][taps] is the sum over tiles of (A dy A^T) . (B^T d B) and dw is [3][3][taps]; G is the
;; filter transform's (as winograd4FilterGradOutputJs computes it).
  (func (export "winograd4_filter_grad_output") (param $m i32) (param $dw i32) (param $taps i32)
    (local $e i32) (local $tap i32)
    ''' + locals_decl([f'm{k}' for k in range(36)]) + '''
    ''' + locals_decl([x for x, *_ in p.ops]) + '''
    (local.set $tap (i32.shl (local.get $taps) (i32.const 2)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $e) (local.get $tap)))''')
for k in range(36):
    W.append(f'      (local.set $m{k} (v128.load (i32.add (i32.add (local.get $m) (i32.mul (local.get $tap) (i32.const {k}))) (local.get $e))))')
W += wat_ops(p, '      ')
for r in range(3):
    for c in range(3):
        W.append(f'      (v128.store (i32.add (i32.add (local.get $dw) (i32.mul (local.get $tap) (i32.const {3*r+c}))) (local.get $e)) (local.get ${o[r][c]}))')
W.append('''      (local.set $e (i32.add (local.get $e) (i32.const 16)))
      (br $each))))''')
J.append('''
/** winograd4_filter_grad_output on arrays: m [36][taps] -> dw [3][3][taps] (G^T m G). */
export function winograd4FilterGradOutputJs(m: Float32Array, dw: Float32Array, taps: number): void {
  for (let e = 0; e < taps; e++) {''')
J.append('    ' + ' '.join(f'const m{k} = m[{k} * taps + e]!;' for k in range(36)))
J += js_ops(p, '    ')
J.append('    ' + ' '.join(f'dw[{3*r+c} * taps + e] = {o[r][c]};' for r in range(3) for c in range(3)))
J.append('  }\n}')
BACKWARD_WAT = '\n'.join(W) + '\n'
BACKWARD_TS = '\n'.join(J) + '\n'

if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else '.'
    for name, text in [('forward.wat', FORWARD_WAT), ('forward.ts', FORWARD_TS), ('filter-grad.wat', BACKWARD_WAT), ('filter-grad.ts', BACKWARD_TS)]:
        with open(os.path.join(out, name), 'w') as f:
            f.write(text)
