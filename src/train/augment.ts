// Standard CIFAR training augmentation (He et al., 2016): zero-pad, crop back at a random offset, flip left-right.
import type { AugmentConfig } from '../config/schema.js';
import type { Rng } from '../util/rng.js';

export function augmentationEnabled(config: AugmentConfig): boolean {
  return config.randomCrop > 0 || config.horizontalFlip;
}

/**
 * A new NHWC batch in which each image is padded by `randomCrop` zero pixels on every side, cropped back to its
 * size at a uniform offset, then mirrored with probability 1/2 (when `horizontalFlip`). Plain loops over the
 * floats: exact, and about 1.5 ms for 128 images of 32x32x3, before the batch becomes a tensor.
 */
export function augmentBatch(images: Float32Array, count: number, imageShape: [number, number, number], config: AugmentConfig, random: Rng): Float32Array {
  const [height, width, channels] = imageShape;
  const pad = config.randomCrop;
  const rowSize = width * channels;
  const imageSize = height * rowSize;
  // Zero-filled, so every pixel the crop takes from the padding stays 0.
  const out = new Float32Array(count * imageSize);
  for (let n = 0; n < count; n++) {
    // The crop's offset from the unpadded image, in [-pad, pad]: output (y, x) reads input (y + dy, x + dx).
    const dy = pad > 0 ? Math.floor(random() * (2 * pad + 1)) - pad : 0;
    const dx = pad > 0 ? Math.floor(random() * (2 * pad + 1)) - pad : 0;
    const flip = config.horizontalFlip && random() < 0.5;
    const base = n * imageSize;
    for (let y = Math.max(0, -dy); y < Math.min(height, height - dy); y++) {
      const toRow = base + y * rowSize;
      const fromRow = base + (y + dy) * rowSize;
      for (let x = 0; x < width; x++) {
        const sourceX = (flip ? width - 1 - x : x) + dx;
        if (sourceX < 0 || sourceX >= width) continue;
        const to = toRow + x * channels;
        const from = fromRow + sourceX * channels;
        for (let k = 0; k < channels; k++) out[to + k] = images[from + k]!;
      }
    }
  }
  return out;
}
