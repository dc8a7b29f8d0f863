// Writes the WebAssembly text of the project's matrix product (C = A B, or C += A B), in two variants: with
// `f32x4.relaxed_madd` (a fused multiply-add where the CPU has one) and with f32x4.mul then f32x4.add. Used by
// scripts/build-simd.mjs, which compiles both into src/backend/kernels/simd/binary.ts; src/backend/kernels/gemm.ts
// runs them. The micro-kernels are unrolled here, once per row count, since WebAssembly text has no macros.
//
// Layout. A is read through two strides (bytes between rows and between columns), so a transposed A costs nothing.
// B is packed first (`pack_b`) into panels of 8 columns, [ceil(n / 8)][k][8] floats, zeros past column n. C is
// row-major with a row stride. The product walks k in blocks of KC, then rows of C in blocks of MR, then panels: an
// MR x KC slice of A stays in the L1 cache while every panel's KC x 8 block of B passes by. Each MR x 8 block of C
// is held in 2 MR vector registers for a whole k-block, and added to C (or stored, for the first block without
// `add`) at its end. So every element of C is summed in the same order whatever rows a call is given: threads that
// split the rows between them give the same bits as one thread.

/** Rows of C a micro-kernel holds: 2 x MR accumulators. With 6 rows (15 of the 16 vector registers V8 uses on x64)
 * its scheduler hoists the loads of A and spills accumulators inside the loop: 4 rows ran 1.4x faster than 6 and
 * 1.6x faster than 5 (one core, data in L1). */
export const GEMM_MR = 4;
/** Depth of a k-block. */
export const GEMM_KC = 256;
/** Bytes of scratch a gemm call needs for itself (a partial panel's MR x 8 block). */
export const GEMM_SCRATCH_BYTES = 32 * GEMM_MR;

const madd = (fma, acc, a, b) =>
  fma
    ? `(local.set ${acc} (f32x4.relaxed_madd (local.get ${a}) (local.get ${b}) (local.get ${acc})))`
    : `(local.set ${acc} (f32x4.add (local.get ${acc}) (f32x4.mul (local.get ${a}) (local.get ${b}))))`;

/**
 * The micro-kernel for `rows` rows: the rows x 8 block A[rows x kc] B-panel[kc x 8], written to `out` (MR x 8 floats).
 * It only multiplies: few integer values live in its loop (x64 has 13 registers for them) and none across a call.
 */
function microKernel(rows, fma) {
  const r = [...Array(rows).keys()];
  const rowAddress = (i) => (i === 0 ? '(local.get $ap)' : `(i32.add (local.get $ap) (local.get $l${i}))`);
  return `
  (func $mk${rows} (param $ap i32) (param $rsA i32) (param $csA i32) (param $bp i32) (param $bRow i32) (param $kc i32) (param $out i32)
    ${r.slice(1).map((i) => `(local $l${i} i32)`).join(' ')} (local $a v128) (local $b0 v128) (local $b1 v128)
    ${r.map((i) => `(local $c${i}0 v128) (local $c${i}1 v128)`).join(' ')}
    ${r.slice(1).map((i) => `(local.set $l${i} (i32.mul (local.get $rsA) (i32.const ${i})))`).join('\n    ')}
    (loop $k
      (local.set $b0 (v128.load (local.get $bp)))
      (local.set $b1 (v128.load offset=16 (local.get $bp)))
      ${r.map((i) => `(local.set $a (v128.load32_splat ${rowAddress(i)}))
      ${madd(fma, `$c${i}0`, '$a', '$b0')}
      ${madd(fma, `$c${i}1`, '$a', '$b1')}`).join('\n      ')}
      (local.set $ap (i32.add (local.get $ap) (local.get $csA)))
      (local.set $bp (i32.add (local.get $bp) (local.get $bRow)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    ${r.map((i) => `(v128.store offset=${32 * i} (local.get $out) (local.get $c${i}0))
    (v128.store offset=${32 * i + 16} (local.get $out) (local.get $c${i}1))`).join('\n    ')})`;
}

/**
 * The two-level k loop the direct convolution's micro-kernels share: `runs` runs of `run` k-steps; A advances $aStep
 * bytes a step and starts each run $rowJump bytes after the last one started; B advances $bStep bytes a step, straight
 * on from run to run. Accumulates into $c{i}0, $c{i}1 (rows i), from $ap and $bp.
 */
function runsLoop(rows, fma) {
  const r = [...Array(rows).keys()];
  const rowAddress = (i) => (i === 0 ? '(local.get $a)' : `(i32.add (local.get $a) (local.get $l${i}))`);
  return `${r.slice(1).map((i) => `(local.set $l${i} (i32.mul (local.get $rsA) (i32.const ${i})))`).join('\n    ')}
    (loop $ky
      (local.set $a (local.get $ap))
      (local.set $kc (local.get $run))
      (loop $k
        (local.set $b0 (v128.load (local.get $bp)))
        (local.set $b1 (v128.load offset=16 (local.get $bp)))
        ${r.map((i) => `(local.set $av (v128.load32_splat ${rowAddress(i)}))
        ${madd(fma, `$c${i}0`, '$av', '$b0')}
        ${madd(fma, `$c${i}1`, '$av', '$b1')}`).join('\n        ')}
        (local.set $a (i32.add (local.get $a) (local.get $aStep)))
        (local.set $bp (i32.add (local.get $bp) (local.get $bStep)))
        (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
      (local.set $ap (i32.add (local.get $ap) (local.get $rowJump)))
      (br_if $ky (local.tee $runs (i32.sub (local.get $runs) (i32.const 1)))))`;
}

/** The locals runsLoop uses beyond its parameters. */
const runsLocals = (rows) => {
  const r = [...Array(rows).keys()];
  return `${r.slice(1).map((i) => `(local $l${i} i32)`).join(' ')} (local $a i32) (local $kc i32) (local $av v128) (local $b0 v128) (local $b1 v128)
    ${r.map((i) => `(local $c${i}0 v128) (local $c${i}1 v128)`).join(' ')}`;
};

/** Stores (or, with `add`, adds) the `rows` x 8 accumulators to `rows` rows of 8 floats, $ldo bytes apart, at $out. */
function storeRows(rows, add) {
  return [...Array(rows).keys()].map((i) => {
    const at = i === 0 ? '(local.get $out)' : `(i32.add (local.get $out) (i32.mul (local.get $ldo) (i32.const ${i})))`;
    return [0, 1].map((h) => `(v128.store${h ? ' offset=16' : ''} ${at} ${add ? `(f32x4.add (v128.load${h ? ' offset=16' : ''} ${at}) (local.get $c${i}${h}))` : `(local.get $c${i}${h})`})`).join('\n    ');
  }).join('\n    ');
}

/**
 * The direct convolution's micro-kernel for `rows` output pixels of one image row (adjacent, `rsA` bytes apart in the
 * padded input) by 8 output channels: the sum over the filter's `runs` rows of `run` contiguous k-steps each (the
 * filter row's width times the input channels, which lie together in an NHWC row), B packed as pack_b packs the filter
 * [KH KW CI][CO]; then bias (8 floats at $bias), ReLU where $relu, stored to `rows` pixels `ldo` bytes apart.
 */
function convMicroKernel(rows, fma) {
  const r = [...Array(rows).keys()];
  return `
  (func $ck${rows} (param $ap i32) (param $rsA i32) (param $bp i32) (param $run i32) (param $runs i32) (param $rowJump i32)
    (param $out i32) (param $ldo i32) (param $bias i32) (param $relu i32)
    (local $aStep i32) (local $bStep i32) ${runsLocals(rows)}
    (local.set $aStep (i32.const 4))
    (local.set $bStep (i32.const 32))
    ${runsLoop(rows, fma)}
    (local.set $b0 (v128.load (local.get $bias)))
    (local.set $b1 (v128.load offset=16 (local.get $bias)))
    ${r.map((i) => `(local.set $c${i}0 (f32x4.add (local.get $c${i}0) (local.get $b0)))
    (local.set $c${i}1 (f32x4.add (local.get $c${i}1) (local.get $b1)))`).join('\n    ')}
    (if (local.get $relu) (then
      ${r.map((i) => `(local.set $c${i}0 (f32x4.max (local.get $c${i}0) (v128.const f32x4 0 0 0 0)))
      (local.set $c${i}1 (f32x4.max (local.get $c${i}1) (v128.const f32x4 0 0 0 0)))`).join('\n      ')}))
    ${storeRows(rows, false)})`;
}

/**
 * The direct filter gradient's micro-kernel: `rows` taps (adjacent, `rsA` bytes apart in the padded image) by 8 output
 * channels, summed over an image's output positions ($runs rows of $run pixels: A steps $aStep bytes, a pixel of the
 * padded image; B steps $bStep, a row of dy as it lies), then added to `rows` rows of the partial sum, $ldo bytes apart.
 */
function tapsMicroKernel(rows, fma) {
  return `
  (func $tk${rows} (param $ap i32) (param $rsA i32) (param $bp i32) (param $aStep i32) (param $bStep i32) (param $run i32) (param $runs i32)
    (param $rowJump i32) (param $out i32) (param $ldo i32)
    ${runsLocals(rows)}
    ${runsLoop(rows, fma)}
    ${storeRows(rows, true)})`;
}

/** $pad_image: one NHWC image (h x w x ci at $image) into $pad, zero-padded to hp x wp (padTop, padLeft before), a float at a time. */
const PAD_IMAGE = `
  (func $pad_image (param $image i32) (param $pad i32) (param $h i32) (param $w i32) (param $ci i32) (param $hp i32) (param $wp i32)
    (param $padTop i32) (param $padLeft i32)
    (local $py i32) (local $px i32) (local $iy i32) (local $ix i32) (local $c i32)
    (loop $pyloop
      (local.set $iy (i32.sub (local.get $py) (local.get $padTop)))
      (local.set $px (i32.const 0))
      (loop $pxloop
        (local.set $ix (i32.sub (local.get $px) (local.get $padLeft)))
        (local.set $c (i32.const 0))
        (loop $cloop
          (f32.store (local.get $pad)
            (if (result f32) (i32.and (i32.lt_u (local.get $iy) (local.get $h)) (i32.lt_u (local.get $ix) (local.get $w)))
              (then (f32.load (i32.add (local.get $image)
                (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $w)) (local.get $ix)) (local.get $ci)) (local.get $c)) (i32.const 2)))))
              (else (f32.const 0))))
          (local.set $pad (i32.add (local.get $pad) (i32.const 4)))
          (br_if $cloop (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $ci))))
        (br_if $pxloop (i32.lt_u (local.tee $px (i32.add (local.get $px) (i32.const 1))) (local.get $wp))))
      (br_if $pyloop (i32.lt_u (local.tee $py (i32.add (local.get $py) (i32.const 1))) (local.get $hp)))))`;

/**
 * filter_grad_direct: the filter gradient of a stride-1 convolution with few input channels, read straight from the
 * input and dy: partial[ky kx ci][co] += sum over the output positions of x_padded[oy + ky, ox + kx, ci] dy[oy, ox, co],
 * for images [0, images) (each padded into $pad first, as conv_direct pads), in blocks of up to GEMM_MR taps of one
 * filter row (kx ci adjacent) by 8 output channels, each summed over a whole image in registers ($tk1 .. $tk4). CO =
 * 8 panels. Every value is summed in one order (images, then positions row by row), whatever thread runs it.
 */
function filterGradDirect(rowCases) {
  const call = (rows) => `(call $tk${rows} (local.get $ap) (i32.const 4) (local.get $bpp) (local.get $pixel) (local.get $ldo) (local.get $ow) (local.get $oh)
            (local.get $rowIn) (local.get $op) (local.get $ldo))`;
  let dispatch = `(br_table ${rowCases.map((rows) => `$q${rows}`).join(' ')} (i32.sub (local.get $rows) (i32.const 1)))`;
  for (const rows of rowCases) dispatch = `(block $q${rows} ${dispatch})\n          ${call(rows)}\n          (br $next)`;
  return `
  (func (export "filter_grad_direct") (param $x i32) (param $pad i32) (param $dy i32) (param $partial i32)
    (param $images i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32)
    (param $padTop i32) (param $padLeft i32) (param $kh i32) (param $kw i32) (param $panels i32)
    (local $n i32) (local $hp i32) (local $wp i32) (local $pixel i32) (local $rowIn i32) (local $run i32) (local $ldo i32)
    (local $ky i32) (local $j i32) (local $rows i32) (local $p i32) (local $ap i32) (local $bpp i32) (local $op i32) (local $image i32)
    (local.set $hp (i32.sub (i32.add (local.get $oh) (local.get $kh)) (i32.const 1)))
    (local.set $wp (i32.sub (i32.add (local.get $ow) (local.get $kw)) (i32.const 1)))
    (local.set $pixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $rowIn (i32.mul (local.get $wp) (local.get $pixel)))
    (local.set $run (i32.mul (local.get $kw) (local.get $ci)))
    (local.set $ldo (i32.shl (local.get $panels) (i32.const 5)))
    (block $ndone (loop $nloop
      (br_if $ndone (i32.ge_u (local.get $n) (local.get $images)))
      (call $pad_image (i32.add (local.get $x) (i32.mul (local.get $n) (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $pixel))))
        (local.get $pad) (local.get $h) (local.get $w) (local.get $ci) (local.get $hp) (local.get $wp) (local.get $padTop) (local.get $padLeft))
      (local.set $image (i32.add (local.get $dy) (i32.mul (local.get $n) (i32.mul (i32.mul (local.get $oh) (local.get $ow)) (local.get $ldo)))))
      (local.set $ky (i32.const 0))
      (loop $kyloop
        (local.set $j (i32.const 0))
        (loop $jloop
          (local.set $rows (select (i32.const ${GEMM_MR}) (i32.sub (local.get $run) (local.get $j))
            (i32.lt_u (i32.const ${GEMM_MR}) (i32.sub (local.get $run) (local.get $j)))))
          (local.set $p (i32.const 0))
          (loop $ploop
            (local.set $ap (i32.add (local.get $pad) (i32.add (i32.mul (local.get $ky) (local.get $rowIn)) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $bpp (i32.add (local.get $image) (i32.shl (local.get $p) (i32.const 5))))
            (local.set $op (i32.add (local.get $partial)
              (i32.add (i32.mul (i32.add (i32.mul (local.get $ky) (local.get $run)) (local.get $j)) (local.get $ldo)) (i32.shl (local.get $p) (i32.const 5)))))
            (block $next ${dispatch})
            (br_if $ploop (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $panels))))
          (br_if $jloop (i32.lt_u (local.tee $j (i32.add (local.get $j) (local.get $rows))) (local.get $run))))
        (br_if $kyloop (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $kh))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nloop)))
  )`;
}

/**
 * conv_direct: a stride-1 convolution read straight from the input, for few input channels (a first layer), where a
 * Winograd or im2col product would have almost no depth. Images [0, images) of x (NHWC, H x W x CI) go one at a time
 * into \$pad, zero-padded to (OH + KH - 1) x (OW + KW - 1) x CI (padTop, padLeft before); then each block of up to
 * GEMM_MR adjacent output pixels by 8 output channels is one micro-kernel call ($ck1 .. $ck4) over the KH x KW x CI
 * taps, in that fixed order, plus bias and ReLU. out: OH x OW x CO per image, CO = 8 panels. bp: the filter packed by
 * pack_b ([panels][KH KW CI][8]); bias: CO floats. Every output is summed in one order, whatever thread runs it.
 */
function convDirect(rowCases) {
  const call = (rows) => `(call $ck${rows} (local.get $ap) (local.get $pixel) (local.get $bpp) (local.get $run) (local.get $kh) (local.get $rowIn)
            (local.get $op) (local.get $ldo) (local.get $bq) (local.get $relu))`;
  let dispatch = `(br_table ${rowCases.map((rows) => `$q${rows}`).join(' ')} (i32.sub (local.get $rows) (i32.const 1)))`;
  for (const rows of rowCases) dispatch = `(block $q${rows} ${dispatch})\n          ${call(rows)}\n          (br $next)`;
  return `
  (func (export "conv_direct") (param $x i32) (param $pad i32) (param $out i32) (param $bp i32) (param $bias i32)
    (param $images i32) (param $h i32) (param $w i32) (param $ci i32) (param $oh i32) (param $ow i32)
    (param $padTop i32) (param $padLeft i32) (param $kh i32) (param $kw i32) (param $panels i32) (param $relu i32)
    (local $n i32) (local $hp i32) (local $wp i32) (local $pixel i32) (local $rowIn i32) (local $run i32) (local $bPanel i32) (local $ldo i32)
    (local $oy i32) (local $ox i32) (local $rows i32) (local $p i32) (local $ap i32) (local $bpp i32) (local $op i32) (local $bq i32)
    (local.set $hp (i32.sub (i32.add (local.get $oh) (local.get $kh)) (i32.const 1)))
    (local.set $wp (i32.sub (i32.add (local.get $ow) (local.get $kw)) (i32.const 1)))
    (local.set $pixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $rowIn (i32.mul (local.get $wp) (local.get $pixel)))
    (local.set $run (i32.mul (local.get $kw) (local.get $ci)))
    (local.set $bPanel (i32.shl (i32.mul (i32.mul (local.get $kh) (local.get $run)) (i32.const 8)) (i32.const 2)))
    (local.set $ldo (i32.shl (local.get $panels) (i32.const 5)))
    (block $ndone (loop $nloop
      (br_if $ndone (i32.ge_u (local.get $n) (local.get $images)))
      (call $pad_image (i32.add (local.get $x) (i32.mul (local.get $n) (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $pixel))))
        (local.get $pad) (local.get $h) (local.get $w) (local.get $ci) (local.get $hp) (local.get $wp) (local.get $padTop) (local.get $padLeft))
      (local.set $oy (i32.const 0))
      (loop $oyloop
        (local.set $ox (i32.const 0))
        (loop $oxloop
          (local.set $rows (select (i32.const ${GEMM_MR}) (i32.sub (local.get $ow) (local.get $ox))
            (i32.lt_u (i32.const ${GEMM_MR}) (i32.sub (local.get $ow) (local.get $ox)))))
          (local.set $p (i32.const 0))
          (loop $ploop
            (local.set $ap (i32.add (local.get $pad) (i32.add (i32.mul (local.get $oy) (local.get $rowIn)) (i32.mul (local.get $ox) (local.get $pixel)))))
            (local.set $bpp (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $bPanel))))
            (local.set $op (i32.add (local.get $out)
              (i32.add (i32.mul (i32.add (i32.mul (local.get $oy) (local.get $ow)) (local.get $ox)) (local.get $ldo)) (i32.shl (local.get $p) (i32.const 5)))))
            (local.set $bq (i32.add (local.get $bias) (i32.shl (local.get $p) (i32.const 5))))
            (block $next ${dispatch})
            (br_if $ploop (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $panels))))
          (br_if $oxloop (i32.lt_u (local.tee $ox (i32.add (local.get $ox) (local.get $rows))) (local.get $ow))))
        (br_if $oyloop (i32.lt_u (local.tee $oy (i32.add (local.get $oy) (i32.const 1))) (local.get $oh))))
      (local.set $out (i32.add (local.get $out) (i32.mul (i32.mul (local.get $oh) (local.get $ow)) (local.get $ldo))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nloop)))
  )`;
}

/**
 * input_grad_k3: the input gradient of a stride-1 convolution with 3-wide filters and few input channels (a first
 * layer), read straight from dy: dx[iy, ix, ci] = sum over ky, kx, co of dy[iy + padTop - ky, ix + padLeft - kx, co]
 * w[ky, kx, ci, co] (dy outside its bounds is 0). Four adjacent dx pixels at a time: for each filter row and four
 * output channels, the six dy vectors the three taps of the four pixels read are loaded once, then 12 multiply-adds
 * into four accumulators (one per pixel, four channels in its lanes), whose lanes are summed at the end. Blocks that
 * reach past dy's left or right edge read zeros there ($checked). Images [0, images); CO a multiple of 4. Each value is
 * summed in one fixed order (filter rows, then channel groups, then taps), whatever thread runs it.
 */
function inputGradK3(fma) {
  const body = (checked) => {
    const dyAt = (u) => `(i32.add (local.get $rowp) (i32.mul (local.get $rsU) (i32.const ${u})))`;
    const load = (u) => checked
      ? `(local.set $d${u} (if (result v128) (i32.lt_u (i32.add (local.get $c0) (i32.const ${u})) (local.get $ow))
            (then (v128.load ${dyAt(u)})) (else (v128.const i32x4 0 0 0 0))))`
      : `(local.set $d${u} (v128.load ${dyAt(u)}))`;
    const fmas = [];
    for (let kx = 0; kx < 3; kx++) for (let r = 0; r < 4; r++) fmas.push(madd(fma, `$acc${r}`, `$d${r + 2 - kx}`, `$w${kx}`));
    return `(local.set $j (i32.const 0))
              (loop $jloop
                ${[0, 1, 2, 3, 4, 5].map(load).join('\n                ')}
                (local.set $w0 (v128.load (local.get $wp)))
                (local.set $w1 (v128.load (i32.add (local.get $wp) (local.get $tapStride))))
                (local.set $w2 (v128.load (i32.add (local.get $wp) (i32.shl (local.get $tapStride) (i32.const 1)))))
                ${fmas.join('\n                ')}
                (local.set $rowp (i32.add (local.get $rowp) (i32.const 16)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
                (br_if $jloop (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $co))))`;
  };
  return `
  (func (export "input_grad_k3") (param $dy i32) (param $w i32) (param $dx i32) (param $images i32) (param $h i32) (param $wd i32)
    (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32) (param $kh i32) (param $padTop i32) (param $padLeft i32)
    (local $n i32) (local $iy i32) (local $x0 i32) (local $c i32) (local $ky i32) (local $row i32) (local $j i32) (local $c0 i32)
    (local $rsU i32) (local $tapStride i32) (local $rowp i32) (local $wp i32) (local $out i32) (local $lanes i32) (local $r i32)
    (local $dyImage i32) (local $dxImage i32)
    (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $d4 v128) (local $d5 v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128)
    (local.set $rsU (i32.shl (local.get $co) (i32.const 2)))
    (local.set $tapStride (i32.mul (local.get $ci) (local.get $rsU)))
    (local.set $dyImage (i32.mul (i32.mul (local.get $oh) (local.get $ow)) (local.get $rsU)))
    (local.set $dxImage (i32.shl (i32.mul (i32.mul (local.get $h) (local.get $wd)) (local.get $ci)) (i32.const 2)))
    (block $ndone (loop $nloop
      (br_if $ndone (i32.ge_u (local.get $n) (local.get $images)))
      (local.set $iy (i32.const 0))
      (loop $yloop
        (local.set $x0 (i32.const 0))
        (loop $xloop
          (local.set $c0 (i32.sub (i32.add (local.get $x0) (local.get $padLeft)) (i32.const 2)))
          (local.set $c (i32.const 0))
          (loop $cloop
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (v128.const i32x4 0 0 0 0))
            (local.set $acc2 (v128.const i32x4 0 0 0 0))
            (local.set $acc3 (v128.const i32x4 0 0 0 0))
            (local.set $ky (i32.const 0))
            (loop $kyloop
              (local.set $row (i32.sub (i32.add (local.get $iy) (local.get $padTop)) (local.get $ky)))
              (if (i32.lt_u (local.get $row) (local.get $oh)) (then
                (local.set $rowp (i32.add (i32.add (local.get $dy) (i32.mul (local.get $n) (local.get $dyImage)))
                  (i32.mul (i32.add (i32.mul (local.get $row) (local.get $ow)) (local.get $c0)) (local.get $rsU))))
                ;; w[ky, 0, c, 0]: the taps kx = 0, 1, 2 lie $tapStride apart.
                (local.set $wp (i32.add (local.get $w) (i32.mul (i32.add (i32.mul (i32.mul (local.get $ky) (i32.const 3)) (local.get $ci)) (local.get $c)) (local.get $rsU))))
                (if (i32.and (i32.ge_s (local.get $c0) (i32.const 0)) (i32.le_s (i32.add (local.get $c0) (i32.const 6)) (local.get $ow)))
                  (then ${body(false)})
                  (else ${body(true)}))))
              (br_if $kyloop (i32.lt_u (local.tee $ky (i32.add (local.get $ky) (i32.const 1))) (local.get $kh))))
            ;; [sum acc0, sum acc1, sum acc2, sum acc3]: lanes 0 + 2 and 1 + 3 pairwise, then the two halves.
            (local.set $d0 (f32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $acc0) (local.get $acc1))
                                      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $acc0) (local.get $acc1))))
            (local.set $d1 (f32x4.add (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $acc2) (local.get $acc3))
                                      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $acc2) (local.get $acc3))))
            (local.set $d0 (f32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $d0) (local.get $d1))
                                      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $d0) (local.get $d1))))
            (local.set $out (i32.add (i32.add (local.get $dx) (i32.mul (local.get $n) (local.get $dxImage)))
              (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $iy) (local.get $wd)) (local.get $x0)) (local.get $ci)) (local.get $c)) (i32.const 2))))
            (local.set $lanes (select (i32.const 4) (i32.sub (local.get $wd) (local.get $x0)) (i32.lt_u (i32.const 4) (i32.sub (local.get $wd) (local.get $x0)))))
            (if (i32.and (i32.eq (local.get $ci) (i32.const 1)) (i32.eq (local.get $lanes) (i32.const 4)))
              (then (v128.store (local.get $out) (local.get $d0)))
              (else
                (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $d0)))
                (if (i32.gt_u (local.get $lanes) (i32.const 1)) (then (f32.store (i32.add (local.get $out) (i32.shl (local.get $ci) (i32.const 2))) (f32x4.extract_lane 1 (local.get $d0)))))
                (if (i32.gt_u (local.get $lanes) (i32.const 2)) (then (f32.store (i32.add (local.get $out) (i32.shl (local.get $ci) (i32.const 3))) (f32x4.extract_lane 2 (local.get $d0)))))
                (if (i32.gt_u (local.get $lanes) (i32.const 3)) (then (f32.store (i32.add (local.get $out) (i32.mul (local.get $ci) (i32.const 12))) (f32x4.extract_lane 3 (local.get $d0)))))))
            (br_if $cloop (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $ci))))
          (br_if $xloop (i32.lt_u (local.tee $x0 (i32.add (local.get $x0) (i32.const 4))) (local.get $wd))))
        (br_if $yloop (i32.lt_u (local.tee $iy (i32.add (local.get $iy) (i32.const 1))) (local.get $h))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $nloop)))
  )`;
}

/**
 * pack_b's 4 x 8 block of a transposed B: columns $from + c csB (c < 8), 4 floats each, become 4 rows of 8 at $to
 * (32 bytes apart): columns 0-3 and 4-7 each through a 4x4 transpose of shuffles.
 */
function transposeEight() {
  const col = (c) => (c === 0 ? '(local.get $from)' : `(i32.add (local.get $from) (i32.mul (local.get $csB) (i32.const ${c})))`);
  const lanes = (pairs) => pairs.map(([v, lane]) => [0, 1, 2, 3].map((b) => 16 * v + 4 * lane + b).join(' ')).join(' ');
  const half = (h) => {
    const [a, b, c, d] = [0, 1, 2, 3].map((i) => `(local.get $v${i})`);
    return `${[0, 1, 2, 3].map((i) => `(local.set $v${i} (v128.load ${col(4 * h + i)}))`).join('\n              ')}
              (local.set $t0 (i8x16.shuffle ${lanes([[0, 0], [1, 0], [0, 1], [1, 1]])} ${a} ${b}))
              (local.set $t1 (i8x16.shuffle ${lanes([[0, 2], [1, 2], [0, 3], [1, 3]])} ${a} ${b}))
              (local.set $t2 (i8x16.shuffle ${lanes([[0, 0], [1, 0], [0, 1], [1, 1]])} ${c} ${d}))
              (local.set $t3 (i8x16.shuffle ${lanes([[0, 2], [1, 2], [0, 3], [1, 3]])} ${c} ${d}))
              ${[['$t0', 0], ['$t0', 2], ['$t1', 0], ['$t1', 2]].map(([t, l], r) => `(v128.store offset=${32 * r + 16 * h} (local.get $to) (i8x16.shuffle ${lanes([[0, l], [0, l + 1], [1, l], [1, l + 1]])} (local.get ${t}) (local.get ${t === '$t0' ? '$t2' : '$t3'})))`).join('\n              ')}`;
  };
  return `${half(0)}
              ${half(1)}`;
}

/** A br_table on $rows - 1 into the micro-kernel for that many rows (blocks $r6 .. $r1 nested, innermost first out). */
function dispatch(rowCases) {
  const call = (rows) => `(call $mk${rows} (local.get $ap) (local.get $rsA) (local.get $csA) (local.get $bpp) (local.get $bRow) (local.get $kc) (local.get $scratch))`;
  let text = `(br_table ${rowCases.map((rows) => `$r${rows}`).join(' ')} (i32.sub (local.get $rows) (i32.const 1)))`;
  for (const rows of rowCases) text = `(block $r${rows} ${text})\n          ${call(rows)}\n          (br $next)`;
  return `(block $next ${text})`;
}

/** The module's text; MEMORY_IMPORT stands for the imported memory's type (build-simd.mjs fills it in). */
export function gemmWat({ fma }) {
  const rowCases = [...Array(GEMM_MR).keys()].map((i) => i + 1);
  return `;; Generated by scripts/gemm-wat.mjs (${fma ? 'f32x4.relaxed_madd' : 'f32x4.mul then f32x4.add'}): do not edit.
(module
  (import "env" "memory" MEMORY_IMPORT)

  ;; C[rows x cols] (+)= the block at from (rows of 8 floats); cp: C's first element, ldc: its row stride in bytes.
  (func $put (param $from i32) (param $cp i32) (param $ldc i32) (param $rows i32) (param $cols i32) (param $add i32)
    (local $i i32) (local $value f32)
    (if (i32.eq (local.get $cols) (i32.const 8))
      (then
        (loop $row
          (if (local.get $add)
            (then
              (v128.store (local.get $cp) (f32x4.add (v128.load (local.get $cp)) (v128.load (local.get $from))))
              (v128.store offset=16 (local.get $cp) (f32x4.add (v128.load offset=16 (local.get $cp)) (v128.load offset=16 (local.get $from)))))
            (else
              (v128.store (local.get $cp) (v128.load (local.get $from)))
              (v128.store offset=16 (local.get $cp) (v128.load offset=16 (local.get $from)))))
          (local.set $from (i32.add (local.get $from) (i32.const 32)))
          (local.set $cp (i32.add (local.get $cp) (local.get $ldc)))
          (br_if $row (local.tee $rows (i32.sub (local.get $rows) (i32.const 1))))))
      (else
        (loop $row
          (local.set $i (i32.const 0))
          (loop $lane
            (local.set $value (f32.load (i32.add (local.get $from) (i32.shl (local.get $i) (i32.const 2)))))
            (if (local.get $add)
              (then (local.set $value (f32.add (f32.load (i32.add (local.get $cp) (i32.shl (local.get $i) (i32.const 2)))) (local.get $value)))))
            (f32.store (i32.add (local.get $cp) (i32.shl (local.get $i) (i32.const 2))) (local.get $value))
            (br_if $lane (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $cols))))
          (local.set $from (i32.add (local.get $from) (i32.const 32)))
          (local.set $cp (i32.add (local.get $cp) (local.get $ldc)))
          (br_if $row (local.tee $rows (i32.sub (local.get $rows) (i32.const 1))))))))
${rowCases.map((rows) => microKernel(rows, fma)).join('\n')}
${rowCases.map((rows) => convMicroKernel(rows, fma)).join('\n')}
${rowCases.map((rows) => tapsMicroKernel(rows, fma)).join('\n')}
${PAD_IMAGE}
${convDirect(rowCases)}
${filterGradDirect(rowCases)}
${inputGradK3(fma)}

  ;; out[ceil(n / 8)][k][8] = B[k x n] (element (kk, j) at b + kk rsB + j csB, strides in bytes), zeros past column n.
  (func (export "pack_b") (param $b i32) (param $rsB i32) (param $csB i32) (param $k i32) (param $n i32) (param $out i32)
    (local $j i32) (local $kk i32) (local $lane i32) (local $from i32) (local $to i32) (local $full i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $full (i32.and (local.get $n) (i32.const -8)))
    ;; Whole panels of a row-major B: 32 bytes at a time.
    (if (i32.eq (local.get $csB) (i32.const 4))
      (then
        (local.set $j (i32.const 0))
        (block $done (loop $panel
          (br_if $done (i32.ge_u (local.get $j) (local.get $full)))
          (local.set $from (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $j) (local.get $k)) (i32.const 2))))
          (local.set $kk (local.get $k))
          (loop $row
            (v128.store (local.get $to) (v128.load (local.get $from)))
            (v128.store offset=16 (local.get $to) (v128.load offset=16 (local.get $from)))
            (local.set $from (i32.add (local.get $from) (local.get $rsB)))
            (local.set $to (i32.add (local.get $to) (i32.const 32)))
            (br_if $row (local.tee $kk (i32.sub (local.get $kk) (i32.const 1)))))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br $panel))))
      (else (if (i32.eq (local.get $rsB) (i32.const 4))
        (then
          ;; Whole panels of a transposed B (its columns lie in rows): 4 rows of a panel at a time, from 8 columns of 4
          ;; floats through two 4x4 transposes, then the panel's last rows a float at a time.
          (local.set $j (i32.const 0))
          (block $tdone (loop $tpanel
            (br_if $tdone (i32.ge_u (local.get $j) (local.get $full)))
            (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $j) (local.get $k)) (i32.const 2))))
            (local.set $from (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $csB))))
            (local.set $kk (i32.const 0))
            (block $qdone (loop $quad
              (br_if $qdone (i32.gt_u (i32.add (local.get $kk) (i32.const 4)) (local.get $k)))
              ${transposeEight()}
              (local.set $from (i32.add (local.get $from) (i32.const 16)))
              (local.set $to (i32.add (local.get $to) (i32.const 128)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 4)))
              (br $quad)))
            (block $rdone (loop $rest
              (br_if $rdone (i32.ge_u (local.get $kk) (local.get $k)))
              (local.set $lane (i32.const 0))
              (loop $lanes8
                (f32.store (i32.add (local.get $to) (i32.shl (local.get $lane) (i32.const 2)))
                  (f32.load (i32.add (local.get $from) (i32.mul (local.get $lane) (local.get $csB)))))
                (br_if $lanes8 (i32.lt_u (local.tee $lane (i32.add (local.get $lane) (i32.const 1))) (i32.const 8))))
              (local.set $from (i32.add (local.get $from) (i32.const 4)))
              (local.set $to (i32.add (local.get $to) (i32.const 32)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $rest)))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $tpanel))))
        (else (local.set $full (i32.const 0))))))
    ;; The rest (a strided B, and the last partial panel), a float at a time.
    (local.set $j (local.get $full))
    (block $done (loop $panel
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $kk (i32.const 0))
      (loop $row
        (local.set $lane (i32.const 0))
        (local.set $to (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $k)) (i32.shl (local.get $kk) (i32.const 3))) (i32.const 2))))
        (loop $lanes
          (f32.store (i32.add (local.get $to) (i32.shl (local.get $lane) (i32.const 2)))
            (if (result f32) (i32.lt_u (i32.add (local.get $j) (local.get $lane)) (local.get $n))
              (then (f32.load (i32.add (i32.add (local.get $b) (i32.mul (local.get $kk) (local.get $rsB)))
                                       (i32.mul (i32.add (local.get $j) (local.get $lane)) (local.get $csB)))))
              (else (f32.const 0))))
          (br_if $lanes (i32.lt_u (local.tee $lane (i32.add (local.get $lane) (i32.const 1))) (i32.const 8))))
        (br_if $row (i32.lt_u (local.tee $kk (i32.add (local.get $kk) (i32.const 1))) (local.get $k))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $panel))))

  ;; Rows [row0, row1) of C[m x n] (+)= A[m x k] B, k >= 1, strides in bytes. B is read in panels of 8 columns: panel
  ;; p's row kk at bp + p bPanel + kk bRow (packed by pack_b: bPanel = 32 k, bRow = 32; a row-major B with n a multiple
  ;; of 8 as it lies: bPanel = 32, bRow = its row stride). add = 0 stores the product, add = 1 adds it to C.
  ;; scratch: GEMM_SCRATCH_BYTES of this call's own.
  (func (export "gemm") (param $a i32) (param $rsA i32) (param $csA i32) (param $bp i32) (param $bPanel i32) (param $bRow i32)
    (param $c i32) (param $ldc i32)
    (param $n i32) (param $k i32) (param $row0 i32) (param $row1 i32) (param $add i32) (param $scratch i32)
    (local $kb i32) (local $kc i32) (local $addNow i32) (local $i i32) (local $rows i32) (local $j i32) (local $cols i32)
    (local $ap i32) (local $bpp i32) (local $cp i32)
    (if (i32.ge_u (local.get $row0) (local.get $row1)) (then (return)))
    (loop $kblock
      (local.set $kc (select (i32.const ${GEMM_KC}) (i32.sub (local.get $k) (local.get $kb))
        (i32.lt_u (i32.const ${GEMM_KC}) (i32.sub (local.get $k) (local.get $kb)))))
      (local.set $addNow (i32.or (local.get $add) (i32.ne (local.get $kb) (i32.const 0))))
      (local.set $i (local.get $row0))
      (loop $rowblock
        (local.set $rows (select (i32.const ${GEMM_MR}) (i32.sub (local.get $row1) (local.get $i))
          (i32.lt_u (i32.const ${GEMM_MR}) (i32.sub (local.get $row1) (local.get $i)))))
        (local.set $j (i32.const 0))
        (loop $panel
          (local.set $cols (select (i32.const 8) (i32.sub (local.get $n) (local.get $j))
            (i32.lt_u (i32.const 8) (i32.sub (local.get $n) (local.get $j)))))
          (local.set $ap (i32.add (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $rsA))) (i32.mul (local.get $kb) (local.get $csA))))
          (local.set $bpp (i32.add (i32.add (local.get $bp) (i32.mul (i32.shr_u (local.get $j) (i32.const 3)) (local.get $bPanel)))
            (i32.mul (local.get $kb) (local.get $bRow))))
          (local.set $cp (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $j) (i32.const 2))))
          ${dispatch(rowCases)}
          (call $put (local.get $scratch) (local.get $cp) (local.get $ldc) (local.get $rows) (local.get $cols) (local.get $addNow))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br_if $panel (i32.lt_u (local.get $j) (local.get $n))))
        (local.set $i (i32.add (local.get $i) (local.get $rows)))
        (br_if $rowblock (i32.lt_u (local.get $i) (local.get $row1))))
      (br_if $kblock (i32.lt_u (local.tee $kb (i32.add (local.get $kb) (i32.const ${GEMM_KC}))) (local.get $k)))))
)
`;
}
