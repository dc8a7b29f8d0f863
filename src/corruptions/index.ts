// Common corruptions (Hendrycks & Dietterich, ICLR 2019): generated from the seed, or read from the published .npy files.
// INTERFACE ONLY — implemented by the corruptions work; evaluate.ts relies on these signatures.
import type { CorruptionType } from '../config/schema.js';

/**
 * Corrupts `n` NHWC images (floats in [0, 1], `shape` = [n, h, w, c]) with `type` at `severity` 1-5 and returns new
 * pixels in [0, 1]. Deterministic: the same inputs and seed give the same bytes. The input is not modified.
 */
export function corruptImages(images: Float32Array, shape: readonly [number, number, number, number], type: CorruptionType, severity: number, seed: number): Float32Array {
  void images;
  void shape;
  void type;
  void severity;
  void seed;
  throw new Error('corruptImages is not implemented yet');
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

/** The published file for this dataset ("cifar10" -> CIFAR-10-C, "cifar100" -> CIFAR-100-C) and type under dataDir, if present. */
export function findCorruptionFile(dataset: string, dataDir: string, type: CorruptionType): CorruptionFile | undefined {
  void dataset;
  void dataDir;
  void type;
  return undefined;
}
