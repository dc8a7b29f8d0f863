;; SIMD kernels that run on tfjs-wasm's own heap (its memory is imported): the loops that JavaScript runs one
;; float at a time, here four at a time. Pointers are byte offsets of float32 arrays in that memory.
;; `scripts/build-simd.mjs` compiles this file (with wabt) into simd-module.ts; a test checks the two agree.
(module
  ;; The build puts the memory type in the import: a shared memory for tfjs's threaded build, a plain one otherwise.
  (import "env" "memory" MEMORY_IMPORT)

  ;; dx = dy * (x > 0 ? 1 : 0): the ReLU gradient, as tfjs computes it (a negative dy times 0 gives -0).
  (func (export "relu_grad") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $vdone (loop $vec
      (br_if $vdone (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $dx) (local.get $i))
        (f32x4.mul
          (v128.load (i32.add (local.get $dy) (local.get $i)))
          (v128.and
            (f32x4.gt (v128.load (i32.add (local.get $x) (local.get $i))) (v128.const f32x4 0 0 0 0))
            (v128.const f32x4 1 1 1 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vec)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $i) (local.get $end)))
      (f32.store (i32.add (local.get $dx) (local.get $i))
        (f32.mul
          (f32.load (i32.add (local.get $dy) (local.get $i)))
          (select (f32.const 1) (f32.const 0) (f32.gt (f32.load (i32.add (local.get $x) (local.get $i))) (f32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $tail))))

  ;; The max-pool gradient for 2x2 windows with stride 2 that tile the input exactly, channels a multiple of 4.
  ;; $rows output rows (batch * out height), $width output columns, $channels channels. Each window's first
  ;; maximum in row-major order (a, b / c, d) gets dy; the other three get 0.
  (func (export "max_pool_grad_2x2") (param $x i32) (param $dy i32) (param $dx i32)
        (param $rows i32) (param $width i32) (param $channels i32)
    (local $r i32) (local $w i32) (local $c i32) (local $cell i32) (local $rowBytes i32)
    (local $a i32) (local $b i32) (local $top i32) (local $g i32)
    (local $va v128) (local $vb v128) (local $vc v128) (local $vd v128) (local $max v128)
    (local $ea v128) (local $eb v128) (local $ec v128) (local $taken v128) (local $grad v128)
    (local.set $cell (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (i32.shl (local.get $width) (i32.const 1)) (local.get $cell)))
    (local.set $g (local.get $dy))
    (block $rdone (loop $row
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $top (i32.mul (i32.shl (local.get $r) (i32.const 1)) (local.get $rowBytes)))
      (local.set $w (i32.const 0))
      (block $wdone (loop $col
        (br_if $wdone (i32.ge_u (local.get $w) (local.get $width)))
        ;; $a: byte offset of the window's top-left cell; $b: of its top-right one.
        (local.set $a (i32.add (local.get $top) (i32.mul (i32.shl (local.get $w) (i32.const 1)) (local.get $cell))))
        (local.set $b (i32.add (local.get $a) (local.get $cell)))
        (local.set $c (i32.const 0))
        (block $cdone (loop $chan
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $cell)))
          (local.set $va (v128.load (i32.add (local.get $x) (i32.add (local.get $a) (local.get $c)))))
          (local.set $vb (v128.load (i32.add (local.get $x) (i32.add (local.get $b) (local.get $c)))))
          (local.set $vc (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $a) (local.get $rowBytes)) (local.get $c)))))
          (local.set $vd (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $b) (local.get $rowBytes)) (local.get $c)))))
          (local.set $max (f32x4.max (f32x4.max (local.get $va) (local.get $vb)) (f32x4.max (local.get $vc) (local.get $vd))))
          (local.set $ea (f32x4.eq (local.get $va) (local.get $max)))
          (local.set $eb (v128.andnot (f32x4.eq (local.get $vb) (local.get $max)) (local.get $ea)))
          (local.set $taken (v128.or (local.get $ea) (local.get $eb)))
          (local.set $ec (v128.andnot (f32x4.eq (local.get $vc) (local.get $max)) (local.get $taken)))
          (local.set $taken (v128.or (local.get $taken) (local.get $ec)))
          (local.set $grad (v128.load (local.get $g)))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $a) (local.get $c))) (v128.and (local.get $grad) (local.get $ea)))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $b) (local.get $c))) (v128.and (local.get $grad) (local.get $eb)))
          (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $a) (local.get $rowBytes)) (local.get $c)))
            (v128.and (local.get $grad) (local.get $ec)))
          (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $b) (local.get $rowBytes)) (local.get $c)))
            (v128.andnot (local.get $grad) (local.get $taken)))
          (local.set $g (i32.add (local.get $g) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $chan)))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        (br $col)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))

  ;; One Adam step, each operation rounded to float32 as tfjs's separate kernels round it:
  ;;   m' = m*b1 + g*a1;  v' = v*b2 + (g*g)*a2;  w' = ((m'/c1) / (sqrt(v'/c2) + eps)) * step + w
  (func $adam_lanes (param $w v128) (param $m v128) (param $v v128) (param $g v128)
        (param $b1 v128) (param $a1 v128) (param $b2 v128) (param $a2 v128) (param $eps v128) (param $step v128)
        (param $c1 v128) (param $c2 v128) (result v128 v128 v128)
    (local $nm v128) (local $nv v128)
    (local.set $nm (f32x4.add (f32x4.mul (local.get $m) (local.get $b1)) (f32x4.mul (local.get $g) (local.get $a1))))
    (local.set $nv (f32x4.add (f32x4.mul (local.get $v) (local.get $b2))
                              (f32x4.mul (f32x4.mul (local.get $g) (local.get $g)) (local.get $a2))))
    (f32x4.add
      (f32x4.mul
        (f32x4.div (f32x4.div (local.get $nm) (local.get $c1))
                   (f32x4.add (f32x4.sqrt (f32x4.div (local.get $nv) (local.get $c2))) (local.get $eps)))
        (local.get $step))
      (local.get $w))
    (local.get $nm)
    (local.get $nv))

  (func (export "adam") (param $w i32) (param $m i32) (param $v i32) (param $g i32)
        (param $outW i32) (param $outM i32) (param $outV i32) (param $n i32)
        (param $b1 f32) (param $a1 f32) (param $b2 f32) (param $a2 f32) (param $eps f32) (param $step f32)
        (param $c1 f32) (param $c2 f32)
    (local $i i32) (local $end i32) (local $rw v128) (local $rm v128) (local $rv v128)
    (local $vb1 v128) (local $va1 v128) (local $vb2 v128) (local $va2 v128) (local $veps v128) (local $vstep v128)
    (local $vc1 v128) (local $vc2 v128)
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $va1 (f32x4.splat (local.get $a1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $va2 (f32x4.splat (local.get $a2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $vstep (f32x4.splat (local.get $step)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $vdone (loop $vec
      (br_if $vdone (i32.ge_u (local.get $i) (local.get $end)))
      (call $adam_lanes
        (v128.load (i32.add (local.get $w) (local.get $i))) (v128.load (i32.add (local.get $m) (local.get $i)))
        (v128.load (i32.add (local.get $v) (local.get $i))) (v128.load (i32.add (local.get $g) (local.get $i)))
        (local.get $vb1) (local.get $va1) (local.get $vb2) (local.get $va2) (local.get $veps) (local.get $vstep)
        (local.get $vc1) (local.get $vc2))
      (local.set $rv) (local.set $rm) (local.set $rw)
      (v128.store (i32.add (local.get $outW) (local.get $i)) (local.get $rw))
      (v128.store (i32.add (local.get $outM) (local.get $i)) (local.get $rm))
      (v128.store (i32.add (local.get $outV) (local.get $i)) (local.get $rv))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vec)))
    ;; The last n % 4 elements, one lane each.
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $i) (local.get $end)))
      (call $adam_lanes
        (v128.load32_zero (i32.add (local.get $w) (local.get $i))) (v128.load32_zero (i32.add (local.get $m) (local.get $i)))
        (v128.load32_zero (i32.add (local.get $v) (local.get $i))) (v128.load32_zero (i32.add (local.get $g) (local.get $i)))
        (local.get $vb1) (local.get $va1) (local.get $vb2) (local.get $va2) (local.get $veps) (local.get $vstep)
        (local.get $vc1) (local.get $vc2))
      (local.set $rv) (local.set $rm) (local.set $rw)
      (f32.store (i32.add (local.get $outW) (local.get $i)) (f32x4.extract_lane 0 (local.get $rw)))
      (f32.store (i32.add (local.get $outM) (local.get $i)) (f32x4.extract_lane 0 (local.get $rm)))
      (f32.store (i32.add (local.get $outV) (local.get $i)) (f32x4.extract_lane 0 (local.get $rv)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $tail))))
;; dW[k][co] = sum over p of cols[k][p] * dy[p][co]: the filter gradient of a convolution with few taps (k counts
;; filterHeight * filterWidth * inChannels), where a general matrix product spends its time packing dy. cols is
;; [taps][positions], dy [positions][channels], dw [taps][channels]; channels a multiple of 4. Positions go in blocks
;; of 256 whose partial sums are added to dw at the end of each block, so long sums lose less to rounding.
  (func (export "filter_grad_few_taps") (param $cols i32) (param $dy i32) (param $dw i32) (param $block i32)
        (param $taps i32) (param $positions i32) (param $channels i32)
    (local $p0 i32) (local $p1 i32) (local $p i32) (local $k i32) (local $c i32) (local $rowBytes i32)
    (local $acc i32) (local $col i32) (local $dyRow i32) (local $value v128)
    (local.set $rowBytes (i32.shl (local.get $channels) (i32.const 2)))
    ;; dw = 0
    (memory.fill (local.get $dw) (i32.const 0) (i32.mul (local.get $taps) (local.get $rowBytes)))
    (block $bdone (loop $blocks
      (br_if $bdone (i32.ge_u (local.get $p0) (local.get $positions)))
      (local.set $p1 (select (local.get $positions) (i32.add (local.get $p0) (i32.const 256))
                             (i32.lt_u (local.get $positions) (i32.add (local.get $p0) (i32.const 256)))))
      (local.set $k (i32.const 0))
      (block $kdone (loop $taps_loop
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $taps)))
        ;; $block holds one row of partial sums (channels floats), zeroed per tap and block.
        (memory.fill (local.get $block) (i32.const 0) (local.get $rowBytes))
        (local.set $col (i32.add (local.get $cols) (i32.shl (i32.add (i32.mul (local.get $k) (local.get $positions)) (local.get $p0)) (i32.const 2))))
        (local.set $dyRow (i32.add (local.get $dy) (i32.mul (local.get $p0) (local.get $rowBytes))))
        (local.set $p (local.get $p0))
        (block $pdone (loop $pos
          (br_if $pdone (i32.ge_u (local.get $p) (local.get $p1)))
          (local.set $value (f32x4.splat (f32.load (local.get $col))))
          (local.set $c (i32.const 0))
          (block $cdone (loop $chan
            (br_if $cdone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $acc (i32.add (local.get $block) (local.get $c)))
            (v128.store (local.get $acc)
              (f32x4.add (v128.load (local.get $acc))
                         (f32x4.mul (local.get $value) (v128.load (i32.add (local.get $dyRow) (local.get $c))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $chan)))
          (local.set $col (i32.add (local.get $col) (i32.const 4)))
          (local.set $dyRow (i32.add (local.get $dyRow) (local.get $rowBytes)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pos)))
        ;; dw[k] += block
        (local.set $c (i32.const 0))
        (block $adone (loop $add
          (br_if $adone (i32.ge_u (local.get $c) (local.get $rowBytes)))
          (local.set $acc (i32.add (i32.add (local.get $dw) (i32.mul (local.get $k) (local.get $rowBytes))) (local.get $c)))
          (v128.store (local.get $acc) (f32x4.add (v128.load (local.get $acc)) (v128.load (i32.add (local.get $block) (local.get $c)))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $add)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $taps_loop)))
      (local.set $p0 (local.get $p1))
      (br $blocks))))
;; out[c][r] = in[r][c] for an in matrix of $rows x $cols floats, in 4x4 tiles (four loads, eight shuffles, four
;; stores) where both dimensions allow, element by element along the edges.
  (func (export "transpose") (param $in i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $rows4 i32) (local $cols4 i32) (local $src i32) (local $dst i32)
    (local $inRow i32) (local $outRow i32)
    (local $a v128) (local $b v128) (local $e v128) (local $d v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $inRow (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $outRow (i32.shl (local.get $rows) (i32.const 2)))
    (block $rdone (loop $rloop
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows4)))
      (local.set $c (i32.const 0))
      (block $cdone (loop $cloop
        (br_if $cdone (i32.ge_u (local.get $c) (local.get $cols4)))
        (local.set $src (i32.add (local.get $in) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
        (local.set $a (v128.load (local.get $src)))
        (local.set $b (v128.load (i32.add (local.get $src) (local.get $inRow))))
        (local.set $e (v128.load (i32.add (local.get $src) (i32.shl (local.get $inRow) (i32.const 1)))))
        (local.set $d (v128.load (i32.add (local.get $src) (i32.mul (local.get $inRow) (i32.const 3)))))
        ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = e0 d0 e1 d1, t3 = e2 d2 e3 d3
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e) (local.get $d)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e) (local.get $d)))
        (local.set $dst (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
        ;; column c of the tile is a0 b0 e0 d0 = low halves of t0 and t2, and so on.
        (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store (i32.add (local.get $dst) (local.get $outRow))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store (i32.add (local.get $dst) (i32.shl (local.get $outRow) (i32.const 1)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store (i32.add (local.get $dst) (i32.mul (local.get $outRow) (i32.const 3)))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $cloop)))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $rloop)))
    ;; The edges: columns past cols4 for the tiled rows, then every column of the rows past rows4.
    (local.set $r (i32.const 0))
    (block $edone (loop $eloop
      (br_if $edone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (select (local.get $cols4) (i32.const 0) (i32.lt_u (local.get $r) (local.get $rows4))))
      (block $edone2 (loop $eloop2
        (br_if $edone2 (i32.ge_u (local.get $c) (local.get $cols)))
        (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
          (f32.load (i32.add (local.get $in) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $eloop2)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eloop))))
;; col2im: adds each row p = (n, oh, ow) of cols [P][filterHeight * filterWidth * channels] back onto the input
;; pixels its patch covers (dx [N][H][W][channels], zeroed here first). The scatter of a transposed convolution, one
;; float at a time but without JavaScript's per-element cost. $geometry points at 12 int32: N, H, W, channels, OH,
;; OW, filterHeight, filterWidth, strideHeight, strideWidth; then padTop, padLeft.
  (func (export "col2im") (param $cols i32) (param $dx i32) (param $geometry i32)
    (local $n i32) (local $h i32) (local $w i32) (local $ch i32) (local $oh i32) (local $ow i32) (local $fh i32) (local $fw i32)
    (local $sh i32) (local $sw i32) (local $pt i32) (local $pl i32)
    (local $b i32) (local $y i32) (local $x i32) (local $kh i32) (local $kw i32) (local $ih i32) (local $iw i32)
    (local $c i32) (local $src i32) (local $dst i32) (local $rowFloats i32) (local $imageFloats i32)
    (local.set $n (i32.load (local.get $geometry)))
    (local.set $h (i32.load offset=4 (local.get $geometry)))
    (local.set $w (i32.load offset=8 (local.get $geometry)))
    (local.set $ch (i32.load offset=12 (local.get $geometry)))
    (local.set $oh (i32.load offset=16 (local.get $geometry)))
    (local.set $ow (i32.load offset=20 (local.get $geometry)))
    (local.set $fh (i32.load offset=24 (local.get $geometry)))
    (local.set $fw (i32.load offset=28 (local.get $geometry)))
    (local.set $sh (i32.load offset=32 (local.get $geometry)))
    (local.set $sw (i32.load offset=36 (local.get $geometry)))
    (local.set $pt (i32.load offset=40 (local.get $geometry)))
    (local.set $pl (i32.load offset=44 (local.get $geometry)))
    (local.set $rowFloats (i32.mul (local.get $w) (local.get $ch)))
    (local.set $imageFloats (i32.mul (local.get $h) (local.get $rowFloats)))
    (memory.fill (local.get $dx) (i32.const 0) (i32.shl (i32.mul (local.get $n) (local.get $imageFloats)) (i32.const 2)))
    (local.set $src (local.get $cols))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $y (i32.const 0))
      (block $ydone (loop $yl
        (br_if $ydone (i32.ge_u (local.get $y) (local.get $oh)))
        (local.set $x (i32.const 0))
        (block $xdone (loop $xl
          (br_if $xdone (i32.ge_u (local.get $x) (local.get $ow)))
          (local.set $kh (i32.const 0))
          (block $khdone (loop $khl
            (br_if $khdone (i32.ge_u (local.get $kh) (local.get $fh)))
            (local.set $ih (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (local.get $kh)) (local.get $pt)))
            (local.set $kw (i32.const 0))
            (block $kwdone (loop $kwl
              (br_if $kwdone (i32.ge_u (local.get $kw) (local.get $fw)))
              (local.set $iw (i32.sub (i32.add (i32.mul (local.get $x) (local.get $sw)) (local.get $kw)) (local.get $pl)))
              ;; Inside the image (unsigned compares also reject negative coordinates): add the tap's channels.
              (if (i32.and (i32.lt_u (local.get $ih) (local.get $h)) (i32.lt_u (local.get $iw) (local.get $w)))
                (then
                  (local.set $dst (i32.add (local.get $dx) (i32.shl
                    (i32.add (i32.add (i32.mul (local.get $b) (local.get $imageFloats)) (i32.mul (local.get $ih) (local.get $rowFloats)))
                             (i32.mul (local.get $iw) (local.get $ch)))
                    (i32.const 2))))
                  (local.set $c (i32.const 0))
                  (block $cdone (loop $cl
                    (br_if $cdone (i32.ge_u (local.get $c) (local.get $ch)))
                    (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))))
                    (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cl)))))
              (local.set $src (i32.add (local.get $src) (i32.shl (local.get $ch) (i32.const 2))))
              (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
              (br $kwl)))
            (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
            (br $khl)))
          (local.set $x (i32.add (local.get $x) (i32.const 1)))
          (br $xl)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
)
