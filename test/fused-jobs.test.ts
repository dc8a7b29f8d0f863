// The fused jobs' bookkeeping with pointers past 2 GiB, where a wasm heap of more than 2 GiB puts tensors (ResNet-18 or
// ViT training at batch 128): a worker receives them as negative int32s, this thread as plain numbers, and both must
// write the geometry blocks and hand the kernels the same 32 bits. A job once indexed the memory with `>> 2`, which
// turned such a pointer negative and threw "offset is out of bounds" in the middle of a training step. The kernels here
// are stand-ins that record their calls; the memory is a 2 GiB + 64 KiB buffer, which costs no more than the pages the
// test writes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONV_DIRECT_ARGS, FILTER_GRAD_TAPS_ARGS, WINOGRAD_FILTER_GRAD_FUSED_ARGS, WINOGRAD_FUSED_ARGS, convDirectJob, filterGradTapsJob,
  winogradFilterGradFusedJob, winogradFusedJob,
  type FusedJobKernels, type FusedJobProduct,
} from '../src/backend/kernels/fused-jobs.js';

const HIGH = 2 ** 31 + 4096;
const memory = { buffer: new ArrayBuffer(2 ** 31 + 65536) } as unknown as WebAssembly.Memory;
const ints = () => new Int32Array(memory.buffer);

/** Stand-in kernels and product: each call's name and arguments as unsigned 32-bit values, plus the geometry it saw. */
function recorder(): { calls: Array<{ name: string; args: number[]; geometry?: number[] }>; kernels: FusedJobKernels; product: FusedJobProduct } {
  const calls: Array<{ name: string; args: number[]; geometry?: number[] }> = [];
  const record = (name: string, geometryAt?: number) => (...args: number[]) => {
    const unsigned = args.map((a) => a >>> 0);
    const at = geometryAt === undefined ? undefined : unsigned[geometryAt]!;
    calls.push({ name, args: unsigned, ...(at === undefined ? {} : { geometry: Array.from(ints().subarray(at / 4, at / 4 + 12)) }) });
  };
  const kernels = {
    winograd_input: record('input', 3), winograd4_input: record('input4', 3), winograd_output: record('output', 4), winograd4_output: record('output4', 4),
    dy_to_planes: record('dy_to_planes', 2), winograd_dy_planes: record('dy_planes', 2), winograd4_dy_planes: record('dy_planes4', 2),
    im2col: record('im2col', 2), filter_grad_taps: record('filter_grad_taps'), max_pool_2x2: record('max_pool_2x2'),
  } as unknown as FusedJobKernels;
  const product = { gemm: record('gemm'), pack_b: record('pack_b'), conv_direct: record('conv_direct') } as unknown as FusedJobProduct;
  return { calls, kernels, product };
}

/** The argument list as this thread passes it (numbers) and as a worker receives it (an Int32Array: negatives past 2 GiB). */
const forms = (values: number[]): Array<[string, ArrayLike<number>]> => [['as numbers', values], ['as int32', Int32Array.from(values.map((v) => v | 0))]];

describe('fused jobs with pointers past 2 GiB', () => {
  it('winogradFusedJob writes its geometry and table where the pointers say, and hands the kernels the same bits', () => {
    const values: Record<(typeof WINOGRAD_FUSED_ARGS)[number], number> = {
      tile: 2, count: 3, group: 2, x: HIGH + 1024, imageIn: 4 * 16, y: HIGH + 2048, imageOut: 4 * 16, bias: HIGH, zeros: HIGH + 64, sink: HIGH + 128,
      v: HIGH + 8192, m: HIGH + 16384, table: HIGH + 32768, geometry: HIGH + 40960, u: HIGH + 49152, inChannels: 4, outChannels: 4, height: 4,
      width: 4, outHeight: 4, outWidth: 4, tilesHigh: 2, tilesWide: 2, padTop: 1, padLeft: 1, relu: 1, scratch: HIGH + 61440,
      planeV: 48, planeM: 52, pooled: HIGH + 57344,
    };
    for (const [how, args] of forms(WINOGRAD_FUSED_ARGS.map((name) => values[name]))) {
      const { calls, kernels, product } = recorder();
      winogradFusedJob(product, kernels, memory, args);
      const inputs = calls.filter((c) => c.name === 'input');
      assert.deepEqual(inputs.map((c) => c.args[0]), [HIGH + 1024, HIGH + 1024 + 2 * 64], `${how}: one input transform per group of images`);
      // The planes' stride (planeV floats) is the input transform's last geometry value, for a short group too.
      assert.deepEqual(inputs.map((c) => c.geometry!.slice(0, 9)), [[2, 4, 4, 4, 2, 2, 1, 1, 48], [1, 4, 4, 4, 2, 2, 1, 1, 48]], how);
      assert.deepEqual(calls.filter((c) => c.name === 'gemm').slice(0, 2).map((c) => c.args[0]), [HIGH + 8192, HIGH + 8192 + 4 * 48], `${how}: product A planes`);
      const outputs = calls.filter((c) => c.name === 'output');
      assert.deepEqual(outputs.map((c) => [c.args[0], c.args[1], c.args[4]]), [[HIGH + 32768, HIGH + 2048, HIGH + 40960], [HIGH + 32768, HIGH + 2048 + 2 * 64, HIGH + 40960]], how);
      // The last group's table: point xi's products at m + 4 xi planeM.
      const table = Array.from(ints().subarray((HIGH + 32768) / 4, (HIGH + 32768) / 4 + 16), (p) => p >>> 0);
      assert.deepEqual(table, Array.from({ length: 16 }, (_, xi) => HIGH + 16384 + 4 * xi * 52), `${how}: the table`);
      assert.equal(calls.filter((c) => c.name === 'gemm').length, 2 * 16, how);
      // Each group's output pooled (2x2, stride 2) into its place: a quarter of the output's bytes per image.
      assert.deepEqual(calls.filter((c) => c.name === 'max_pool_2x2').map((c) => c.args),
        [[HIGH + 2048, HIGH + 57344, 2 * 2, 2, 4], [HIGH + 2048 + 2 * 64, HIGH + 57344 + 2 * 16, 2, 2, 4]], `${how}: the pools`);
    }
  });

  it('convDirectJob convolves and pools an image at a time where it pools ahead, and its images at once where not', () => {
    const values: Record<(typeof CONV_DIRECT_ARGS)[number], number> = {
      x: HIGH + 1024, pad: HIGH + 8192, out: HIGH + 16384, packed: HIGH + 32768, bias: HIGH + 40960, images: 3, height: 4, width: 6, inChannels: 1,
      outHeight: 4, outWidth: 6, padTop: 1, padLeft: 1, filterHeight: 3, filterWidth: 3, panels: 2, relu: 1, pooled: HIGH + 49152,
    };
    for (const pooled of [values.pooled, 0]) {
      for (const [how, args] of forms(CONV_DIRECT_ARGS.map((name) => (name === 'pooled' ? pooled : values[name])))) {
        const { calls, kernels, product } = recorder();
        convDirectJob(product, kernels, memory, args);
        const imageOut = 4 * 4 * 6 * 16;
        if (pooled) {
          assert.deepEqual(calls.map((c) => [c.name, c.args[0], c.args[c.name === 'conv_direct' ? 2 : 1], c.args[c.name === 'conv_direct' ? 5 : 2]]), [0, 1, 2].flatMap((n) => [
            ['conv_direct', HIGH + 1024 + n * 4 * 24, HIGH + 16384 + n * imageOut, 1],
            ['max_pool_2x2', HIGH + 16384 + n * imageOut, HIGH + 49152 + n * (imageOut / 4), 2],
          ]), how);
        } else {
          assert.deepEqual(calls.map((c) => [c.name, c.args.length, c.args[5]]), [['conv_direct', 17, 3]], how);
        }
      }
    }
  });

  it('winogradFilterGradFusedJob and filterGradTapsJob write their geometry where the pointers say', () => {
    const grad: Record<(typeof WINOGRAD_FILTER_GRAD_FUSED_ARGS)[number], number> = {
      tile: 2, part0: 0, part1: 2, parts: 2, batch: 3, group: 1, x: HIGH + 1024, imageIn: 64, dy: HIGH + 2048, imageDy: 64, zeros: HIGH,
      v: HIGH + 8192, w: HIGH + 16384, planes: HIGH + 24576, packed: HIGH + 32768, geometry: HIGH + 40960, partials: HIGH + 49152, inChannels: 4,
      outChannels: 4, height: 4, width: 4, outHeight: 4, outWidth: 4, tilesHigh: 2, tilesWide: 2, padTop: 1, padLeft: 1, planeRows: 4,
      planeCols: 8, scratch: HIGH + 61440, planeV: 20, planeW: 24,
    };
    for (const [how, args] of forms(WINOGRAD_FILTER_GRAD_FUSED_ARGS.map((name) => grad[name]))) {
      const { calls, kernels, product } = recorder();
      winogradFilterGradFusedJob(product, kernels, memory, args);
      // Part 0 holds image 0, part 1 images 1 and 2 (one a group): three groups, each its three transforms.
      assert.deepEqual(calls.filter((c) => c.name === 'input').map((c) => [c.args[0], c.geometry![0], c.geometry![8]]),
        [[HIGH + 1024, 1, 20], [HIGH + 1088, 1, 20], [HIGH + 1152, 1, 20]], how);
      // Each point's plane of v (planeV floats apart) is packed as the product's B.
      assert.deepEqual(calls.filter((c) => c.name === 'pack_b').slice(0, 2).map((c) => c.args[0]), [HIGH + 8192, HIGH + 8192 + 4 * 20], how);
      assert.deepEqual(calls.filter((c) => c.name === 'dy_to_planes').map((c) => c.geometry!.slice(0, 8)), Array(3).fill([0, 4, 4, 1, 4, 4, 4, 8]), how);
      // The 8th value: padding after each of w's planes (planeW 24 floats, 4 channels x 4 tiles in each).
      assert.deepEqual(calls.filter((c) => c.name === 'dy_planes').map((c) => c.geometry!.slice(0, 8)), Array(3).fill([4, 1, 4, 8, 2, 2, 4, 8]), how);
      assert.deepEqual(calls.filter((c) => c.name === 'gemm').slice(0, 2).map((c) => c.args[0]), [HIGH + 16384, HIGH + 16384 + 4 * 24], `${how}: w's planes`);
      // Each part's sum: its first group stores (add 0), the next adds (add 1), into its own plane of the partials.
      const gemms = calls.filter((c) => c.name === 'gemm');
      assert.deepEqual(gemms.filter((_, i) => i % 16 === 0).map((c) => [c.args[6], c.args[12]]), [[HIGH + 49152, 0], [HIGH + 49152 + 4 * 16 * 16, 0], [HIGH + 49152 + 4 * 16 * 16, 1]], how);
    }
    const taps: Record<(typeof FILTER_GRAD_TAPS_ARGS)[number], number> = {
      part0: 1, part1: 2, parts: 2, batch: 4, group: 1, x: HIGH + 1024, imageIn: 64, dy: HIGH + 2048, imageDy: 256, cols: HIGH + 8192,
      geometry: HIGH + 40960, partials: HIGH + 49152, taps: 9, channels: 4, positions: 16, height: 4, width: 4, inChannels: 1, outHeight: 4,
      outWidth: 4, filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1,
    };
    for (const [how, args] of forms(FILTER_GRAD_TAPS_ARGS.map((name) => taps[name]))) {
      const { calls, kernels, product } = recorder();
      filterGradTapsJob(product, kernels, memory, args);
      // Part 1 of 2 over 4 images: images 2 and 3, a group each, into the second plane of the partials.
      assert.deepEqual(calls.filter((c) => c.name === 'im2col').map((c) => [c.args[0], ...c.geometry!]), [
        [HIGH + 1024 + 2 * 64, 1, 4, 4, 1, 4, 4, 3, 3, 1, 1, 1, 1], [HIGH + 1024 + 3 * 64, 1, 4, 4, 1, 4, 4, 3, 3, 1, 1, 1, 1],
      ], how);
      assert.deepEqual(calls.filter((c) => c.name === 'filter_grad_taps').map((c) => c.args), [
        [HIGH + 8192, HIGH + 2048 + 2 * 256, HIGH + 49152 + 4 * 36, 9, 16, 4], [HIGH + 8192, HIGH + 2048 + 3 * 256, HIGH + 49152 + 4 * 36, 9, 16, 4],
      ], how);
    }
  });
});
