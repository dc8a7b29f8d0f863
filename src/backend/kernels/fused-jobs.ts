// Jobs that chain several WebAssembly calls on one thread, so that what one call writes is still in that core's cache
// when the next reads it. Each is a plain function of the two instances (the product's and the SIMD kernels'), the
// memory and its int32 arguments: gemm.ts runs it on this thread and, as its source text, in the worker threads. So a
// job function must not refer to anything outside its own body. Pointers past 2 GiB arrive negative in a worker (its
// arguments are an Int32Array): a WebAssembly call takes them as the same 32 bits, and an index into the memory is
// taken with >>> (unsigned), never >>.

/** The exports a fused job calls (gemm-wat.mjs's and kernels.wat's), pointers as byte offsets into the memory. */
export interface FusedJobProduct {
  gemm(
    a: number, rsA: number, csA: number, bp: number, bPanel: number, bRow: number, c: number, ldc: number, n: number, k: number,
    row0: number, row1: number, add: number, scratch: number,
  ): void;
  pack_b(b: number, rsB: number, csB: number, k: number, n: number, out: number): void;
  conv_direct(...args: number[]): void;
  input_grad_k3(...args: number[]): void;
  filter_grad_direct(...args: number[]): void;
}
export interface FusedJobKernels {
  winograd_input(x: number, v: number, zeros: number, geometry: number): void;
  winograd4_input(x: number, v: number, zeros: number, geometry: number): void;
  winograd_output(m: number, y: number, bias: number, sink: number, geometry: number): void;
  winograd4_output(m: number, y: number, bias: number, sink: number, geometry: number): void;
  dy_to_planes(dy: number, planes: number, geometry: number): void;
  im2col(x: number, cols: number, geometry: number): void;
  filter_grad_taps(cols: number, dy: number, out: number, taps: number, positions: number, channels: number): void;
  winograd_dy_planes(dy: number, w: number, geometry: number): void;
  winograd4_dy_planes(dy: number, w: number, geometry: number): void;
  max_pool_2x2(x: number, y: number, rows: number, width: number, channels: number): void;
}

/** The arguments of winogradFusedJob, in order (each an int32; pointers are byte offsets). */
export const WINOGRAD_FUSED_ARGS = [
  'tile', 'count', 'group', 'x', 'imageIn', 'y', 'imageOut', 'bias', 'zeros', 'sink', 'v', 'm', 'table', 'geometry', 'u',
  'inChannels', 'outChannels', 'height', 'width', 'outHeight', 'outWidth', 'tilesHigh', 'tilesWide', 'padTop', 'padLeft',
  'relu', 'scratch', 'planeV', 'planeM', 'pooled',
] as const;

/**
 * One thread's share of a Winograd convolution (winograd.ts), images `group` at a time: input transform of the group
 * into `v` [points][tiles][in] (planes planeV floats apart), the points' products with the packed transformed filter `u`
 * (pack_b panels, one plane of 32 * in * ceil(out / 8) bytes per point) into `m` [points][tiles][out] (planes planeM
 * floats apart), then the output transform into y (plus
 * bias, ReLU), and where `pooled` is not 0 its 2x2/2 max pool there. A group's v and m are sized to stay in the core's cache between the three steps, where the unfused
 * convolution writes all of them to memory and reads them back. Every value is computed as the unfused one is (same
 * transforms, same products' sums), so the bits are the same. `x` and `y` point at the share's first image.
 */
export function winogradFusedJob(product: FusedJobProduct, kernels: FusedJobKernels, memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const [
    tile, count, group, x, imageIn, y, imageOut, bias, zeros, sink, v, m, table, geometry, u,
    inChannels, outChannels, height, width, outHeight, outWidth, tilesHigh, tilesWide, padTop, padLeft, relu, scratch, planeV, planeM, pooled,
  ] = Array.from(args);
  const points = (tile! + 2) * (tile! + 2);
  const tilesPerImage = tilesHigh! * tilesWide!;
  const uPlane = 32 * inChannels! * Math.ceil(outChannels! / 8);
  const input = tile === 4 ? kernels.winograd4_input : kernels.winograd_input;
  const output = tile === 4 ? kernels.winograd4_output : kernels.winograd_output;
  for (let first = 0; first < count!; first += group!) {
    const images = Math.min(group!, count! - first);
    const tiles = images * tilesPerImage;
    const ints = new Int32Array(memory.buffer);
    ints.set([images, height!, width!, inChannels!, tilesHigh!, tilesWide!, padTop!, padLeft!, planeV!], geometry! >>> 2);
    input(x! + first * imageIn!, v!, zeros!, geometry!);
    for (let xi = 0; xi < points; xi++) {
      const into = m! + 4 * xi * planeM!;
      product.gemm(v! + 4 * xi * planeV!, 4 * inChannels!, 4, u! + xi * uPlane, 32 * inChannels!, 32, into, 4 * outChannels!, outChannels!,
        inChannels!, 0, tiles, 0, scratch!);
      ints[(table! >>> 2) + xi] = into;
    }
    ints.set([images, outHeight!, outWidth!, outChannels!, tilesHigh!, tilesWide!, relu!], geometry! >>> 2);
    output(table!, y! + first * imageOut!, bias!, sink!, geometry!);
    // The group's 2x2/2 max pool while its output is in cache (winograd.ts's poolAhead).
    if (pooled) kernels.max_pool_2x2(y! + first * imageOut!, pooled + first * (imageOut! / 4), images * (outHeight! / 2), outWidth! / 2, outChannels!);
  }
}

/** The arguments of winogradFilterGradFusedJob, in order. */
export const WINOGRAD_FILTER_GRAD_FUSED_ARGS = [
  'tile', 'part0', 'part1', 'parts', 'batch', 'group', 'x', 'imageIn', 'dy', 'imageDy', 'zeros', 'v', 'w', 'planes', 'packed',
  'geometry', 'partials', 'inChannels', 'outChannels', 'height', 'width', 'outHeight', 'outWidth', 'tilesHigh', 'tilesWide',
  'padTop', 'padLeft', 'planeRows', 'planeCols', 'scratch', 'planeV', 'planeW',
] as const;

/**
 * Parts [part0, part1) of a Winograd filter gradient (winograd.ts): the batch is cut into `parts` runs of images (part p:
 * images [floor(p batch / parts), floor((p + 1) batch / parts))), a number that depends on the shape only, and each
 * part sums its images' products into its own plane of `partials` [parts][points][out][in], `group` images at a time:
 * input transform of x into v [points][tiles][in] (planes planeV floats apart), dy as zero-padded channel planes, their
 * transform into w [points][out][tiles] (planes planeW floats apart), then per point partial (+)= w v. The caller adds the parts up in order, so the bits do not
 * depend on which thread took which part. `planes` must be zero where no dy lands (outside each image's outHeight x
 * outWidth); every group leaves it so.
 */
export function winogradFilterGradFusedJob(product: FusedJobProduct, kernels: FusedJobKernels, memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const [
    tile, part0, part1, parts, batch, group, x, imageIn, dy, imageDy, zeros, v, w, planes, packed, geometry, partials,
    inChannels, outChannels, height, width, outHeight, outWidth, tilesHigh, tilesWide, padTop, padLeft, planeRows, planeCols,
    scratch, planeV, planeW,
  ] = Array.from(args);
  const points = (tile! + 2) * (tile! + 2);
  const tilesPerImage = tilesHigh! * tilesWide!;
  const partBytes = 4 * points * outChannels! * inChannels!;
  const pack = inChannels! % 8 !== 0 || inChannels! > 64;
  const input = tile === 4 ? kernels.winograd4_input : kernels.winograd_input;
  const dyTransform = tile === 4 ? kernels.winograd4_dy_planes : kernels.winograd_dy_planes;
  for (let part = part0!; part < part1!; part++) {
    const begin = Math.floor((part * batch!) / parts!);
    const end = Math.floor(((part + 1) * batch!) / parts!);
    const sum = partials! + part * partBytes;
    for (let first = begin; first < end; first += group!) {
      const images = Math.min(group!, end - first);
      const tiles = images * tilesPerImage;
      const ints = new Int32Array(memory.buffer);
      ints.set([images, height!, width!, inChannels!, tilesHigh!, tilesWide!, padTop!, padLeft!, planeV!], geometry! >>> 2);
      input(x! + first * imageIn!, v!, zeros!, geometry!);
      ints.set([0, outChannels!, outChannels!, images, outHeight!, outWidth!, planeRows!, planeCols!], geometry! >>> 2);
      kernels.dy_to_planes(dy! + first * imageDy!, planes!, geometry!);
      // w's planes planeW floats apart: the padding after out x tiles floats (tiles: this group's).
      ints.set([outChannels!, images, planeRows!, planeCols!, tilesHigh!, tilesWide!, outChannels!, planeW! - outChannels! * tiles], geometry! >>> 2);
      dyTransform(planes!, w!, geometry!);
      for (let xi = 0; xi < points; xi++) {
        const plane = v! + 4 * xi * planeV!;
        if (pack) product.pack_b(plane, 4 * inChannels!, 4, tiles, inChannels!, packed!);
        const b = pack ? packed! : plane;
        product.gemm(w! + 4 * xi * planeW!, 4 * tiles, 4, b, pack ? 32 * tiles : 32, pack ? 32 : 4 * inChannels!,
          sum + 4 * xi * outChannels! * inChannels!, 4 * inChannels!, inChannels!, tiles, 0, outChannels!, first === begin ? 0 : 1, scratch!);
      }
    }
  }
}

/** The arguments of filterGradTapsJob, in order; the last twelve are the `im2col` kernel's geometry but for the image count. */
export const FILTER_GRAD_TAPS_ARGS = [
  'part0', 'part1', 'parts', 'batch', 'group', 'x', 'imageIn', 'dy', 'imageDy', 'cols', 'geometry', 'partials', 'taps', 'channels',
  'positions', 'height', 'width', 'inChannels', 'outHeight', 'outWidth', 'filterHeight', 'filterWidth', 'strideHeight', 'strideWidth',
  'padTop', 'padLeft',
] as const;

/**
 * Parts [part0, part1) of the filter gradient of a convolution with few taps (conv2d-backprop-filter.ts): as in
 * winogradFilterGradFusedJob, the batch is cut into `parts` runs of images, each summed into its own zeroed plane of
 * `partials` [parts][taps][channels], `group` images at a time: their im2col matrix into `cols` (kept in cache), then
 * its product with their rows of dy: the matrix product's (channels a multiple of 8) or filter_grad_taps (else, or
 * without the product: TEMPER_GEMM=0). `positions`: output positions per image. Scratch: the geometry's 12 ints at
 * `geometry`, then the product's 128 bytes at geometry + 64.
 */
export function filterGradTapsJob(product: FusedJobProduct | undefined, kernels: FusedJobKernels, memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const [
    part0, part1, parts, batch, group, x, imageIn, dy, imageDy, cols, geometry, partials, taps, channels, positions,
    height, width, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft,
  ] = Array.from(args);
  for (let part = part0!; part < part1!; part++) {
    const begin = Math.floor((part * batch!) / parts!);
    const end = Math.floor(((part + 1) * batch!) / parts!);
    for (let first = begin; first < end; first += group!) {
      const images = Math.min(group!, end - first);
      new Int32Array(memory.buffer).set([
        images, height!, width!, inChannels!, outHeight!, outWidth!, filterHeight!, filterWidth!, strideHeight!, strideWidth!, padTop!, padLeft!,
      ], geometry! >>> 2);
      kernels.im2col(x! + first * imageIn!, cols!, geometry!);
      const partial = partials! + 4 * part * taps! * channels!;
      if (product && channels! % 8 === 0) {
        // partial [taps][channels] += cols^T dy with the product (fused multiply-adds, 4 taps by 8 channels a block),
        // dy's rows read as they lie; its scratch follows the geometry's 12 ints.
        product.gemm(cols!, 4, 4 * taps!, dy! + first * imageDy!, 32, 4 * channels!, partial, 4 * channels!, channels!, images * positions!, 0, taps!, 1, geometry! + 64);
      } else {
        kernels.filter_grad_taps(cols!, dy! + first * imageDy!, partial, taps!, images * positions!, channels!);
      }
    }
  }
}

/** The arguments of gemmBatchJob, in order. */
export const GEMM_BATCH_ARGS = [
  'first', 'end', 'a', 'aStep', 'rsA', 'csA', 'b', 'bStep', 'rsB', 'csB', 'c', 'cStep', 'ldc', 'm', 'n', 'k', 'add', 'packed', 'scratch',
] as const;

/**
 * Products [first, end) of a batch of matrix products (gemm.ts's gemmBatch): product i is C_i (+)= A_i B_i with A_i at
 * a + i aStep, B_i at b + i bStep, C_i at c + i cStep (byte offsets and strides). Each B_i is packed into `packed`,
 * then the whole product runs on this thread, so the bits do not depend on which thread took it.
 */
export function gemmBatchJob(product: FusedJobProduct, _kernels: FusedJobKernels, _memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const [first, end, a, aStep, rsA, csA, b, bStep, rsB, csB, c, cStep, ldc, m, n, k, add, packed, scratch] = Array.from(args);
  for (let i = first!; i < end!; i++) {
    product.pack_b(b! + i * bStep!, rsB!, csB!, k!, n!, packed!);
    product.gemm(a! + i * aStep!, rsA!, csA!, packed!, 32 * k!, 32, c! + i * cStep!, ldc!, n!, k!, 0, m!, add!, scratch!);
  }
}

/** The arguments of convDirectJob (gemm-wat.mjs's conv_direct), in order. */
export const CONV_DIRECT_ARGS = [
  'x', 'pad', 'out', 'packed', 'bias', 'images', 'height', 'width', 'inChannels', 'outHeight', 'outWidth', 'padTop', 'padLeft',
  'filterHeight', 'filterWidth', 'panels', 'relu', 'pooled',
] as const;

/** One thread's images of a direct convolution (fused-conv.ts's directConv): the product module's conv_direct. */
export function convDirectJob(product: FusedJobProduct, kernels: FusedJobKernels, _memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const values = Array.from(args);
  const [x, pad, out, packed, bias, images, height, width, inChannels, outHeight, outWidth, padTop, padLeft, filterHeight, filterWidth, panels, relu, pooled] = values;
  if (!pooled) {
    product.conv_direct(...values.slice(0, -1));
    return;
  }
  // An image at a time, each pooled (2x2, stride 2) while its output is still in this core's cache.
  const imageIn = 4 * height! * width! * inChannels!;
  const imageOut = 32 * outHeight! * outWidth! * panels!;
  for (let n = 0; n < images!; n++) {
    product.conv_direct(x! + n * imageIn, pad!, out! + n * imageOut, packed!, bias!, 1, height!, width!, inChannels!, outHeight!, outWidth!, padTop!,
      padLeft!, filterHeight!, filterWidth!, panels!, relu!);
    kernels.max_pool_2x2(out! + n * imageOut, pooled! + n * (imageOut / 4), outHeight! / 2, outWidth! / 2, 8 * panels!);
  }
}

/** The arguments of inputGradK3Job (gemm-wat.mjs's input_grad_k3), in order. */
export const INPUT_GRAD_K3_ARGS = [
  'dy', 'filter', 'dx', 'images', 'height', 'width', 'inChannels', 'outHeight', 'outWidth', 'outChannels', 'filterHeight', 'padTop', 'padLeft',
] as const;

/** One thread's images of a few-channel input gradient (conv2d-backprop-input.ts): the product module's input_grad_k3. */
export function inputGradK3Job(product: FusedJobProduct, _kernels: FusedJobKernels, _memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  product.input_grad_k3(...Array.from(args));
}

/** The arguments of filterGradDirectJob, in order. */
export const FILTER_GRAD_DIRECT_ARGS = [
  'part0', 'part1', 'parts', 'batch', 'x', 'imageIn', 'dy', 'imageDy', 'pad', 'partials', 'partialBytes', 'height', 'width', 'inChannels',
  'outHeight', 'outWidth', 'padTop', 'padLeft', 'filterHeight', 'filterWidth', 'panels',
] as const;

/**
 * Parts [part0, part1) of a direct filter gradient (conv2d-backprop-filter.ts): as filterGradTapsJob cuts the batch,
 * each part's images summed by the product module's filter_grad_direct into its own zeroed plane of `partials`
 * (`partialBytes` apart), padding each image into `pad` on the way.
 */
export function filterGradDirectJob(product: FusedJobProduct, _kernels: FusedJobKernels, _memory: WebAssembly.Memory, args: ArrayLike<number>): void {
  const [
    part0, part1, parts, batch, x, imageIn, dy, imageDy, pad, partials, partialBytes, height, width, inChannels, outHeight, outWidth, padTop,
    padLeft, filterHeight, filterWidth, panels,
  ] = Array.from(args);
  for (let part = part0!; part < part1!; part++) {
    const begin = Math.floor((part * batch!) / parts!);
    const end = Math.floor(((part + 1) * batch!) / parts!);
    product.filter_grad_direct(x! + begin * imageIn!, pad!, dy! + begin * imageDy!, partials! + part * partialBytes!, end - begin, height!, width!,
      inChannels!, outHeight!, outWidth!, padTop!, padLeft!, filterHeight!, filterWidth!, panels!);
  }
}
