// Common corruptions (Hendrycks & Dietterich, ICLR 2019): generated from the seed, or read from the published .npy files.
// D. Hendrycks, T. Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and Perturbations",
// ICLR 2019, https://arxiv.org/abs/1903.12261. The 18 generated CIFAR-10-C types with the 5-severity parameters of the
// authors' make_cifar_c.py (for 32x32 images; spatial parameters scale with the image side, see image.ts), written
// anew here: noise (noise.ts), blurs (blur.ts), brightness / saturate / contrast (color.ts), fog (fog.ts), pixelate and
// elastic transform (geometric.ts), JPEG (jpeg.ts), snow (snow.ts), spatter (spatter.ts, with the OpenCV steps in
// edges.ts). Frost overlays photographs that ship with the reference code, so it only comes from the published files,
// which npy.ts reads.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CorruptionType, GeneratedCorruptionType } from '../config/schema.js';
import { rng } from '../util/rng.js';
import { defocusBlur, gaussianBlurCorruption, glassBlur, motionBlur, zoomBlur } from './blur.js';
import { brightness, contrast, saturate } from './color.js';
import type { Corruption } from './corruption.js';
import { fog } from './fog.js';
import { elasticTransform, pixelate } from './geometric.js';
import { jpegCompression } from './jpeg.js';
import { gaussianNoise, impulseNoise, shotNoise, speckleNoise } from './noise.js';
import { openCifarC } from './npy.js';
import { snow } from './snow.js';
import { spatter } from './spatter.js';

/** The corruptions made one image at a time (JPEG works on whole batches, see jpeg.ts). */
const PER_IMAGE: Record<Exclude<GeneratedCorruptionType, 'jpeg_compression'>, Corruption> = {
  gaussian_noise: gaussianNoise,
  shot_noise: shotNoise,
  impulse_noise: impulseNoise,
  speckle_noise: speckleNoise,
  defocus_blur: defocusBlur,
  glass_blur: glassBlur,
  motion_blur: motionBlur,
  zoom_blur: zoomBlur,
  gaussian_blur: gaussianBlurCorruption,
  fog,
  brightness,
  contrast,
  saturate,
  elastic_transform: elasticTransform,
  pixelate,
  snow,
  spatter,
};

/**
 * Corrupts `n` NHWC images (floats in [0, 1], `shape` = [n, h, w, c]) with `type` at `severity` 1-5 and returns new
 * pixels in [0, 1]. Deterministic: the same inputs and seed give the same bytes. The input is not modified.
 * Each image has its own random stream, rng('corruption', seed, type, severity, index), so an image's corruption does
 * not depend on the others in the batch (JPEG encodes the batch as one mosaic, with the same per-image result). Images may have 1 (grey) or 3 (RGB) channels; the result is clipped to
 * [0, 1] and anything not finite becomes 0. Frost (a file-only type) cannot be generated and throws like any unknown type.
 */
export function corruptImages(images: Float32Array, shape: readonly [number, number, number, number], type: GeneratedCorruptionType, severity: number, seed: number): Float32Array {
  const [n, h, w, c] = shape;
  if (type !== 'jpeg_compression' && !Object.hasOwn(PER_IMAGE, type)) throw new Error(`unknown corruption type "${String(type)}"`);
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) throw new Error(`corruption severity must be an integer 1-5, got ${severity}`);
  if (![n, h, w, c].every((d) => Number.isInteger(d) && d >= 0) || h < 1 || w < 1) throw new Error(`bad image shape [${shape.join(', ')}]`);
  if (c !== 1 && c !== 3) throw new Error(`corruptions need 1 or 3 channels, got ${c}`);
  const size = h * w * c;
  if (images.length !== n * size) throw new Error(`${images.length} pixel values do not match shape [${shape.join(', ')}]`);

  if (type === 'jpeg_compression') return jpegCompression(images, shape, severity); // already 8-bit values in [0, 1]
  const corruption = PER_IMAGE[type];
  const out = new Float32Array(images.length);
  for (let i = 0; i < n; i++) {
    // A view, not a copy: every corruption returns a new image and leaves its input alone.
    const image = { data: images.subarray(i * size, (i + 1) * size), h, w, c };
    const corrupted = corruption(image, severity, rng('corruption', seed, type, severity, i)).data;
    if (corrupted.length !== size) throw new Error(`${type} returned ${corrupted.length} values for an image of ${size}`);
    for (let j = 0; j < size; j++) {
      const v = corrupted[j]!;
      out[i * size + j] = v > 0 ? (v < 1 ? v : 1) : 0; // NaN fails both tests and becomes 0
    }
  }
  return out;
}

/** A published CIFAR-10-C / CIFAR-100-C file: `<type>.npy`, 5 x 10,000 uint8 images of 32x32x3, severity 1 first. */
export interface CorruptionFile {
  path: string;
  /** Images per severity (10,000 for the published files). */
  perSeverity: number;
  /**
   * Pixels of images `start .. start + count - 1` of `severity` as floats in [0, 1], NHWC. They are the corrupted
   * versions of the dataset's test images in the same order.
   */
  read(severity: number, start: number, count: number): Float32Array;
}

/** Where each dataset's published corruption files live under the data folder. */
export const CORRUPTION_FOLDERS: Readonly<Record<string, string>> = {
  cifar10: 'CIFAR-10-C',
  cifar100: 'CIFAR-100-C',
  'cifar100-coarse': 'CIFAR-100-C',
};

/**
 * The published file for this dataset ("cifar10" -> CIFAR-10-C, "cifar100" -> CIFAR-100-C) and type (a generated one
 * or a file-only one such as frost) under dataDir, if
 * present: `<dataDir>/CIFAR-10-C/<type>.npy` or `<dataDir>/CIFAR-100-C/<type>.npy` (CIFAR-100-C serves cifar100 and
 * cifar100-coarse, whose test images are the same). Other datasets have none. A file that is there but is not uint8
 * (N, 32, 32, 3) with N a multiple of 5 throws an Error naming it.
 */
export function findCorruptionFile(dataset: string, dataDir: string, type: CorruptionType): CorruptionFile | undefined {
  const folder = Object.hasOwn(CORRUPTION_FOLDERS, dataset) ? CORRUPTION_FOLDERS[dataset] : undefined;
  if (!folder || !dataDir) return undefined;
  const path = join(dataDir, folder, `${type}.npy`);
  if (!existsSync(path)) return undefined;
  return openCifarC(path);
}
